package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// applied applies deploy id as token and waits for it to end, returning its last state.
func applied(t testing.TB, s *yardtest.Server, token, room, id string) deploy.Deploy {
	t.Helper()
	if st := call(t, s, http.MethodPost, token, "/api/rooms/"+room+"/deploys/"+id+"/apply", "", nil); st != http.StatusAccepted {
		t.Fatalf("apply: %d", st)
	}
	var d deploy.Deploy
	testwait.Until(t, 3*time.Minute, 250*time.Millisecond, "the deploy ends", func() bool {
		d = docDeploy(t, s, token, room, id)
		return d.State != deploy.StateApplying
	})
	return d
}

func TestPruneAndCancel(t *testing.T) {
	a, b, cp := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room, name := webApp(t, a, alice, "prune")
	_, d := plan(t, a, alice, room, `{}`)
	if got := applied(t, a, alice, room, d.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("first deploy %+v", got)
	}

	// The Ingress leaves the canvas (with its edge); a plan with prune deletes it, one without
	// does not mention it.
	err := a.App.Rooms().Transact(context.Background(), room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		wf := doc.GetMap(deploy.WorkflowRoot)
		nv, _ := wf.Get("nodes")
		ev, _ := wf.Get("edges")
		nodes, edges := nv.(*crdt.Map), ev.(*crdt.Map)
		for _, id := range nodes.Keys() {
			n, _ := nodes.Get(id)
			if k, _ := n.(*crdt.Map).Get("kind"); k == "Ingress" {
				nodes.Delete(tx, id)
				for _, eid := range edges.Keys() {
					e, _ := edges.Get(eid)
					if from, _ := e.(*crdt.Map).Get("from"); from == id {
						edges.Delete(tx, eid)
					}
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, keep := plan(t, a, alice, room, `{}`)
	for _, r := range keep.Plan {
		if r.Action == deploy.ActionDelete || r.Kind == "Ingress" {
			t.Fatalf("plan without prune: %+v", r)
		}
	}
	// Cancelled before its apply, a deploy cannot be applied any more.
	var c deploy.Deploy
	if st := call(t, b, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+keep.ID+"/cancel", "", &c); st != http.StatusOK || c.State != deploy.StateCancelled {
		t.Fatalf("cancel: %d %+v", st, c)
	}
	var e errBody
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+keep.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "bad_state" {
		t.Fatalf("apply of a cancelled deploy: %d %+v", st, e)
	}

	_, p := plan(t, b, alice, room, `{"prune":true}`)
	deletes := 0
	for _, r := range p.Plan {
		if r.Action == deploy.ActionDelete {
			deletes++
			if r.Kind != "Ingress" || r.Name != name || r.Namespace != "team-a" || r.Error != "" {
				t.Fatalf("prune row %+v", r)
			}
		}
	}
	if deletes != 1 {
		t.Fatalf("prune plan %+v", p.Plan)
	}
	if got := applied(t, b, alice, room, p.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("prune deploy %+v", got)
	}
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.NetworkingV1().Ingresses("team-a").Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the pruned Ingress: %v", err)
	}
	if _, err := k.AppsV1().Deployments("team-a").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the Deployment stays: %v", err)
	}
}

// With writes off a plan is still made (dry runs only); the apply is refused before anything
// reaches the cluster.
func TestWritesOffPlansButRefusesApply(t *testing.T) {
	cp := controlplane.Shared(t)
	s := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
	})
	alice := s.SignIn(t, "alice", false)
	room, name := webApp(t, s, alice, "off")
	st, d := plan(t, s, alice, room, `{}`)
	if st != http.StatusCreated || len(d.Plan) != 4 || d.Plan[0].Action != deploy.ActionCreate || d.Plan[0].Error != "" {
		t.Fatalf("plan with writes off: %d %+v", st, d)
	}
	var e errBody
	if st := call(t, s, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", &e); st != http.StatusForbidden || e.Error.Code != "writes_disabled" {
		t.Fatalf("apply with writes off: %d %+v", st, e)
	}
	if got := docDeploy(t, s, alice, room, d.ID); got.State != deploy.StatePlanned {
		t.Fatalf("state %s", got.State)
	}
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AppsV1().Deployments("team-a").Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment exists with writes off: %v", err)
	}
	// Bad input gets a coded error.
	for path, want := range map[string]string{
		"/api/rooms/a%7Bb%7D/deploys":                  "bad_params",
		"/api/rooms/" + room + "/deploys/nope/approve": "not_found",
	} {
		var e errBody
		call(t, s, http.MethodPost, alice, path, `{}`, &e)
		if e.Error.Code != want {
			t.Errorf("%s: %+v, want %s", path, e, want)
		}
	}
	var ce errBody
	if st := call(t, s, http.MethodPost, alice, "/api/rooms/"+room+"/deploys", `{"cluster":"nope"}`, &ce); st != http.StatusNotFound || ce.Error.Code != "not_found" {
		t.Errorf("unknown cluster: %d %+v", st, ce)
	}
}
