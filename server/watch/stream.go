package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// stream is one client's watch: a filtered view of the upstreams for its kinds and namespaces.
type stream struct {
	hub  *Hub
	user identity.User
	req  *request
	q    *queue

	kinds  []*kindState
	byName map[string]*kindState

	// perm is owned by the Run goroutine (and Open before it).
	perm map[permKey]*permState

	// refused are the error messages for kinds the user may not list and watch at all (sent
	// first; those kinds get no upstream and no SYNCED).
	refused []*entry

	mu sync.Mutex // guards kindState.pending and kindState.rv (feeds run on upstream goroutines)
}

type kindState struct {
	res           cluster.Resource
	ups           []*upstream
	feeds         []*kindFeed
	denied        []string // explicit namespaces refused at open
	deniedReasons []string
	pending       int    // feeds still owing their snapshot
	rv            uint64 // the smallest snapshot resourceVersion of its feeds
}

type permKey struct{ kind, ns string } // ns "*": cluster-wide answer for a namespaced kind

type permState struct {
	allowed  bool
	until    time.Time
	reported bool // the client was told it lost (or never had) access here
}

func newStream(h *Hub, u identity.User, r *request) *stream {
	s := &stream{hub: h, user: u, req: r, q: newQueue(), byName: map[string]*kindState{}, perm: map[permKey]*permState{}}
	for _, res := range r.kinds {
		ks := &kindState{res: res}
		s.kinds = append(s.kinds, ks)
		s.byName[res.Name] = ks
	}
	return s
}

// refuse drops kind from the stream and queues a forbidden error for it instead. Reopening the
// channel asks again: a grant that arrives later does not add the kind to a running stream.
func (s *stream) refuse(kind, message string) {
	s.kinds = slices.DeleteFunc(s.kinds, func(ks *kindState) bool { return ks.res.Name == kind })
	delete(s.byName, kind)
	for k := range s.perm {
		if k.kind == kind {
			delete(s.perm, k)
		}
	}
	s.refused = append(s.refused, s.forbidden(kind, "", message))
}

// may asks whether the user may list and watch res in ns ("" = cluster-wide).
func (s *stream) may(ctx context.Context, res cluster.Resource, ns string) (bool, string, error) {
	for _, verb := range []string{"list", "watch"} {
		d, err := s.req.cluster.Can(ctx, s.user, res.Access(verb, ns))
		if err != nil {
			return false, "", err
		}
		if !d.Allowed {
			return false, d.Reason, nil
		}
	}
	return true, "", nil
}

// Run implements mux.Runner.
func (s *stream) Run(ctx context.Context, ch mux.Channel) error {
	s.hub.streams.Inc()
	defer s.hub.streams.Dec()
	defer s.detach()
	for _, e := range s.refused {
		s.q.push(e)
	}
	if err := s.attach(); err != nil {
		return err
	}
	for _, ks := range s.kinds {
		for _, ns := range ks.denied {
			s.q.push(s.forbidden(ks.res.Name, ns, "not allowed to list and watch "+ks.res.Name+" in "+ns))
		}
	}
	return s.loop(ctx, ch)
}

func (s *stream) forbidden(kind, ns, msg string) *entry {
	return &entry{key: "forbidden\x00" + kind + "\x00" + ns, marker: true, typ: ErrorMsg,
		msg: errorMessage(mux.CodeForbidden, msg, kind, ns)}
}

