package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	kwatch "k8s.io/apimachinery/pkg/watch"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type wireMsg struct {
	Type            string          `json:"type"`
	Kind            string          `json:"kind"`
	ResourceVersion string          `json:"resourceVersion"`
	Code            string          `json:"code"`
	Message         string          `json:"message"`
	Namespace       string          `json:"namespace"`
	Object          json.RawMessage `json:"object"`
	name            string
}

func decodeAll(t *testing.T, raw [][]byte) []wireMsg {
	t.Helper()
	out := make([]wireMsg, 0, len(raw))
	for _, b := range raw {
		var m wireMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("bad message %s: %v", b, err)
		}
		if m.Object != nil {
			var o struct {
				Metadata struct {
					Namespace, Name string
					ManagedFields   []any
				}
			}
			_ = json.Unmarshal(m.Object, &o)
			m.name = o.Metadata.Namespace + "/" + o.Metadata.Name
			if o.Metadata.ManagedFields != nil {
				t.Fatalf("managedFields sent: %s", b)
			}
		}
		out = append(out, m)
	}
	return out
}

func summary(msgs []wireMsg) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s:%s%s%s ", m.Type, m.Kind, m.name, m.Code)
	}
	return b.String()
}

func has(msgs []wireMsg, typ, name string) bool {
	return slices.ContainsFunc(msgs, func(m wireMsg) bool { return m.Type == typ && m.name == name })
}

