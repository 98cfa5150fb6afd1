package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	kwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/yardhq/yard/server/cluster"
)

// upKey names one shared upstream watch: (cluster, kind, namespace scope). Namespace "" is every
// namespace (or a cluster-scoped kind).
type upKey struct {
	cluster   string
	kind      string
	namespace string
}

func (k upKey) String() string {
	ns := k.namespace
	if ns == "" {
		ns = "*"
	}
	return k.cluster + "/" + k.kind + "/" + ns
}

// object is the upstream's current state of one object.
type object struct {
	key    string // namespace/name
	qkey   string // kind + "\x00" + key: every stream's queue key for it
	kind   string // the resource name messages carry
	ns     string
	labels labels.Set
	rv     uint64
	raw    []byte // JSON, managedFields stripped
	added  []byte // prebuilt ADDED message, shared by every snapshot
	// modified and deleted are its other messages, encoded on first use and then shared by every
	// stream (a change's own type, or the type a stream's coalescing turned it into).
	modified, deleted atomic.Pointer[[]byte]
}

// message returns the object's message of type typ, encoding it at most once.
func (o *object) message(typ string) []byte {
	var p *atomic.Pointer[[]byte]
	switch typ {
	case Added:
		return o.added
	case Modified:
		p = &o.modified
	default:
		p = &o.deleted
	}
	if b := p.Load(); b != nil {
		return *b
	}
	b := objectMessage(typ, o.kind, o.raw)
	if !p.CompareAndSwap(nil, &b) {
		return *p.Load()
	}
	return b
}

// historyLimit bounds an upstream's history by changes and by the bytes of their objects
// (each object's JSON; the messages made from it, when a feed needs them, are about as large
// again), whichever is reached first.
type historyLimit struct{ changes, bytes int }

// trimHistoryLocked drops the oldest changes past the limit. It trims in batches, a quarter of
// the limit at a time, so a full history does not cost a copy per event; resume points before
// the new base get a fresh snapshot.
func (u *upstream) trimHistoryLocked() {
	lim := u.maxHist
	if len(u.history) <= lim.changes+lim.changes/4 && u.histLen <= lim.bytes+lim.bytes/4 {
		return
	}
	drop := max(0, len(u.history)-lim.changes)
	for _, c := range u.history[:drop] {
		u.histLen -= len(c.obj.raw)
	}
	for drop < len(u.history) && u.histLen > lim.bytes {
		u.histLen -= len(u.history[drop].obj.raw)
		drop++
	}
	if drop == 0 {
		return
	}
	u.base = u.history[drop-1].rv
	u.history = append(make([]*change, 0, len(u.history)-drop+lim.changes/4+1), u.history[drop:]...)
}

// change is one event in the upstream's history and fan-out.
type change struct {
	typ string
	obj *object
	old labels.Set // labels before this change
	had bool       // the object existed before this change
	rv  uint64
}

// feed is one client stream's attachment to an upstream. Upstreams call it with their lock
// held, so it must never block.
type feed interface {
	// deliver hands over a change as it happens.
	deliver(c *change)
	// snapshot hands over the upstream's objects after its first successful list (when the feed
	// attached before it), then synced(rv).
	snapshot(objs []*object, rv uint64)
	// problem reports that the upstream cannot currently list or watch (nil: recovered).
	problem(err error)
}

// upstream is one list+watch against the apiserver with Yard's own credentials, holding the
// current objects and a bounded history of changes, fanned out to every attached feed.
type upstream struct {
	key        upKey
	res        cluster.Resource
	apiVersion string // of res, stamped on every object
	client     dynamic.ResourceInterface
	log        *slog.Logger
	maxHist    historyLimit
	onEvent    func() // metrics hook

	ready chan struct{} // closed after the first successful list

	mu      sync.Mutex
	synced  bool
	rv      uint64 // newest resourceVersion seen (list, event or bookmark)
	base    uint64 // history holds every change with rv > base
	store   map[string]*object
	history []*change
	histLen int           // bytes of the objects in history
	feeds   map[feed]bool // value: has had its snapshot
	lastErr error

	// hub bookkeeping, guarded by the hub's lock
	refs   int
	idle   *time.Timer
	cancel context.CancelFunc
}