// attach joins the upstreams of every kind, resuming from the request's resourceVersion when
// every upstream of the kind still has the history for it, else with RESET and a snapshot.
func (s *stream) attach() error {
	for _, ks := range s.kinds {
		scopes := []string{""}
		if ks.res.Namespaced && s.req.namespaces != nil {
			scopes = slices.DeleteFunc(slices.Clone(s.req.namespaces), func(ns string) bool { return slices.Contains(ks.denied, ns) })
		}
		for _, ns := range scopes {
			u, ok := s.hub.acquire(upKey{cluster: s.req.cluster.ID(), kind: ks.res.Name, namespace: ns}, ks.res, s.req.cluster.Dynamic())
			if !ok {
				return mux.Errorf(mux.CodeShuttingDown, "the server is stopping")
			}
			ks.ups = append(ks.ups, u)
			ks.feeds = append(ks.feeds, &kindFeed{s: s, ks: ks, up: u})
		}
		// Lock every upstream of the kind (in key order, the only place more than one is held)
		// so the resume decision and the attachment see the same histories.
		for _, u := range ks.ups {
			u.mu.Lock()
		}
		from := s.req.resumeFrom(ks.res.Name)
		resume := from > 0
		for _, u := range ks.ups {
			resume = resume && u.canResumeLocked(from)
		}
		if from > 0 && !resume {
			s.q.push(&entry{key: "reset\x00" + ks.res.Name, marker: true, typ: Reset, msg: resetMessage(ks.res.Name)})
		}
		s.mu.Lock()
		if resume {
			ks.pending = 0
		} else {
			ks.pending = len(ks.feeds)
		}
		s.mu.Unlock()
		var rv uint64
		for i, u := range ks.ups {
			u.attachLocked(ks.feeds[i], resume, from)
			if i == 0 || u.rv < rv {
				rv = u.rv
			}
		}
		for _, u := range ks.ups {
			u.mu.Unlock()
		}
		if resume || len(ks.feeds) == 0 {
			s.q.push(&entry{key: "synced\x00" + ks.res.Name, marker: true, typ: Synced, msg: syncedMessage(ks.res.Name, max(rv, from))})
		}
	}
	return nil
}

func (s *stream) detach() {
	for _, ks := range s.kinds {
		for i, u := range ks.ups {
			u.detach(ks.feeds[i])
			s.hub.release(u)
		}
	}
}

