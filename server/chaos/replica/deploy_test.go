//go:build chaos

package replica

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// deployEnd bounds how long a deploy may stay applying after its replica died: the lock's lease
// (30 s) runs out, then the next sweep (every 10 s) of another replica ends it.
const deployEnd = 90 * time.Second

// applyingOn plans two web-apps (eight nodes) in a new room from b and starts applying them on
// a; it returns the room, alice's token and the deploy.
func applyingOn(t *testing.T, a, b *replica) (string, string, deploy.Deploy) {
	t.Helper()
	alice := yardtest.SignIn(t, b.URL, "alice", false)
	room := fmt.Sprintf("chaos-deploy-%d", time.Now().UnixNano()%1e9)
	for i := range 2 {
		body := fmt.Sprintf(`{"name":"chaos-web-%d-%d","x":%d,"y":0}`, time.Now().UnixNano()%1e6, i, i*600)
		chaostest.MustCall(t, b.Server, http.MethodPost, alice, "/api/rooms/"+room+"/workflow/templates/web-app", body, http.StatusOK, nil)
	}
	// The namespace, written as a client writes it.
	p := b.Join(t, alice, room)
	p.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) {
		_ = doc.GetMap(deploy.WorkflowRoot).Set(tx, "namespace", "team-a")
	})
	testwait.Until(t, 30*time.Second, 100*time.Millisecond, "the namespace reaches a", func() bool {
		var doc map[string]any
		_, err := chaostest.Call(a.Server, http.MethodGet, alice, "/api/rooms/"+room+"/doc", "", &doc)
		b, _ := json.Marshal(doc["workflow"])
		return err == nil && bytes.Contains(b, []byte(`"team-a"`))
	})
	var d deploy.Deploy
	chaostest.MustCall(t, a.Server, http.MethodPost, alice, "/api/rooms/"+room+"/deploys", `{}`, http.StatusCreated, &d)
	chaostest.MustCall(t, a.Server, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", http.StatusAccepted, nil)
	return room, alice, d
}

func deployOn(t *testing.T, r *replica, token, room, id string) deploy.Deploy {
	t.Helper()
	var d deploy.Deploy
	chaostest.MustCall(t, r.Server, http.MethodGet, token, "/api/rooms/"+room+"/deploys/"+id, "", http.StatusOK, &d)
	return d
}

func nodeSummary(d deploy.Deploy) string {
	count := map[string]int{}
	for _, n := range d.Nodes {
		count[n.Status]++
	}
	return fmt.Sprint(count)
}

// checkEnded asserts the guarantee: not applying, ended with a reason, every node settled.
func checkEnded(t *testing.T, d deploy.Deploy) {
	t.Helper()
	if d.State != deploy.StateFailed && d.State != deploy.StateSucceeded {
		t.Fatalf("deploy ended %s, want failed or succeeded: %+v", d.State, d)
	}
	if d.State == deploy.StateFailed && d.Message == "" || d.FinishedAt == "" {
		t.Fatalf("deploy ended without a reason or an end time: %+v", d)
	}
	for id, n := range d.Nodes {
		if n.Status != deploy.NodeReady && n.Status != deploy.NodeFailed {
			t.Fatalf("node %s left %s", id, n.Status)
		}
	}
}

// deployRun is a deploy that a fault interrupted, and how it ended.
type deployRun struct {
	a, b        *replica
	room, alice string
	d, got      deploy.Deploy
	at          time.Time // the fault
}

// deployFault applies a deploy on a, applies fault to a while it is applying, and waits for b to
// end the deploy, asserting the ending.
func deployFault(t *testing.T, guarantee string, fault func(a *replica)) deployRun {
	rp := chaostest.NewReport(t, guarantee)
	rg := newRig(t, "--write-enabled", "--deploy-timeout", "2m")
	a, b := rg.Replica("a"), rg.Replica("b")
	room, alice, d := applyingOn(t, a, b)
	rp.Set("nodes", "%d", len(d.Plan))
	now := deployOn(t, a, alice, room, d.ID)
	rp.Set("at_fault", "%s %s", now.State, nodeSummary(now))
	at := time.Now()
	fault(a)
	var got deploy.Deploy
	testwait.Until(t, deployEnd, 250*time.Millisecond, "the deploy leaves applying", func() bool {
		got = deployOn(t, b, alice, room, d.ID)
		return got.State != deploy.StateApplying
	})
	rp.Set("ended_after", "%s", chaostest.Seconds(time.Since(at)))
	rp.Set("end", "%s %q", got.State, got.Message)
	checkEnded(t, got)
	return deployRun{a: a, b: b, room: room, alice: alice, d: d, got: got, at: at}
}

// The replica applying a deploy is SIGKILLed mid-apply: the other replica ends it (failed, with
// the reason) once the lock's lease ran out; it never stays applying.
func TestReplicaKilledMidDeploy(t *testing.T) {
	deployFault(t, "a deploy whose replica dies ends succeeded or failed with a reason within lease + sweep (90 s); never stays applying",
		func(a *replica) { a.Proc.Kill(t) })
}

// The replica applying a deploy is SIGSTOPped past its lease (45 s): the other replica ends the
// deploy; when the stopped replica continues, its apply has lost the lock and must not change
// the ending (the lock's fencing token).
func TestReplicaStoppedMidDeploy(t *testing.T) {
	run := deployFault(t, "a deploy whose replica hangs past its lease is ended by the other replica, and the resumed replica does not change the ending",
		func(a *replica) { a.Proc.Stop(t) })
	time.Sleep(time.Until(run.at.Add(45 * time.Second)))
	run.a.Proc.Continue(t)
	// Give the continued replica time to catch up and to try to finish its apply.
	time.Sleep(15 * time.Second)
	for _, r := range []*replica{run.a, run.b} {
		after := deployOn(t, r, run.alice, run.room, run.d.ID)
		if after.State != run.got.State || after.Message != run.got.Message {
			t.Errorf("after a continued, %s serves the deploy as %s %q; it had ended %s %q",
				r.Name, after.State, after.Message, run.got.State, run.got.Message)
		}
	}
}