func newUpstream(key upKey, res cluster.Resource, dyn dynamic.Interface, maxHist historyLimit, log *slog.Logger) *upstream {
	var ri dynamic.ResourceInterface
	if res.Namespaced && key.namespace != "" {
		ri = dyn.Resource(res.GVR).Namespace(key.namespace)
	} else {
		ri = dyn.Resource(res.GVR)
	}
	return &upstream{
		key: key, res: res, apiVersion: res.GVR.GroupVersion().String(), client: ri, log: log, maxHist: maxHist,
		ready: make(chan struct{}),
		store: map[string]*object{},
		feeds: map[feed]bool{},
	}
}

// attach adds f. With resume (fromRV > 0, the caller checked canResume under the same lock),
// f gets every change since fromRV; otherwise f gets the current objects (now if synced, else
// after the first list).
func (u *upstream) attachLocked(f feed, resume bool, fromRV uint64) {
	if !u.synced {
		u.feeds[f] = false
		if u.lastErr != nil {
			f.problem(u.lastErr)
		}
		return
	}
	u.feeds[f] = true
	if resume {
		for _, c := range u.history {
			if c.rv > fromRV {
				f.deliver(c)
			}
		}
		return
	}
	f.snapshot(u.objectsLocked(), u.rv)
}

// canResumeLocked reports whether the history holds every change after rv.
func (u *upstream) canResumeLocked(rv uint64) bool {
	return u.synced && rv >= u.base
}

func (u *upstream) detach(f feed) {
	u.mu.Lock()
	delete(u.feeds, f)
	u.mu.Unlock()
}

func (u *upstream) objectsLocked() []*object {
	out := make([]*object, 0, len(u.store))
	for _, o := range u.store {
		out = append(out, o)
	}
	return out
}

// objectsIn returns the current objects of namespace ns ("" = all).
func (u *upstream) objectsIn(ns string) []*object {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*object
	for _, o := range u.store {
		if ns == "" || o.ns == ns {
			out = append(out, o)
		}
	}
	return out
}

