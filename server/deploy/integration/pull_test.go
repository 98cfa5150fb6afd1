package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/testwait"
)

// A workload whose image cannot be pulled fails its node, and the deploy, with the reason, as a
// real kubelet's ErrImagePull would (the local node fails controlplane.UnpullableImage).
func TestUnpullableImageFailsTheNodeWithTheReason(t *testing.T) {
	a, b, _ := replicas(t)
	alice := a.SignIn(t, "alice", false)
	room := unique("pull")
	name := room[len(room)-6:] + "-web" // the cluster outlives the test: a name of its own
	writeWorkflow(t, a, room, map[string]any{
		"web": map[string]any{"kind": "Deployment", "name": name, "image": controlplane.UnpullableImage, "replicas": 1, "x": 0, "y": 0},
	}, map[string]any{})
	setNamespace(t, a, room, "team-a")
	_, d := plan(t, a, alice, room, `{}`)
	if len(d.Plan) != 1 || d.Plan[0].Action != deploy.ActionCreate || d.Plan[0].Error != "" {
		t.Fatalf("plan %+v", d.Plan)
	}
	got := applied(t, a, alice, room, d.ID)
	if got.State != deploy.StateFailed {
		t.Fatalf("deploy ended %s (%s), want failed", got.State, got.Message)
	}
	// The reason is on the node, on both replicas (the other one's copy may lag a moment).
	if n := got.Nodes["web"]; n.Status != deploy.NodeFailed || !strings.Contains(n.Message, "ErrImagePull") {
		t.Fatalf("node web %+v, want failed with ErrImagePull", n)
	}
	onB := b.SignIn(t, "alice", false)
	testwait.Until(t, 30*time.Second, 100*time.Millisecond, "the failed node on the other replica", func() bool {
		n := docDeploy(t, b, onB, room, d.ID).Nodes["web"]
		return n.Status == deploy.NodeFailed && strings.Contains(n.Message, "ErrImagePull")
	})
}
