package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// writeWorkflow replaces room's workflow nodes and edges with plain values as a client could.
func writeWorkflow(t testing.TB, s *yardtest.Server, room string, nodes, edges map[string]any) {
	t.Helper()
	err := s.App.Rooms().Transact(context.Background(), room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		wf := doc.GetMap(deploy.WorkflowRoot)
		for k, v := range map[string]any{"nodes": nodes, "edges": edges} {
			if err := wf.Set(tx, k, v); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A workflow with errors is planned as one row per problem, on its node; it cannot be applied,
// and rejecting it ends it.
func TestInvalidWorkflowIsPlannedPerNodeAndRejected(t *testing.T) {
	a, b, _ := replicas(t)
	alice, bob := a.SignIn(t, "alice", false), b.SignIn(t, "bob", false)
	room := unique("bad")
	writeWorkflow(t, a, room, map[string]any{
		"n1": map[string]any{"kind": "Deployment", "name": "Not_A_Name", "image": "nginx", "x": 0, "y": 0},
		"n2": map[string]any{"kind": "Deployment", "name": "ok", "image": "nginx", "replicas": "three", "x": 0, "y": 0},
		"n3": map[string]any{"kind": "Service", "name": "svc", "port": 80, "x": 0, "y": 0},
	}, map[string]any{
		"e1": map[string]any{"from": "n3", "to": "gone", "kind": "selects"},
	})
	st, d := plan(t, a, alice, room, `{}`)
	if st != http.StatusCreated {
		t.Fatalf("plan: %d", st)
	}
	want := map[string]string{"n1": "bad_name", "n2": "bad_type"}
	for node, code := range want {
		found := false
		for _, r := range d.Plan {
			found = found || r.NodeID == node && strings.HasPrefix(r.Error, code+":")
		}
		if !found {
			t.Errorf("no %s row on %s: %+v", code, node, d.Plan)
		}
	}
	dangling := false
	for _, r := range d.Plan {
		dangling = dangling || strings.HasPrefix(r.Error, "dangling_edge:")
		if r.Action != "" || r.Error == "" {
			t.Errorf("row of an invalid workflow %+v", r)
		}
	}
	if !dangling {
		t.Errorf("no dangling_edge row: %+v", d.Plan)
	}
	var e errBody
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "bad_state" {
		t.Fatalf("apply of an invalid plan: %d %+v", st, e)
	}
	var rj deploy.Deploy
	if st := call(t, b, http.MethodPost, bob, "/api/rooms/"+room+"/deploys/"+d.ID+"/reject", "", &rj); st != http.StatusOK || rj.State != deploy.StateRejected || rj.Rejections[0].User != "bob" {
		t.Fatalf("reject: %d %+v", st, rj)
	}
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/approve", "", &e); st != http.StatusConflict || e.Error.Code != "bad_state" {
		t.Fatalf("approve after a rejection: %d %+v", st, e)
	}

	// 10,000 nodes: one too_many row, no panic, nothing rendered.
	many := make(map[string]any, 10000)
	for i := range 10000 {
		many["n"+strconv.Itoa(i)] = map[string]any{"kind": "ConfigMap", "name": "c" + strconv.Itoa(i)}
	}
	writeWorkflow(t, a, room, many, map[string]any{})
	_, big := plan(t, a, alice, room, `{}`) // the replica that took the write: another may lag a little
	if len(big.Plan) != 1 || !strings.HasPrefix(big.Plan[0].Error, "too_many:") || big.Manifests != "" {
		t.Fatalf("10,000 nodes: %+v", big.Plan)
	}
}
