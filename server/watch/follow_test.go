package watch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kwatch "k8s.io/apimachinery/pkg/watch"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// follower records what a follow hands it.
type follower struct {
	mu   sync.Mutex
	got  []Event
	wake chan struct{}
}

func newFollower() *follower { return &follower{wake: make(chan struct{}, 1)} }

func (f *follower) on(e Event) {
	f.mu.Lock()
	f.got = append(f.got, e)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *follower) events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func (f *follower) waitFor(t *testing.T, what string, pred func([]Event) bool) []Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if evs := f.events(); pred(evs) {
			return evs
		}
		select {
		case <-f.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %+v", what, f.events())
		}
	}
}

func hasEvent(typ, name string) func([]Event) bool {
	return func(evs []Event) bool {
		return slices.ContainsFunc(evs, func(e Event) bool {
			return e.Type == typ && (name == "" || e.Object != nil && e.Object.GetNamespace()+"/"+e.Object.GetName() == name)
		})
	}
}

var (
	alice = identity.User{Name: "alice"}
	bob   = identity.User{Name: "bob"}
)

// A follow is a browser's watch for the server: it joins the upstream a browser opened, gets the
// objects its selector picks (as decoded objects, with their kind), then the changes, and nothing
// more once stopped.
func TestFollowSharesTheBrowsersUpstream(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "team-a", "web-1", map[string]string{"room": "r1"})
	e.api.change(kwatch.Added, "team-a", "other", map[string]string{"room": "r2"})
	browser, err := e.open(t, "bob", "kinds=pods&namespaces=team-a")
	if err != nil {
		t.Fatal(err)
	}
	browser.ch.waitFor(t, "the browser's SYNCED", synced("pods"))

	f := newFollower()
	stop, err := e.kind.Follow(context.Background(), bob, "", Query{Kinds: []string{"pods"}, Namespaces: []string{"team-a"}, LabelSelector: "room=r1"}, f.on)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	evs := f.waitFor(t, "SYNCED", hasEvent(Synced, ""))
	if len(evs) != 2 || evs[0].Type != Added || evs[0].Kind != "pods" || evs[0].Object.GetName() != "web-1" ||
		evs[0].Object.GetKind() != "Pod" || evs[0].Object.GetLabels()["room"] != "r1" || evs[1].Kind != "pods" {
		t.Fatalf("snapshot %+v", evs)
	}
	e.api.change(kwatch.Modified, "team-a", "web-1", map[string]string{"room": "r1", "v": "2"})
	e.api.change(kwatch.Modified, "team-a", "web-1", map[string]string{"room": "other"}) // leaves the selection
	f.waitFor(t, "web-1 left the selection", hasEvent(Deleted, "team-a/web-1"))

	if got := testutil.ToFloat64(e.hub.upstreams.WithLabelValues("test", "pods")); got != 1 {
		t.Fatalf("yard_watch_upstream = %v, want 1 shared by the browser and the follow", got)
	}
	if got := testutil.ToFloat64(e.hub.starts.WithLabelValues("test", "pods")); got != 1 {
		t.Fatalf("yard_watch_upstream_starts_total = %v, want 1", got)
	}
	if l, w := e.api.counts(); l != 1 || w != 1 {
		t.Fatalf("%d lists and %d watches upstream, want 1 and 1", l, w)
	}
	if got := testutil.ToFloat64(e.hub.follows); got != 1 {
		t.Fatalf("yard_watch_follows_total = %v", got)
	}

	stop()
	n := len(f.events())
	e.api.change(kwatch.Added, "team-a", "web-2", map[string]string{"room": "r1"})
	browser.ch.waitFor(t, "the browser sees web-2", func(ms []wireMsg) bool { return has(ms, Added, "team-a/web-2") })
	if got := len(f.events()); got != n {
		t.Fatalf("%d events after stop", got-n)
	}
	stop() // a second stop returns at once
}

// A follow gets all it asks for or nothing: a namespace its user may not watch refuses it whole,
// and no upstream starts.
func TestFollowIsRefusedWhole(t *testing.T) {
	e := newEnv(t, Options{})
	f := newFollower()
	cases := []struct {
		u    identity.User
		q    Query
		code string
	}{
		{bob, Query{Kinds: []string{"pods"}, Namespaces: []string{"team-a", "demo"}}, mux.CodeForbidden},
		{bob, Query{Kinds: []string{"pods", "nodes"}, Namespaces: []string{"team-a"}}, mux.CodeForbidden},
		{bob, Query{Kinds: []string{"pods"}}, mux.CodeBadParams},
		{bob, Query{Kinds: []string{"nosuchthing"}, Namespaces: []string{"team-a"}}, mux.CodeBadParams},
		{alice, Query{Kinds: []string{"pods"}, Namespaces: []string{"team-a"}, LabelSelector: "a===b"}, mux.CodeBadParams},
	}
	for _, c := range cases {
		_, err := e.kind.Follow(context.Background(), c.u, "", c.q, f.on)
		if err == nil || mux.AsError(err).Code != c.code {
			t.Errorf("%s %+v: %v, want %s", c.u.Name, c.q, err, c.code)
		}
	}
	if e.hub.Upstreams() != 0 {
		t.Fatal("a refused follow started an upstream")
	}
}

// Closing the hub ends every follow and waits for it; a follow asked for afterwards is refused.
func TestHubCloseEndsFollows(t *testing.T) {
	e := newEnv(t, Options{})
	f := newFollower()
	q := Query{Kinds: []string{"pods"}, Namespaces: []string{"team-a"}}
	stop, err := e.kind.Follow(context.Background(), alice, "", q, f.on)
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "SYNCED", hasEvent(Synced, ""))
	e.hub.Close()
	stop()
	if _, err := e.kind.Follow(context.Background(), alice, "", q, f.on); mux.AsError(err).Code != mux.CodeShuttingDown {
		t.Fatalf("follow after close: %v", err)
	}
}