// loop sends pending messages as the channel takes them, dropping what the user may not see.
// While the channel has room, TrySend hands messages over without waiting. When it is full, the
// oldest pending message waits in Send (the channel wakes it as soon as there is room) and
// everything behind it keeps coalescing per object, so a slow client costs at most one message in
// flight plus one pending entry per object.
func (s *stream) loop(ctx context.Context, ch mux.Channel) error {
	recheck := time.NewTicker(s.hub.opts.Recheck)
	defer recheck.Stop()
	send := func(b []byte) bool { return ch.TrySend(mux.Message{Type: mux.Text, Data: b}) }
	for {
		if e, ok := s.q.front(); ok {
			if !e.marker && !e.withdrawn {
				ok, err := s.allowed(ctx, s.byName[e.kind], e.ns)
				if err != nil {
					// Permission unknown (apiserver away): keep the change and ask again soon.
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(500 * time.Millisecond):
					}
					continue
				}
				if !ok {
					s.q.take(e.key, nil)
					continue
				}
			}
			if s.q.take(e.key, send) {
				continue
			}
			if b, ok := s.q.pop(e.key); ok {
				if err := ch.Send(ctx, mux.Message{Type: mux.Text, Data: b}); err != nil {
					return nil // the channel is closing
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.q.wake:
		case <-recheck.C:
			s.recheck(ctx)
		}
	}
}

// allowed answers for the flush loop from the stream's own answers (a map lookup: no clock, no
// lock, no access-cache call per message). recheck keeps the answers fresh, so only a namespace
// seen for the first time asks the cluster here.
func (s *stream) allowed(ctx context.Context, ks *kindState, ns string) (bool, error) {
	if ks == nil {
		return false, nil
	}
	if ks.res.Namespaced && s.req.namespaces == nil {
		// Every namespace the user may see: a cluster-wide grant covers them all.
		ok, err := s.known(ctx, ks, "*")
		if err != nil || ok {
			return ok, err
		}
	}
	if !ks.res.Namespaced {
		ns = ""
	}
	return s.known(ctx, ks, ns)
}

// known is the stream's last answer for (kind, ns), asking only when there is none yet.
func (s *stream) known(ctx context.Context, ks *kindState, ns string) (bool, error) {
	if p, ok := s.perm[permKey{ks.res.Name, ns}]; ok {
		return p.allowed, nil
	}
	return s.check(ctx, ks, ns, time.Now())
}

// check returns the answer for (kind, ns), asking again when it expires before horizon.
func (s *stream) check(ctx context.Context, ks *kindState, ns string, horizon time.Time) (bool, error) {
	k := permKey{ks.res.Name, ns}
	p, ok := s.perm[k]
	if ok && horizon.Before(p.until) {
		return p.allowed, nil
	}
	now := time.Now()
	askNS := ns
	if ns == "*" {
		askNS = ""
	}
	allowed, _, err := s.may(ctx, ks.res, askNS)
	if err != nil {
		return false, err
	}
	if !ok {
		p = &permState{}
		s.perm[k] = p
	}
	was := p.allowed
	p.allowed, p.until = allowed, now.Add(s.hub.opts.Recheck)
	switch {
	case was && !allowed:
		p.reported = true
		where := ns
		if ns == "*" {
			where = "" // cluster-wide access ended; namespaces still granted keep streaming
		}
		s.q.push(s.forbidden(ks.res.Name, where, fmt.Sprintf("access to %s in %s was revoked", ks.res.Name, nsLabel(ns))))
		s.withdraw(ks, ns)
	case !was && allowed && ok:
		// Access (re)granted: what the client was not shown, it gets now.
		s.resnapshot(ks, ns)
	}
	return allowed, nil
}

func nsLabel(ns string) string {
	if ns == "" || ns == "*" {
		return "the cluster"
	}
	return ns
}

// withdraw queues a DELETED for every object of ns ("*" or "": all) the client may hold: access
// ended, so the client's view empties, and when access returns the snapshot that follows is the
// whole truth (an object deleted meanwhile is not left behind in the client's view).
func (s *stream) withdraw(ks *kindState, ns string) {
	if ns == "*" {
		ns = ""
	}
	for _, u := range ks.ups {
		sel := s.req.selector
		for _, o := range u.objectsIn(ns) {
			if sel.Matches(o.labels) {
				s.q.push(&entry{key: o.qkey, kind: o.kind, ns: o.ns, typ: Deleted, o: o, withdrawn: true})
			}
		}
	}
}

// resnapshot queues the current objects of ns ("*" or "": all) for the client.
func (s *stream) resnapshot(ks *kindState, ns string) {
	if ns == "*" {
		ns = ""
	}
	for i, u := range ks.ups {
		sel := s.req.selector
		for _, o := range u.objectsIn(ns) {
			if sel.Matches(o.labels) {
				ks.feeds[i].push(Added, o)
			}
		}
	}
}

// recheck re-asks every permission the stream relies on whose answer expires before the next
// recheck, so a revoked RoleBinding is noticed (and reported) within about the access TTL plus
// one interval, even when nothing changes in that namespace.
func (s *stream) recheck(ctx context.Context) {
	horizon := time.Now().Add(s.hub.opts.Recheck / 2)
	for k := range s.perm {
		ks := s.byName[k.kind]
		if ks == nil {
			continue
		}
		if _, err := s.check(ctx, ks, k.ns, horizon); err != nil && !errors.Is(err, context.Canceled) {
			s.hub.log.Debug("permission recheck failed", "user", s.user.Name, "kind", k.kind, "namespace", k.ns, "err", err)
		}
	}
}

// kindFeed is a stream's attachment to one upstream of one kind.
type kindFeed struct {
	s  *stream
	ks *kindState
	up *upstream
}

func (f *kindFeed) push(typ string, o *object) {
	f.s.q.push(&entry{key: o.qkey, kind: o.kind, ns: o.ns, typ: typ, o: o})
}

func (f *kindFeed) deliver(c *change) {
	sel := f.s.req.selector
	now := sel.Matches(c.obj.labels)
	before := c.had && sel.Matches(c.old)
	switch {
	case c.typ == Added && now, c.typ == Deleted && before, c.typ == Modified && now && before:
		f.push(c.typ, c.obj)
	case c.typ == Modified && now && !before:
		f.push(Added, c.obj) // it entered the selection
	case c.typ == Modified && !now && before:
		f.push(Deleted, c.obj) // it left the selection
	}
}

func (f *kindFeed) snapshot(objs []*object, rv uint64) {
	sel := f.s.req.selector
	for _, o := range objs {
		if sel.Matches(o.labels) {
			f.push(Added, o)
		}
	}
	s := f.s
	s.mu.Lock()
	if f.ks.rv == 0 || rv < f.ks.rv {
		f.ks.rv = rv
	}
	f.ks.pending--
	done := f.ks.pending == 0
	rvAll := f.ks.rv
	s.mu.Unlock()
	if done {
		s.q.push(&entry{key: "synced\x00" + f.ks.res.Name, marker: true, typ: Synced, msg: syncedMessage(f.ks.res.Name, rvAll)})
	}
}

func (f *kindFeed) problem(err error) {
	key := "problem\x00" + f.up.key.String()
	if err == nil {
		return
	}
	code := mux.CodeUnavailable
	if apierrors.IsForbidden(err) {
		code = mux.CodeForbidden
	}
	f.s.q.push(&entry{key: key, marker: true, typ: ErrorMsg, msg: errorMessage(code, err.Error(), f.ks.res.Name, f.up.key.namespace)})
}