// state replays messages into the client's view: kind/ns/name present.
func state(msgs []wireMsg) []string {
	set := map[string]bool{}
	for _, m := range msgs {
		switch m.Type {
		case Added, Modified:
			set[m.name] = true
		case Deleted:
			delete(set, m.name)
		case Reset:
			clear(set)
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type env struct {
	api  *fakeAPI
	cl   *fakeCluster
	hub  *Hub
	kind *Kind
	reg  *prometheus.Registry
}

func newEnv(t testing.TB, o Options) *env {
	api := newFakeAPI()
	cl := &fakeCluster{api: api, may: map[string]map[string]bool{}}
	cl.set("alice", "", true)
	cl.set("bob", "team-a", true)
	cl.set("carol", "demo", true)
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.Recheck == 0 {
		o.Recheck = 20 * time.Millisecond
	}
	h := NewHub(o)
	t.Cleanup(h.Close)
	return &env{api: api, cl: cl, hub: h, kind: NewKind(h, fakeClusters{cl}), reg: reg}
}

type running struct {
	ch     *fakeChannel
	cancel context.CancelFunc
	done   chan error
}

func (e *env) open(t testing.TB, user string, params string) (*running, error) {
	t.Helper()
	p, err := url.ParseQuery(params)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.kind.Open(context.Background(), mux.OpenRequest{User: identity.User{Name: user}, Params: p})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{ch: newFakeChannel(), cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx, run.ch) }()
	t.Cleanup(run.stop)
	return run, nil
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

func synced(kind string) func([]wireMsg) bool {
	return func(ms []wireMsg) bool {
		return slices.ContainsFunc(ms, func(m wireMsg) bool { return m.Type == Synced && m.Kind == kind })
	}
}

func TestSnapshotThenEventsFilteredPerUser(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "demo", "a", nil)
	e.api.change(kwatch.Added, "team-a", "b", nil)

	alice, err := e.open(t, "alice", "kinds=pods")
	if err != nil {
		t.Fatal(err)
	}
	carol, _ := e.open(t, "carol", "kinds=pods")
	bob, _ := e.open(t, "bob", "kinds=pods&namespaces=team-a")
	for _, r := range []*running{alice, carol, bob} {
		r.ch.waitFor(t, "SYNCED", synced("pods"))
	}
	e.api.change(kwatch.Added, "demo", "c", nil)
	e.api.change(kwatch.Added, "team-a", "d", nil)
	e.api.change(kwatch.Deleted, "demo", "a", nil)

	want := func(r *running, names ...string) {
		t.Helper()
		r.ch.waitFor(t, strings.Join(names, ","), func(ms []wireMsg) bool { return slices.Equal(state(ms), names) })
	}
	want(alice, "demo/c", "team-a/b", "team-a/d")
	want(carol, "demo/c")
	want(bob, "team-a/b", "team-a/d")

	msgs := decodeAll(t, alice.ch.all())
	syncAt := slices.IndexFunc(msgs, func(m wireMsg) bool { return m.Type == Synced })
	if syncAt != 2 || msgs[syncAt].ResourceVersion != "2" {
		t.Fatalf("want two ADDED then SYNCED at rv 2: %s", summary(msgs))
	}
	for _, m := range decodeAll(t, carol.ch.all()) {
		if strings.HasPrefix(m.name, "team-a/") {
			t.Fatalf("carol saw %s", m.name)
		}
	}
	if n := e.hub.Upstreams(); n != 2 { // pods everywhere (alice, carol) and pods in team-a (bob)
		t.Fatalf("%d upstreams, want 2", n)
	}
}

func TestObjectsCarryAPIVersionAndKind(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "demo", "a", nil) // the fake's objects have no apiVersion or kind
	r, err := e.open(t, "alice", "kinds=pods,widgets.example.com")
	if err != nil {
		t.Fatal(err)
	}
	r.ch.waitFor(t, "both SYNCED", func(ms []wireMsg) bool { return synced("pods")(ms) && synced(widgets.Name)(ms) })
	e.api.change(kwatch.Modified, "demo", "a", map[string]string{"v": "2"})
	// Both kinds' MODIFIED before the delete: a change not yet sent when the next one comes is
	// coalesced with it, so an early delete could fold one of them away.
	r.ch.waitFor(t, "MODIFIED of both kinds", func(ms []wireMsg) bool {
		kinds := map[string]bool{}
		for _, m := range ms {
			if m.Type == Modified {
				kinds[m.Kind] = true
			}
		}
		return kinds["pods"] && kinds[widgets.Name]
	})
	e.api.change(kwatch.Deleted, "demo", "a", nil)
	msgs := r.ch.waitFor(t, "both DELETED", func(ms []wireMsg) bool {
		n := 0
		for _, m := range ms {
			if m.Type == Deleted {
				n++
			}
		}
		return n == 2
	})
	want := map[string][2]string{"pods": {"v1", "Pod"}, widgets.Name: {"example.com/v1beta1", "Widget"}}
	seen := map[string]int{}
	for _, m := range msgs {
		if m.Object == nil {
			continue
		}
		var tm struct{ APIVersion, Kind string }
		if err := json.Unmarshal(m.Object, &tm); err != nil {
			t.Fatal(err)
		}
		if w := want[m.Kind]; tm.APIVersion != w[0] || tm.Kind != w[1] {
			t.Errorf("%s %s: apiVersion %q kind %q, want %q %q", m.Type, m.Kind, tm.APIVersion, tm.Kind, w[0], w[1])
		}
		seen[m.Kind+" "+m.Type]++
	}
	for _, k := range []string{"pods ADDED", "pods MODIFIED", "pods DELETED", widgets.Name + " ADDED", widgets.Name + " DELETED"} {
		if seen[k] == 0 {
			t.Errorf("no %s: %s", k, summary(msgs))
		}
	}
}

func TestOneUpstreamForManyStreamsStoppedAfterGrace(t *testing.T) {
	e := newEnv(t, Options{Grace: 100 * time.Millisecond})
	e.api.change(kwatch.Added, "demo", "a", nil)
	var rs []*running
	for i := range 50 {
		r, err := e.open(t, []string{"alice", "carol"}[i%2], "kinds=pods")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		r.ch.waitFor(t, "SYNCED", synced("pods"))
	}
	if got := testutil.ToFloat64(e.hub.upstreams.WithLabelValues("test", "pods")); got != 1 {
		t.Fatalf("yard_watch_upstream = %v, want 1", got)
	}
	if l, w := e.api.counts(); l != 1 || w != 1 {
		t.Fatalf("%d lists and %d watches upstream, want 1 and 1", l, w)
	}
	for _, r := range rs {
		r.stop()
	}
	if e.hub.Upstreams() != 1 {
		t.Fatal("upstream stopped before the grace period")
	}
	deadline := time.Now().Add(2 * time.Second)
	for testutil.ToFloat64(e.hub.upstreams.WithLabelValues("test", "pods")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("upstream still open after the grace period")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLabelSelectorEntersAndLeaves(t *testing.T) {
	e := newEnv(t, Options{})
	r, _ := e.open(t, "alice", "kinds=pods&labelSelector=app%3Dweb")
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	e.api.change(kwatch.Added, "demo", "x", map[string]string{"app": "db"})
	e.api.change(kwatch.Modified, "demo", "x", map[string]string{"app": "web"})
	r.ch.waitFor(t, "x enters", func(ms []wireMsg) bool { return has(ms, Added, "demo/x") })
	e.api.change(kwatch.Modified, "demo", "x", map[string]string{"app": "other"})
	msgs := r.ch.waitFor(t, "x leaves", func(ms []wireMsg) bool { return has(ms, Deleted, "demo/x") })
	if len(state(msgs)) != 0 {
		t.Fatalf("state %v", state(msgs))
	}
}

func TestResumeGivesOnlyMissedChanges(t *testing.T) {
	e := newEnv(t, Options{Grace: time.Minute})
	e.api.change(kwatch.Added, "demo", "a", nil)
	e.api.change(kwatch.Added, "demo", "b", nil)
	first, _ := e.open(t, "alice", "kinds=pods")
	msgs := first.ch.waitFor(t, "SYNCED", synced("pods"))
	rv := msgs[len(msgs)-1].ResourceVersion
	first.stop()

	e.api.change(kwatch.Modified, "demo", "a", nil)
	e.api.change(kwatch.Added, "demo", "c", nil)
	e.api.change(kwatch.Deleted, "demo", "b", nil)
	time.Sleep(100 * time.Millisecond) // let the upstream (kept by the grace period) see them

	again, _ := e.open(t, "alice", "kinds=pods&resourceVersion="+rv)
	got := again.ch.waitFor(t, "SYNCED", synced("pods"))
	if s := summary(got); s != "MODIFIED:podsdemo/a ADDED:podsdemo/c DELETED:podsdemo/b SYNCED:pods " {
		t.Fatalf("resume got %s", s)
	}
	if got[len(got)-1].ResourceVersion != "5" {
		t.Fatalf("SYNCED at %s, want 5", got[len(got)-1].ResourceVersion)
	}

	later, _ := e.open(t, "alice", "kinds=pods&resourceVersion=pods=3")
	got = later.ch.waitFor(t, "SYNCED", synced("pods"))
	if s := summary(got); s != "ADDED:podsdemo/c DELETED:podsdemo/b SYNCED:pods " {
		t.Fatalf("resume from 3 got %s", s)
	}
	// Before the upstream's first list (rv 2) there is no history: RESET and a snapshot.
	before, _ := e.open(t, "alice", "kinds=pods&resourceVersion=1")
	got = before.ch.waitFor(t, "SYNCED", synced("pods"))
	if got[0].Type != Reset || !slices.Equal(state(got), []string{"demo/a", "demo/c"}) {
		t.Fatalf("resume from before the history: %s", summary(got))
	}

	// History trimmed past the resume point: RESET too.
	small := newEnv(t, Options{History: 4})
	for i := range 10 {
		small.api.change(kwatch.Added, "demo", fmt.Sprintf("n%d", i), nil)
	}
	keep, _ := small.open(t, "alice", "kinds=pods")
	keep.ch.waitFor(t, "SYNCED", synced("pods"))
	for i := range 10 {
		small.api.change(kwatch.Modified, "demo", fmt.Sprintf("n%d", i), nil)
	}
	keep.ch.waitFor(t, "changes", func(ms []wireMsg) bool { return len(ms) >= 21 })
	old, _ := small.open(t, "alice", "kinds=pods&resourceVersion=11")
	got = old.ch.waitFor(t, "SYNCED", synced("pods"))
	if got[0].Type != Reset || len(state(got)) != 10 {
		t.Fatalf("expired resume point: %s", summary(got))
	}
}

// The history is bounded by the bytes of its objects too: with room for none, every change is
// trimmed at once and an older resume point gets RESET and a snapshot.
func TestHistoryBoundedByBytes(t *testing.T) {
	e := newEnv(t, Options{HistoryBytes: 1})
	for i := range 5 {
		e.api.change(kwatch.Added, "demo", fmt.Sprintf("n%d", i), nil)
	}
	r, _ := e.open(t, "alice", "kinds=pods")
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	e.api.change(kwatch.Modified, "demo", "n0", nil)
	r.ch.waitFor(t, "the change", func(ms []wireMsg) bool { return has(ms, Modified, "demo/n0") })
	old, _ := e.open(t, "alice", "kinds=pods&resourceVersion=3")
	got := old.ch.waitFor(t, "SYNCED", synced("pods"))
	if got[0].Type != Reset || len(state(got)) != 5 {
		t.Fatalf("resume point older than a byte-trimmed history: %s", summary(got))
	}
}

// trimHistoryLocked keeps at most the byte limit (trimming once a quarter over it) and the
// change limit, and moves the base to the newest change dropped.
func TestTrimHistory(t *testing.T) {
	u := &upstream{maxHist: historyLimit{changes: 100, bytes: 1000}}
	for i := range 50 {
		u.history = append(u.history, &change{obj: &object{raw: make([]byte, 100)}, rv: uint64(i + 1)})
		u.histLen += 100
		u.trimHistoryLocked()
		if u.histLen > 1250 || u.histLen != 100*len(u.history) {
			t.Fatalf("after %d changes: %d bytes in %d changes", i+1, u.histLen, len(u.history))
		}
	}
	if len(u.history) < 10 || u.base != u.history[0].rv-1 || u.history[len(u.history)-1].rv != 50 {
		t.Fatalf("kept %d changes from rv %d (base %d)", len(u.history), u.history[0].rv, u.base)
	}
	u = &upstream{maxHist: historyLimit{changes: 8, bytes: 1 << 20}}
	for i := range 50 {
		u.history = append(u.history, &change{obj: &object{raw: make([]byte, 10)}, rv: uint64(i + 1)})
		u.histLen += 10
		u.trimHistoryLocked()
		if len(u.history) > 10 {
			t.Fatalf("after %d changes: %d kept, limit 8 (+ a quarter)", i+1, len(u.history))
		}
	}
	if u.base != u.history[0].rv-1 {
		t.Fatalf("base %d, oldest kept rv %d", u.base, u.history[0].rv)
	}
}

func TestApiserverRestartConverges(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "demo", "a", nil)
	e.api.change(kwatch.Added, "demo", "b", nil)
	r, _ := e.open(t, "alice", "kinds=pods")
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	e.api.restart(func() {
		e.api.change(kwatch.Deleted, "demo", "a", nil)
		e.api.change(kwatch.Added, "demo", "c", nil)
		e.api.change(kwatch.Modified, "demo", "b", nil)
	})
	r.ch.waitFor(t, "converged", func(ms []wireMsg) bool { return slices.Equal(state(ms), []string{"demo/b", "demo/c"}) })
	e.api.change(kwatch.Added, "demo", "d", nil)
	r.ch.waitFor(t, "live again", func(ms []wireMsg) bool { return has(ms, Added, "demo/d") })
	if l, _ := e.api.counts(); l != 2 {
		t.Fatalf("%d lists, want 2 (one re-list after the restart)", l)
	}
}

func TestSlowClientGetsCoalescedState(t *testing.T) {
	e := newEnv(t, Options{})
	r, _ := e.open(t, "alice", "kinds=pods")
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	r.ch.setBlocked(true)
	for i := range 2000 {
		e.api.change(kwatch.Added, "demo", fmt.Sprintf("p%d", i%10), map[string]string{"i": fmt.Sprint(i)})
	}
	e.api.change(kwatch.Added, "demo", "gone", nil)
	e.api.change(kwatch.Deleted, "demo", "gone", nil)
	for testutil.ToFloat64(e.hub.events.WithLabelValues("test", "pods")) < 2002 {
		time.Sleep(10 * time.Millisecond)
	}
	r.ch.setBlocked(false)
	r.ch.waitFor(t, "flush", func(ms []wireMsg) bool { return len(state(ms)) == 10 })
	time.Sleep(50 * time.Millisecond)
	msgs := decodeAll(t, r.ch.all())
	// SYNCED, the one message that waited in Send, then one per object; "gone" coalesced away.
	if len(msgs) > 12 || has(msgs, Added, "demo/gone") {
		t.Fatalf("%d messages after a blocked period, want at most 12: %s", len(msgs), summary(msgs))
	}
	latest := map[string]string{}
	for _, m := range msgs[1:] {
		var o struct {
			Metadata struct{ Labels map[string]string }
		}
		_ = json.Unmarshal(m.Object, &o)
		latest[m.name] = o.Metadata.Labels["i"]
	}
	if latest["demo/p9"] != "1999" || latest["demo/p0"] != "1990" {
		t.Fatalf("latest state not delivered: %v", latest)
	}
}

// Every stream sends the same bytes for the same change, also when coalescing changed its type:
// a change is encoded once per upstream, not once per client.
func TestCoalescedMessagesAreEncodedOnceForAllStreams(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "demo", "a", nil)
	e.api.change(kwatch.Added, "demo", "b", nil)
	var rs []*running
	for range 2 {
		r, err := e.open(t, "alice", "kinds=pods")
		if err != nil {
			t.Fatal(err)
		}
		r.ch.waitFor(t, "SYNCED", synced("pods"))
		r.ch.setBlocked(true)
		rs = append(rs, r)
	}
	e.api.change(kwatch.Modified, "demo", "b", nil) // waits in Send while the rest coalesces
	e.api.change(kwatch.Deleted, "demo", "a", nil)
	e.api.change(kwatch.Added, "demo", "a", map[string]string{"v": "2"}) // DELETED+ADDED: MODIFIED
	for testutil.ToFloat64(e.hub.events.WithLabelValues("test", "pods")) < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	var sent [][]byte
	for _, r := range rs {
		r.ch.setBlocked(false)
		r.ch.waitFor(t, "MODIFIED a", func(ms []wireMsg) bool { return has(ms, Modified, "demo/a") })
		raw := r.ch.all()
		ms := decodeAll(t, raw)
		sent = append(sent, raw[slices.IndexFunc(ms, func(m wireMsg) bool { return m.Type == Modified && m.name == "demo/a" })])
	}
	if unsafe.SliceData(sent[0]) != unsafe.SliceData(sent[1]) {
		t.Fatalf("the coalesced change was encoded per stream: %s", sent[0])
	}
}

func TestQueueCoalescing(t *testing.T) {
	q := newQueue()
	obj := func(typ, key string) *entry {
		raw := []byte(`{"k":"` + key + `"}`)
		return &entry{key: key, kind: "pods", typ: typ, o: &object{kind: "pods", raw: raw, added: objectMessage(Added, "pods", raw)}}
	}
	q.push(obj(Added, "a"))
	q.push(&entry{key: "m", marker: true, msg: []byte("marker")})
	q.push(obj(Modified, "a")) // ADDED+MODIFIED: still ADDED, first place
	q.push(obj(Added, "b"))
	q.push(obj(Deleted, "b")) // never seen: gone
	q.push(obj(Modified, "c"))
	q.push(obj(Deleted, "c")) // MODIFIED+DELETED: DELETED
	q.push(obj(Deleted, "d"))
	q.push(obj(Added, "d")) // DELETED+ADDED: MODIFIED (the client holds the old one)
	var got []string
	for {
		e, ok := q.front()
		if !ok {
			break
		}
		var m map[string]any
		q.take(e.key, func(b []byte) bool {
			_ = json.Unmarshal(b, &m)
			got = append(got, e.key+":"+fmt.Sprint(m["type"]))
			return true
		})
	}
	want := "a:ADDED m:<nil> c:DELETED d:MODIFIED"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q want %q", strings.Join(got, " "), want)
	}
	q.push(obj(Added, "x"))
	e, _ := q.front()
	if q.take(e.key, func([]byte) bool { return false }) || q.len() != 1 {
		t.Fatal("a refused send removed the entry")
	}
}

func TestParseResume(t *testing.T) {
	m, err := parseResume("pvcs=5,pods=7")
	if err != nil || m["persistentvolumeclaims"] != 5 || m["pods"] != 7 {
		t.Fatalf("%v %v", m, err)
	}
	m, err = parseResume("42")
	if err != nil || m[""] != 42 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"x", "pods=", "0", "-1", "pods=1=2"} {
		if _, err := parseResume(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
