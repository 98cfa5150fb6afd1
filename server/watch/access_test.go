package watch

// Who may watch what: refusals at open, revocation while streaming, and the cost of asking.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kwatch "k8s.io/apimachinery/pkg/watch"

	"github.com/yardhq/yard/server/mux"
)

func TestOpenRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	cases := map[string]string{
		"kinds=":                               mux.CodeBadParams,
		"kinds=nosuchthing":                    mux.CodeBadParams,
		"kinds=pods&namespaces=Not_A_NS":       mux.CodeBadParams,
		"kinds=pods&labelSelector=a%3D%3D%3Db": mux.CodeBadParams,
		"kinds=pods&resourceVersion=abc":       mux.CodeBadParams,
		"kinds=pods&cluster=elsewhere":         mux.CodeNotFound,
		"kinds=pods&namespaces=team-a":         mux.CodeForbidden, // carol
		"kinds=nodes":                          mux.CodeForbidden, // cluster-scoped, carol
	}
	for params, code := range cases {
		_, err := e.open(t, "carol", params)
		if err == nil || mux.AsError(err).Code != code {
			t.Errorf("%s: err %v, want code %s", params, err, code)
		}
	}
	if e.hub.Upstreams() != 0 {
		t.Fatal("a refused open started an upstream")
	}
}

func TestRefusedKindIsReportedWhileOthersStream(t *testing.T) {
	e := newEnv(t, Options{})
	e.api.change(kwatch.Added, "demo", "a", nil)
	e.api.change(kwatch.Added, "team-a", "b", nil)
	carol, err := e.open(t, "carol", "kinds=pods,nodes") // nodes: cluster-scoped, carol may not
	if err != nil {
		t.Fatalf("open refused as a whole: %v", err)
	}
	carol.ch.waitFor(t, "pods SYNCED", synced("pods"))
	e.api.change(kwatch.Added, "demo", "c", nil)
	msgs := carol.ch.waitFor(t, "demo/c", func(ms []wireMsg) bool { return has(ms, Added, "demo/c") })
	if msgs[0].Type != ErrorMsg || msgs[0].Code != mux.CodeForbidden || msgs[0].Kind != "nodes" || msgs[0].Namespace != "" || msgs[0].Message == "" {
		t.Fatalf("want a forbidden error for nodes first: %s", summary(msgs))
	}
	for _, m := range msgs {
		if m.Kind == "nodes" && m.Type != ErrorMsg {
			t.Fatalf("carol got %s for nodes: %s", m.Type, summary(msgs))
		}
	}
	if got := state(msgs); !slices.Equal(got, []string{"demo/a", "demo/c"}) {
		t.Fatalf("carol's pods: %v", got)
	}
	if n := e.hub.Upstreams(); n != 1 {
		t.Fatalf("%d upstreams, want only pods", n)
	}

	// Nothing she may see: the request is refused as a whole.
	_, err = e.open(t, "carol", "kinds=nodes,namespaces")
	if err == nil || mux.AsError(err).Code != mux.CodeForbidden {
		t.Fatalf("nodes,namespaces as carol: %v, want forbidden", err)
	}
	_, err = e.open(t, "carol", "kinds=pods,deployments&namespaces=team-a")
	if err == nil || mux.AsError(err).Code != mux.CodeForbidden {
		t.Fatalf("pods,deployments in team-a as carol: %v, want forbidden", err)
	}
}

func TestRevokedAccessStopsEventsAndIsReported(t *testing.T) {
	e := newEnv(t, Options{})
	r, _ := e.open(t, "bob", "kinds=pods&namespaces=team-a")
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	e.api.change(kwatch.Added, "team-a", "before", nil)
	r.ch.waitFor(t, "before", func(ms []wireMsg) bool { return has(ms, Added, "team-a/before") })

	e.api.change(kwatch.Added, "team-a", "gone-while-revoked", nil)
	r.ch.waitFor(t, "gone-while-revoked", func(ms []wireMsg) bool { return has(ms, Added, "team-a/gone-while-revoked") })

	e.cl.set("bob", "team-a", false)
	r.ch.waitFor(t, "forbidden", func(ms []wireMsg) bool {
		return slices.ContainsFunc(ms, func(m wireMsg) bool {
			return m.Type == ErrorMsg && m.Code == mux.CodeForbidden && m.Namespace == "team-a"
		})
	})
	// Access ended: the objects the client held are withdrawn.
	r.ch.waitFor(t, "the view emptied", func(ms []wireMsg) bool { return len(state(ms)) == 0 })
	e.api.change(kwatch.Added, "team-a", "after", nil)
	e.api.change(kwatch.Deleted, "team-a", "gone-while-revoked", nil)
	time.Sleep(200 * time.Millisecond)
	if has(decodeAll(t, r.ch.all()), Added, "team-a/after") {
		t.Fatal("an event was delivered after access was revoked")
	}

	// Access returns: the view is exactly the namespace's objects now, without the one deleted
	// while the client could not see it.
	e.cl.set("bob", "team-a", true)
	msgs := r.ch.waitFor(t, "regranted snapshot", func(ms []wireMsg) bool { return has(ms, Added, "team-a/after") })
	got := state(msgs)
	if len(got) != 2 {
		t.Fatalf("view after access returned: %v, want team-a/before and team-a/after", got)
	}
}

// Delivering changes asks no permission question: each stream answers from its own map, which
// the periodic recheck refreshes.
func TestDeliveryAsksNoPermissionPerMessage(t *testing.T) {
	e := newEnv(t, Options{Recheck: time.Hour})
	r, err := e.open(t, "carol", "kinds=pods") // every namespace: the cluster-wide answer is no
	if err != nil {
		t.Fatal(err)
	}
	r.ch.waitFor(t, "SYNCED", synced("pods"))
	e.api.change(kwatch.Added, "demo", "first", nil)
	e.api.change(kwatch.Added, "team-a", "first", nil)
	// Changes leave in order, so once demo/second arrives team-a's first question was asked.
	e.api.change(kwatch.Added, "demo", "second", nil)
	r.ch.waitFor(t, "second", func(ms []wireMsg) bool { return has(ms, Added, "demo/second") })
	before := e.cl.asked.Load()
	for i := range 200 {
		e.api.change(kwatch.Added, []string{"demo", "team-a"}[i%2], fmt.Sprintf("p%d", i), nil)
	}
	r.ch.waitFor(t, "p198", func(ms []wireMsg) bool { return has(ms, Added, "demo/p198") })
	if n := e.cl.asked.Load() - before; n != 0 {
		t.Fatalf("%d permission questions for 200 changes", n)
	}
	if slices.ContainsFunc(decodeAll(t, r.ch.all()), func(m wireMsg) bool { return strings.HasPrefix(m.name, "team-a/") }) {
		t.Fatal("carol got team-a pods")
	}
}
