package integration

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// A kind the user may not list (nodes, cluster-scoped, for carol) is reported on the stream
// while the kinds she may see keep streaming; only a request for nothing she may see is refused.
func TestRefusedKindDoesNotStopTheOthers(t *testing.T) {
	s := start(t, nil)
	carol := s.login(t, "carol")
	st := s.watch(t, carol, url.Values{"kinds": {"pods,nodes"}})
	ms := st.waitFor(t, "pods SYNCED", 30*time.Second, synced("pods"))
	if ms[0].Type != "error" || ms[0].Code != "forbidden" || ms[0].Kind != "nodes" || ms[0].Namespace != "" {
		t.Fatalf("want a forbidden error for nodes first: %s", summary(ms))
	}
	for _, m := range ms {
		if m.Kind == "nodes" && m.Type != "error" {
			t.Fatalf("carol got %s nodes: %s", m.Type, summary(ms))
		}
	}
	if got := namespacesOf(view(ms, "pods")); len(got) != 1 || got[0] != "demo" {
		t.Fatalf("carol sees pods in %v, want [demo]", got)
	}

	refused, err := s.dialWatch(carol, url.Values{"kinds": {"nodes,namespaces"}})
	if err != nil {
		t.Fatal(err)
	}
	defer refused.close()
	select {
	case <-refused.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a watch of nothing carol may see was not closed")
	}
	if _, cerr := refused.all(); cerr == nil || !strings.Contains(cerr.Error(), "forbidden") {
		t.Fatalf("refusal: %v", cerr)
	}
}