// run lists and watches until ctx ends, re-listing when the watch cannot resume (410 Gone, an
// apiserver that lost its watch cache) and retrying with backoff when the apiserver is away.
func (u *upstream) run(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := u.listAndWatch(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			u.setProblem(err)
			u.log.Debug("shared watch interrupted", "watch", u.key.String(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff + rand.N(backoff/2)):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
	}
}

func (u *upstream) setProblem(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if (err == nil) == (u.lastErr == nil) && (err == nil || err.Error() == u.lastErr.Error()) {
		return
	}
	u.lastErr = err
	for f := range u.feeds {
		f.problem(err)
	}
}

// errRelist ends a watch whose resume point is gone: list again.
var errRelist = errors.New("resource version expired")

func (u *upstream) listAndWatch(ctx context.Context) error {
	items, rv, err := u.list(ctx)
	if err != nil {
		return err
	}
	u.replace(items, rv)
	u.setProblem(nil)
	for {
		err := u.watch(ctx)
		if errors.Is(err, errRelist) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The apiserver went away (restart, network): retry the watch from where it
			// stopped, and only re-list if that is no longer possible.
			u.setProblem(err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(300*time.Millisecond + rand.N(200*time.Millisecond)):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (u *upstream) list(ctx context.Context) ([]*object, uint64, error) {
	var out []*object
	opts := metav1.ListOptions{Limit: 500}
	var rv string
	for {
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		l, err := u.client.List(lctx, opts)
		cancel()
		if err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", u.key, err)
		}
		for i := range l.Items {
			out = append(out, u.newObject(&l.Items[i]))
		}
		rv = l.GetResourceVersion()
		if l.GetContinue() == "" {
			break
		}
		opts.Continue = l.GetContinue()
	}
	n, _ := strconv.ParseUint(rv, 10, 64)
	return out, n, nil
}

func (u *upstream) newObject(obj *unstructured.Unstructured) *object {
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	// List items and informer objects can come without apiVersion and kind; a client holding a
	// bare object needs them (to show it, to send it back), and the upstream knows both.
	if u.apiVersion != "" {
		obj.SetAPIVersion(u.apiVersion)
	}
	if u.res.Kind != "" {
		obj.SetKind(u.res.Kind)
	}
	raw, _ := json.Marshal(obj.Object)
	rv, _ := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	// The object is kept once, inside its ADDED message; raw is a window on it.
	added := objectMessage(Added, u.res.Name, raw)
	key := obj.GetNamespace() + "/" + obj.GetName()
	return &object{
		key:    key,
		qkey:   u.res.Name + "\x00" + key,
		kind:   u.res.Name,
		ns:     obj.GetNamespace(),
		labels: labels.Set(obj.GetLabels()),
		rv:     rv,
		raw:    added[len(added)-len(raw)-1 : len(added)-1 : len(added)-1],
		added:  added,
	}
}

// replace installs a fresh list: feeds that have their snapshot get the difference as changes
// (so a stream converges to the new list without starting over), feeds still waiting get the
// snapshot. The history restarts at rv: older resume points get a fresh snapshot.
func (u *upstream) replace(objs []*object, rv uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fresh := make(map[string]*object, len(objs))
	for _, o := range objs {
		fresh[o.key] = o
	}
	var diff []*change
	if u.synced {
		for k, old := range u.store {
			if _, ok := fresh[k]; !ok {
				diff = append(diff, u.newChange(Deleted, old, old.labels, rv))
			}
		}
		for k, o := range fresh {
			old, ok := u.store[k]
			switch {
			case !ok:
				diff = append(diff, u.newChange(Added, o, nil, rv))
			case old.rv != o.rv:
				diff = append(diff, u.newChange(Modified, o, old.labels, rv))
			}
		}
	}
	u.store = fresh
	u.history, u.histLen = nil, 0
	u.base = rv
	u.rv = rv
	first := !u.synced
	u.synced = true
	for f, hasSnapshot := range u.feeds {
		if !hasSnapshot {
			u.feeds[f] = true
			f.snapshot(objs, rv)
			continue
		}
		for _, c := range diff {
			f.deliver(c)
		}
	}
	if first {
		close(u.ready)
	}
}

func (u *upstream) newChange(typ string, o *object, old labels.Set, rv uint64) *change {
	return &change{typ: typ, obj: o, old: old, had: typ != Added, rv: rv}
}

func (u *upstream) watch(ctx context.Context) error {
	u.mu.Lock()
	rv := u.rv
	u.mu.Unlock()
	timeout := int64(300 + rand.N(300))
	w, err := u.client.Watch(ctx, metav1.ListOptions{
		ResourceVersion:     strconv.FormatUint(rv, 10),
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	})
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return errRelist
		}
		return fmt.Errorf("watch %s: %w", u.key, err)
	}
	defer w.Stop()
	first := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // the server ended the watch (timeout): resume from u.rv
			}
			if first {
				u.setProblem(nil)
				first = false
			}
			if err := u.apply(ev); err != nil {
				return err
			}
		}
	}
}

func (u *upstream) apply(ev kwatch.Event) error {
	switch ev.Type {
	case kwatch.Error:
		status := apierrors.FromObject(ev.Object)
		if apierrors.IsResourceExpired(status) || apierrors.IsGone(status) {
			return errRelist
		}
		return fmt.Errorf("watch %s: %w", u.key, status)
	case kwatch.Bookmark:
		if obj, ok := ev.Object.(*unstructured.Unstructured); ok {
			if rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64); err == nil {
				u.mu.Lock()
				u.rv = max(u.rv, rv)
				u.mu.Unlock()
			}
		}
		return nil
	}
	obj, ok := ev.Object.(*unstructured.Unstructured)
	if !ok {
		return fmt.Errorf("watch %s: unexpected object %T", u.key, ev.Object)
	}
	o := u.newObject(obj)
	u.mu.Lock()
	defer u.mu.Unlock()
	old, had := u.store[o.key]
	var c *change
	switch ev.Type {
	case kwatch.Added, kwatch.Modified:
		typ := Modified
		var oldLabels labels.Set
		if had {
			oldLabels = old.labels
		} else {
			typ = Added
		}
		u.store[o.key] = o
		c = u.newChange(typ, o, oldLabels, o.rv)
	case kwatch.Deleted:
		if !had {
			return nil
		}
		delete(u.store, o.key)
		c = u.newChange(Deleted, o, old.labels, o.rv)
	default:
		return nil
	}
	u.rv = max(u.rv, o.rv)
	u.history = append(u.history, c)
	u.histLen += len(c.obj.raw)
	u.trimHistoryLocked()
	if u.onEvent != nil {
		u.onEvent()
	}
	for f, hasSnapshot := range u.feeds {
		if hasSnapshot {
			f.deliver(c)
		}
	}
	return nil
}
