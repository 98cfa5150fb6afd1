package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) { controlplane.Main(m) }

// replicas starts two servers sharing one Redis, with writes on.
func replicas(t testing.TB) (*yardtest.Server, *yardtest.Server, *controlplane.ControlPlane) {
	t.Helper()
	cp := controlplane.Shared(t)
	rd := redistest.Start(t)
	mk := func(name string) *yardtest.Server {
		return yardtest.Start(t, func(cfg *config.Config) {
			cfg.Kubeconfig = cp.Kubeconfig()
			cfg.StaticDir = t.TempDir()
			cfg.WriteEnabled = true
			cfg.RedisURL = rd.URL()
			cfg.JWTSecret = jwtSecret // one secret: a token works on both replicas
			cfg.Replica = name
			cfg.DeployTimeout = 3 * time.Minute
		})
	}
	return mk("r1"), mk("r2"), cp
}

// call makes one JSON request as token and decodes the answer into out (when not nil).
func call(t testing.TB, s *yardtest.Server, method, token, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, buf.String(), err)
		}
	}
	return resp.StatusCode
}

type errBody struct {
	Error struct{ Code, Message string }
}

// template inserts a web-app named name into room's workflow.
func template(t testing.TB, s *yardtest.Server, token, room, name string) {
	t.Helper()
	if st := call(t, s, http.MethodPost, token, "/api/rooms/"+room+"/workflow/templates/web-app", fmt.Sprintf(`{"name":%q,"x":0,"y":0}`, name), nil); st != http.StatusOK {
		t.Fatalf("template: %d", st)
	}
}

// webApp starts a room (its id from prefix) holding a web-app (its name returned) in team-a.
func webApp(t testing.TB, s *yardtest.Server, token, prefix string) (room, name string) {
	t.Helper()
	room, name = unique(prefix), unique("web")
	template(t, s, token, room, name)
	setNamespace(t, s, room, "team-a")
	return room, name
}

