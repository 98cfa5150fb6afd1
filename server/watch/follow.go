package watch

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Query is what a server-side follower watches: kinds (as the watch channel names them: pods,
// deployments, ...) in explicit namespaces, filtered by a label selector.
type Query struct {
	Kinds         []string
	Namespaces    []string
	LabelSelector string
}

// Event is one message of a follow, decoded: an object change (Added, Modified, Deleted, with
// Object), Synced after a kind's initial objects, Reset, or ErrorMsg (Code, Message and the
// Namespace it concerns; the follow goes on, as a browser's stream does).
type Event struct {
	Type      string
	Kind      string
	Object    *unstructured.Unstructured
	Code      string
	Message   string
	Namespace string
}

// Follow is a browser's watch for a server-side consumer: the same request checks, the same
// shared upstreams and per-user filtering and permission re-checks, delivering to fn instead of a
// channel. u must be allowed to list and watch every kind in every namespace of q, else nothing
// starts and the error is forbidden (a consumer wants all it asked for, or to do without).
//
// fn is called on the follow's goroutine, one event at a time: first every object, a Synced per
// kind, then the changes, until ctx ends, the hub closes or stop is called; stop waits until fn
// is no longer called. When fn is slow, the follow's pending changes coalesce per object as a
// slow browser's do (the latest state of each object wins), so a follow never holds more than
// one pending change per object it watches.
func (k *Kind) Follow(ctx context.Context, u identity.User, clusterName string, q Query, fn func(Event)) (stop func(), err error) {
	p := url.Values{
		"cluster": {clusterName}, "kinds": {strings.Join(q.Kinds, ",")},
		"namespaces": {strings.Join(q.Namespaces, ",")}, "labelSelector": {q.LabelSelector},
	}
	if len(q.Namespaces) == 0 {
		return nil, mux.Errorf(mux.CodeBadParams, "namespaces: a follow names its namespaces")
	}
	s, err := k.open(ctx, mux.OpenRequest{User: u, Params: p})
	if err != nil {
		return nil, err
	}
	if len(s.refused) > 0 {
		return nil, mux.Errorf(mux.CodeForbidden, "%s", s.refused[0].msgText())
	}
	for _, ks := range s.kinds {
		if len(ks.denied) > 0 {
			return nil, mux.Errorf(mux.CodeForbidden, "%s may not list and watch %s in %s: %s",
				u.Name, ks.res.Name, strings.Join(ks.denied, ", "), ks.deniedReasons[0])
		}
	}
	h := k.hub
	fctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(h.ctx, cancel)
	h.mu.Lock()
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		unhook()
		cancel()
		return nil, mux.Errorf(mux.CodeShuttingDown, "the server is stopping")
	}
	h.wg.Add(1) // under h.mu after the check, so Close never waits on a follow it did not see
	h.mu.Unlock()
	h.follows.Inc()
	done := make(chan struct{})
	go func() {
		defer h.wg.Done()
		defer close(done)
		defer unhook()
		if err := s.Run(fctx, followChannel{fn: fn}); err != nil {
			h.log.Debug("follow ended", "user", u.Name, "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

// followChannel is the mux.Channel a follow's stream sends on: it decodes each message and hands
// it to fn.
type followChannel struct{ fn func(Event) }

func (c followChannel) Recv(ctx context.Context) (mux.Message, error) {
	<-ctx.Done()
	return mux.Message{}, ctx.Err()
}

// TrySend refuses, so the stream takes every message off its queue before Send: fn never runs
// under the queue's lock, which the upstreams take to fan changes out.
func (c followChannel) TrySend(mux.Message) bool { return false }

func (c followChannel) Send(_ context.Context, m mux.Message) error {
	var w struct {
		Type      string          `json:"type"`
		Kind      string          `json:"kind"`
		Object    json.RawMessage `json:"object"`
		Code      string          `json:"code"`
		Message   string          `json:"message"`
		Namespace string          `json:"namespace"`
	}
	if err := json.Unmarshal(m.Data, &w); err != nil {
		return nil // every message is the stream's own encoding; nothing to tell anyone
	}
	e := Event{Type: w.Type, Kind: w.Kind, Code: w.Code, Message: w.Message, Namespace: w.Namespace}
	if len(w.Object) > 0 {
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(w.Object); err != nil {
			return nil
		}
		e.Object = o
	}
	c.fn(e)
	return nil
}

func (c followChannel) CloseWithError(error)  {}
func (c followChannel) CloseConn(int, string) {}

// msgText is an error marker's message text.
func (e *entry) msgText() string {
	var w struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(e.msg, &w)
	return w.Message
}
