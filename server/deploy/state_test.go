package deploy

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
)

func TestTransitions(t *testing.T) {
	all := []string{StatePlanned, StateApproved, StateApplying, StateSucceeded, StateFailed, StateCancelled, StateInvalidated, StateRejected, StateRolledBack}
	allowed := map[[2]string]bool{}
	for _, p := range [][2]string{
		{StatePlanned, StateApproved}, {StatePlanned, StateApplying}, {StatePlanned, StateRejected}, {StatePlanned, StateInvalidated}, {StatePlanned, StateCancelled},
		{StateApproved, StateApproved}, {StateApproved, StateApplying}, {StateApproved, StateRejected}, {StateApproved, StateInvalidated}, {StateApproved, StateCancelled},
		{StateApplying, StateSucceeded}, {StateApplying, StateFailed}, {StateApplying, StateCancelled},
		{StateSucceeded, StateRolledBack},
	} {
		allowed[p] = true
	}
	for _, from := range all {
		for _, to := range all {
			if got := CanMove(from, to); got != allowed[[2]string{from, to}] {
				t.Errorf("CanMove(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestPolicyAndAppliable(t *testing.T) {
	d := &Deploy{ID: "d1", State: StatePlanned, Proposer: "alice", Required: 1, FourEyes: true}
	if err := appliable(d); errcode.As(err).Code != errcode.NotApproved {
		t.Fatalf("no approvals: %v", err)
	}
	d.Approvals = []Approval{{User: "alice"}}
	if d.PolicyMet() {
		t.Fatal("four-eyes: the proposer's approval counted")
	}
	d.Approvals = append(d.Approvals, Approval{User: "bob"})
	if !d.PolicyMet() || appliable(d) != nil {
		t.Fatalf("bob's approval: met %v, %v", d.PolicyMet(), appliable(d))
	}
	d.FourEyes, d.Approvals = false, []Approval{{User: "alice"}}
	if !d.PolicyMet() {
		t.Fatal("without four-eyes the proposer's approval counts")
	}
	d.Plan = []PlanRow{{Error: "forbidden: no"}}
	if err := appliable(d); errcode.As(err).Code != errcode.BadState {
		t.Fatalf("plan with errors: %v", err)
	}
	d.Plan, d.State = nil, StateSucceeded
	if err := appliable(d); errcode.As(err).Code != errcode.BadState {
		t.Fatalf("finished: %v", err)
	}
	if invalidate(&Deploy{State: StateApplying, WorkflowHash: "a"}, "b") {
		t.Fatal("an applying deploy was invalidated")
	}
	o := &Deploy{State: StateApproved, WorkflowHash: "a"}
	if !invalidate(o, "b") || o.State != StateInvalidated || invalidate(&Deploy{State: StatePlanned, WorkflowHash: "a"}, "a") {
		t.Fatal("invalidation by hash")
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	doc := crdt.NewDoc()
	d := &Deploy{ID: "d1", Proposer: "alice", State: StatePlanned, Required: 2, Token: 7,
		Plan:      []PlanRow{{NodeID: "n1", Kind: "Deployment", Namespace: "team-a", Name: "web", Action: ActionCreate, Diff: "+a"}},
		Approvals: []Approval{{User: "bob", At: "t"}},
		Nodes:     map[string]NodeStatus{"n1": {Status: NodePending}}}
	var err error
	doc.Transact(func(tx *crdt.Transaction) { err = writeDeploy(doc, tx, d) })
	if err != nil {
		t.Fatal(err)
	}
	got, ok := readDeploy(doc, "d1")
	if !ok || got.Proposer != "alice" || got.Required != 2 || got.Token != 7 || len(got.Plan) != 1 || got.Plan[0].Diff != "+a" ||
		got.Approvals[0].User != "bob" || got.Nodes["n1"].Status != NodePending {
		t.Fatalf("read back %+v", got)
	}
	// A client's value of the wrong type reads as the zero value, never a panic.
	doc.Transact(func(tx *crdt.Transaction) {
		m, _ := childMap(doc.GetMap(Root), "d1")
		err = m.Set(tx, "required", "many")
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = readDeploy(doc, "d1")
	if got.Required != 0 || got.Proposer != "alice" {
		t.Fatalf("lenient read %+v", got)
	}
}

func TestMemoryPolicies(t *testing.T) {
	p := NewMemoryPolicies(Policy{Approvals: 1})
	ctx := context.Background()
	if got, _ := p.Get(ctx, "r"); got.Approvals != 1 {
		t.Fatalf("default %+v", got)
	}
	_ = p.Set(ctx, "r", Policy{Approvals: 2, FourEyes: true})
	if got, _ := p.Get(ctx, "r"); !got.FourEyes || got.Approvals != 2 {
		t.Fatalf("set %+v", got)
	}
}

func obj(kind string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: fields}
	o.SetKind(kind)
	return o
}

func TestStatus(t *testing.T) {
	dep := func(gen, observed, replicas, ready, updated int64) *unstructured.Unstructured {
		o := obj("Deployment", map[string]any{
			"spec":   map[string]any{"replicas": replicas},
			"status": map[string]any{"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated},
		})
		o.SetGeneration(gen)
		return o
	}
	waiting := func(reason string) []corev1.Pod {
		return []corev1.Pod{{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}}}}}}
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		pods []corev1.Pod
		want string
	}{
		{"ready", dep(2, 2, 2, 2, 2), nil, NodeReady},
		{"old generation", dep(3, 2, 2, 2, 2), nil, NodeProgressing},
		{"not all ready", dep(1, 1, 2, 1, 2), nil, NodeProgressing},
		{"image pull", dep(1, 1, 1, 0, 1), waiting("ErrImagePull"), NodeFailed},
		{"back-off", dep(1, 1, 1, 0, 1), waiting("ImagePullBackOff"), NodeFailed},
		{"crash loop", dep(1, 1, 1, 0, 1), waiting("CrashLoopBackOff"), NodeFailed},
		{"creating", dep(1, 1, 1, 0, 1), waiting("ContainerCreating"), NodeProgressing},
		{"unschedulable", dep(1, 1, 1, 0, 1), []corev1.Pod{{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}}}}, NodeFailed},
		{"job done", obj("Job", map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}}), nil, NodeReady},
		{"job failed", obj("Job", map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True"}}}}), nil, NodeFailed},
		{"job running", obj("Job", map[string]any{}), nil, NodeProgressing},
		{"service", obj("Service", map[string]any{}), nil, NodeReady},
		{"pvc pending", obj("PersistentVolumeClaim", map[string]any{"status": map[string]any{"phase": "Pending"}}), nil, NodeReady},
	}
	for _, c := range cases {
		if got := Status(c.obj, c.pods); got.Status != c.want {
			t.Errorf("%s: %+v, want %s", c.name, got, c.want)
		}
	}
}