// setNamespace writes the workflow's namespace as the server does (reaching every client).
func setNamespace(t testing.TB, s *yardtest.Server, room, ns string) {
	t.Helper()
	err := s.App.Rooms().Transact(context.Background(), room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		if err := doc.GetMap(deploy.WorkflowRoot).Set(tx, "namespace", ns); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// docDeploy reads deploy id from the room's document on s (that replica's copy).
func docDeploy(t testing.TB, s *yardtest.Server, token, room, id string) deploy.Deploy {
	t.Helper()
	var d deploy.Deploy
	if st := call(t, s, http.MethodGet, token, "/api/rooms/"+room+"/deploys/"+id, "", &d); st != http.StatusOK {
		t.Fatalf("get deploy: %d", st)
	}
	return d
}

// seen waits until s's copy of the room's document holds text.
func seen(t testing.TB, s *yardtest.Server, token, room, text string) {
	t.Helper()
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "the edit reaches "+s.URL, func() bool {
		var doc map[string]any
		call(t, s, http.MethodGet, token, "/api/rooms/"+room+"/doc", "", &doc)
		b, _ := json.Marshal(doc["workflow"])
		return bytes.Contains(b, []byte(text))
	})
}

func plan(t testing.TB, s *yardtest.Server, token, room, body string) (int, deploy.Deploy) {
	t.Helper()
	var d deploy.Deploy
	st := call(t, s, http.MethodPost, token, "/api/rooms/"+room+"/deploys", body, &d)
	return st, d
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

func TestDeployWebAppToReadyOnBothReplicas(t *testing.T) {
	a, b, cp := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room, name := webApp(t, a, alice, "dep")

	st, d := plan(t, a, alice, room, `{"cluster":"","prune":false}`)
	if st != http.StatusCreated || d.State != deploy.StatePlanned || len(d.Plan) != 4 {
		t.Fatalf("plan: %d %+v", st, d)
	}
	for _, r := range d.Plan {
		if r.Action != deploy.ActionCreate || r.Error != "" || r.Namespace != "team-a" || r.NodeID == "" {
			t.Fatalf("plan row %+v", r)
		}
	}
	var started deploy.Deploy
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", &started); st != http.StatusAccepted || started.State != deploy.StateApplying {
		t.Fatalf("apply: %d %+v", st, started)
	}
	for _, s := range []*yardtest.Server{a, b} {
		var last deploy.Deploy
		testwait.Until(t, 3*time.Minute, 250*time.Millisecond, "the deploy succeeded with every node ready", func() bool {
			last = docDeploy(t, s, alice, room, d.ID)
			if last.State == deploy.StateFailed {
				t.Fatalf("deploy failed: %+v", last)
			}
			if last.State != deploy.StateSucceeded || len(last.Nodes) != 4 {
				return false
			}
			for _, n := range last.Nodes {
				if n.Status != deploy.NodeReady {
					return false
				}
			}
			return last.AppliedBy == "alice" && last.FinishedAt != ""
		})
	}
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	dep, err := k.AppsV1().Deployments("team-a").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := dep.Labels; l["app.kubernetes.io/managed-by"] != "yard" || l["yard.dev/room"] != room || l["yard.dev/node"] == "" {
		t.Fatalf("labels %v", l)
	}
	if _, err := k.NetworkingV1().Ingresses("team-a").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// Replan: nothing changed. An edit afterwards invalidates the plan; the next plan shows the
	// change as an update with its diff.
	_, again := plan(t, b, alice, room, `{}`)
	for _, r := range again.Plan {
		if r.Action != deploy.ActionUnchanged {
			t.Fatalf("replan row %+v", r)
		}
	}
	// bob, in the room on replica b as a browser is, changes the image.
	bobInRoom := b.Join(t, b.SignIn(t, "bob", false), room)
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "bob's copy of the workflow", func() bool {
		var wf map[string]any
		return bobInRoom.Root(deploy.WorkflowRoot, &wf)
	})
	bobInRoom.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) {
		nodes, _ := doc.GetMap(deploy.WorkflowRoot).Get("nodes")
		for _, id := range nodes.(*crdt.Map).Keys() {
			n, _ := nodes.(*crdt.Map).Get(id)
			if k, _ := n.(*crdt.Map).Get("kind"); k == "Deployment" {
				_ = n.(*crdt.Map).Set(tx, "image", "nginx:1.28")
			}
		}
	})
	seen(t, a, alice, room, "nginx:1.28")
	seen(t, b, alice, room, "nginx:1.28")
	// The server notices the edit by itself: the document of both replicas shows the plan
	// invalidated without anyone acting on it.
	for _, s := range []*yardtest.Server{a, b} {
		testwait.Until(t, 30*time.Second, 100*time.Millisecond, "the plan is invalidated in the document", func() bool {
			var doc struct {
				Deploys map[string]struct{ State string } `json:"deploys"`
			}
			call(t, s, http.MethodGet, alice, "/api/rooms/"+room+"/doc", "", &doc)
			return doc.Deploys[again.ID].State == deploy.StateInvalidated
		})
	}
	var e errBody
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+again.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "bad_state" {
		t.Fatalf("apply after an edit: %d %+v", st, e)
	}
	_, third := plan(t, a, alice, room, `{}`)
	updates := 0
	for _, r := range third.Plan {
		if r.Action == deploy.ActionUpdate {
			updates++
			if r.Kind != "Deployment" || !bytes.Contains([]byte(r.Diff), []byte("nginx:1.28")) {
				t.Fatalf("update row %+v", r)
			}
		}
	}
	if updates != 1 {
		t.Fatalf("replan after an edit: %+v", third.Plan)
	}
	if got := applied(t, b, alice, room, third.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("the update: %+v", got)
	}
	image := func() string {
		dep, err := k.AppsV1().Deployments("team-a").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return dep.Spec.Template.Spec.Containers[0].Image
	}
	if got := image(); got != "nginx:1.28" {
		t.Fatalf("image after the update: %s", got)
	}

	// Rollback re-applies the previous deploy's manifests as a new deploy (the policy needs no
	// approval here, so it applies at once); the update becomes rolled-back.
	var rb deploy.Deploy
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+third.ID+"/rollback", "", &rb); st != http.StatusCreated || rb.RollbackOf != third.ID {
		t.Fatalf("rollback: %d %+v", st, rb)
	}
	testwait.Until(t, 3*time.Minute, 250*time.Millisecond, "the rollback ends", func() bool {
		return docDeploy(t, b, alice, room, rb.ID).State != deploy.StateApplying
	})
	if got := docDeploy(t, b, alice, room, rb.ID); got.State != deploy.StateSucceeded {
		t.Fatalf("rollback deploy %+v", got)
	}
	if got := image(); got != "nginx:1.27" {
		t.Fatalf("image after the rollback: %s", got)
	}
	if got := docDeploy(t, a, alice, room, third.ID); got.State != deploy.StateRolledBack {
		t.Fatalf("the rolled-back deploy is %s", got.State)
	}

	// The outcome is counted.
	resp, body := a.Request(t, http.MethodGet, a.SignIn(t, "root", true), "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	m := bytes.NewBuffer(body)
	if !bytes.Contains(m.Bytes(), []byte(`yard_deploys_total{result="succeeded"}`)) || !bytes.Contains(m.Bytes(), []byte("yard_deploy_duration_seconds_count")) {
		t.Fatalf("metrics lack the deploys")
	}
}

func TestApprovalsRBACAndOneApplyAtATime(t *testing.T) {
	a, b, _ := replicas(t)
	alice, bob, carol := a.SignIn(t, "alice", false), b.SignIn(t, "bob", false), a.SignIn(t, "carol", false)
	root := a.SignIn(t, "root", true)
	room, _ := webApp(t, a, alice, "fe")

	// The policy is kept server-side, set by admins only, and seen by every replica.
	if st := call(t, a, http.MethodPut, alice, "/api/rooms/"+room+"/deploy-policy", `{"approvals":1,"fourEyes":true}`, nil); st != http.StatusForbidden {
		t.Fatalf("policy by a non-admin: %d", st)
	}
	if st := call(t, a, http.MethodPut, root, "/api/rooms/"+room+"/deploy-policy", `{"approvals":1,"fourEyes":true}`, nil); st != http.StatusOK {
		t.Fatalf("policy: %d", st)
	}
	var pol deploy.Policy
	if call(t, b, http.MethodGet, bob, "/api/rooms/"+room+"/deploy-policy", "", &pol); pol.Approvals != 1 || !pol.FourEyes {
		t.Fatalf("policy on the other replica %+v", pol)
	}

	_, d := plan(t, a, alice, room, `{}`)
	if d.Required != 1 || !d.FourEyes {
		t.Fatalf("deploy %+v", d)
	}
	var e errBody
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "not_approved" {
		t.Fatalf("apply unapproved: %d %+v", st, e)
	}
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/approve", "", &e); st != http.StatusForbidden {
		t.Fatalf("alice approving her own deploy: %d", st)
	}
	var ok deploy.Deploy
	if st := call(t, b, http.MethodPost, bob, "/api/rooms/"+room+"/deploys/"+d.ID+"/approve", "", &ok); st != http.StatusOK || ok.State != deploy.StateApproved || len(ok.Approvals) != 1 || ok.Approvals[0].User != "bob" {
		t.Fatalf("bob's approval: %d %+v", st, ok)
	}

	// carol may only view demo: her plan's rows carry the cluster's refusals, and it cannot be
	// applied.
	_, cd := plan(t, a, carol, room, `{}`)
	for _, r := range cd.Plan {
		if !bytes.Contains([]byte(r.Error), []byte("forbidden")) {
			t.Fatalf("carol's row %+v", r)
		}
	}
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+cd.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "bad_state" {
		t.Fatalf("apply of carol's plan: %d %+v", st, e)
	}

	// Two applies at once in the room: the second waits its turn (409 deploy_in_progress),
	// whichever replica it reaches.
	call(t, a, http.MethodPut, root, "/api/rooms/"+room+"/deploy-policy", `{"approvals":0,"fourEyes":false}`, nil)
	_, d2 := plan(t, a, alice, room, `{}`)
	var started deploy.Deploy
	if st := call(t, a, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", &started); st != http.StatusAccepted {
		t.Fatalf("apply: %d %+v", st, started)
	}
	if st := call(t, b, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d2.ID+"/apply", "", &e); st != http.StatusConflict || e.Error.Code != "deploy_in_progress" {
		t.Fatalf("second apply: %d %+v", st, e)
	}
	testwait.Until(t, 3*time.Minute, 250*time.Millisecond, "the first deploy ends", func() bool {
		s := docDeploy(t, b, alice, room, d.ID).State
		return s == deploy.StateSucceeded || s == deploy.StateFailed
	})
	if s := docDeploy(t, b, alice, room, d.ID).State; s != deploy.StateSucceeded {
		t.Fatalf("first deploy %s", s)
	}
	// The audit trail has every step with the deploy and the room.
	seen := map[string]bool{}
	es, err := a.App.Audit().List(context.Background(), auditQuery())
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Verb == "deploy" && en.Room == room && en.Deploy == d.ID {
			seen[en.Detail] = true
		}
	}
	for _, want := range []string{"plan", "approve", "apply"} {
		if !seen[want] {
			t.Errorf("audit lacks %s of %s: %v", want, d.ID, seen)
		}
	}
}

func auditQuery() audit.Query { return audit.Query{Verb: "deploy", Limit: audit.MaxLimit} }
