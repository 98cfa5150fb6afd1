package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/workflow"
)

// follow reads the applied objects (and their pods) as u every Poll and writes each node's
// status, until every node is ready (succeeded), one failed (failed), the timeout (failed),
// or the deploy was cancelled. "" means it stopped for another reason (taken over).
func (s *Service) follow(ctx context.Context, u identity.User, room string, d *Deploy, token int64) (string, string) {
	var objs []*unstructured.Unstructured
	if err := json.Unmarshal([]byte(d.Manifests), &objs); err != nil {
		return StateFailed, err.Error()
	}
	uc, err := s.userClients(u, d.Cluster)
	if err != nil {
		return StateFailed, err.Error()
	}
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	rendered := map[string]bool{}
	for _, o := range objs {
		rendered[o.GetLabels()[workflow.LabelNode]] = true
	}
	for {
		statuses := map[string]NodeStatus{}
		for node := range d.Nodes {
			if !rendered[node] {
				// It renders nothing (a SecretRef, checked by the plan): nothing to roll out.
				statuses[node] = NodeStatus{Status: NodeReady}
			}
		}
		for _, o := range objs {
			node := o.GetLabels()[workflow.LabelNode]
			st := s.observe(ctx, uc, o)
			if prev, ok := statuses[node]; ok && rank(prev.Status) > rank(st.Status) {
				continue
			}
			statuses[node] = st
		}
		if ctx.Err() != nil {
			break
		}
		if state, err := s.setNodes(ctx, room, d.ID, token, statuses); err != nil {
			return stopped(state, err)
		}
		if msg, failed := firstFailed(statuses); failed {
			return StateFailed, msg
		}
		if allReady(statuses) {
			return StateSucceeded, ""
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	if s.ctx.Err() != nil {
		return "", ""
	}
	msg := fmt.Sprintf("timeout: not every node was ready within %s", s.o.Timeout)
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pending := map[string]NodeStatus{}
	for _, o := range objs {
		node := o.GetLabels()[workflow.LabelNode]
		pending[node] = NodeStatus{Status: NodeFailed, Message: msg}
	}
	if state, err := s.setNodes(fctx, room, d.ID, token, pending); err != nil {
		return stopped(state, err)
	}
	return StateFailed, msg
}

// rank orders statuses so a node with several objects shows its worst.
func rank(s string) int {
	switch s {
	case NodeFailed:
		return 4
	case NodePending:
		return 3
	case NodeApplying:
		return 2
	case NodeProgressing:
		return 1
	}
	return 0
}

func firstFailed(st map[string]NodeStatus) (string, bool) {
	ids := make([]string, 0, len(st))
	for id := range st {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if st[id].Status == NodeFailed {
			return "node " + id + ": " + st[id].Message, true
		}
	}
	return "", false
}

func allReady(st map[string]NodeStatus) bool {
	for _, s := range st {
		if s.Status != NodeReady {
			return false
		}
	}
	return true
}

// observe reads one applied object and its pods as the applying user.
func (s *Service) observe(ctx context.Context, uc *cluster.UserClients, o *unstructured.Unstructured) NodeStatus {
	gvr, ok := resourceOf(o.GetKind())
	if !ok {
		return NodeStatus{Status: NodeReady}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	live, err := uc.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(cctx, o.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return NodeStatus{Status: NodeProgressing, Message: "not found yet"}
	case err != nil:
		return NodeStatus{Status: NodeProgressing, Message: "reading it: " + err.Error()}
	}
	var pods []corev1.Pod
	if workflow.IsWorkload(o.GetKind()) {
		sel := workflow.LabelRoom + "=" + o.GetLabels()[workflow.LabelRoom] + "," + workflow.LabelNode + "=" + o.GetLabels()[workflow.LabelNode]
		list, err := uc.Typed.CoreV1().Pods(o.GetNamespace()).List(cctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil {
			pods = list.Items
		}
	}
	return Status(live, pods)
}

// Status is a live object's rollout status, with its pods for workloads. Deployments and
// StatefulSets are ready when their controller observed the current generation and every
// desired replica is updated and ready; a Job when complete; other kinds when they exist (a
// PersistentVolumeClaim too: the local control plane has no provisioner, so Bound is not
// awaited, and its phase is the message). Pods waiting on an image pull error, crash looping
// or unschedulable fail the node with the reason.
func Status(live *unstructured.Unstructured, pods []corev1.Pod) NodeStatus {
	if msg, bad := podTrouble(pods); bad {
		return NodeStatus{Status: NodeFailed, Message: msg}
	}
	switch live.GetKind() {
	case workflow.KindDeployment, workflow.KindStatefulSet:
		return rollout(live)
	case workflow.KindJob:
		for _, c := range conditions(live) {
			if c["status"] != "True" {
				continue
			}
			switch c["type"] {
			case "Complete":
				return NodeStatus{Status: NodeReady, Message: "job complete"}
			case "Failed":
				return NodeStatus{Status: NodeFailed, Message: "job failed: " + c["message"]}
			}
		}
		return NodeStatus{Status: NodeProgressing, Message: "job running"}
	case workflow.KindPVC:
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		return NodeStatus{Status: NodeReady, Message: phase}
	}
	return NodeStatus{Status: NodeReady}
}

func rollout(live *unstructured.Unstructured) NodeStatus {
	observed, _, _ := unstructured.NestedInt64(live.Object, "status", "observedGeneration")
	want, found, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	ready, _, _ := unstructured.NestedInt64(live.Object, "status", "readyReplicas")
	updated, _, _ := unstructured.NestedInt64(live.Object, "status", "updatedReplicas")
	for _, c := range conditions(live) {
		if c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded" {
			return NodeStatus{Status: NodeFailed, Message: "progress deadline exceeded: " + c["message"]}
		}
	}
	if observed < live.GetGeneration() {
		return NodeStatus{Status: NodeProgressing, Message: "waiting for the controller"}
	}
	if ready == want && updated == want {
		return NodeStatus{Status: NodeReady, Message: fmt.Sprintf("%d/%d ready", ready, want)}
	}
	return NodeStatus{Status: NodeProgressing, Message: fmt.Sprintf("%d/%d ready, %d updated", ready, want, updated)}
}

func conditions(live *unstructured.Unstructured) []map[string]string {
	raw, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	out := make([]map[string]string, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		c := map[string]string{}
		for _, k := range []string{"type", "status", "reason", "message"} {
			c[k], _ = m[k].(string)
		}
		out = append(out, c)
	}
	return out
}

// podTrouble finds the first pod reason that fails a node.
func podTrouble(pods []corev1.Pod) (string, bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return "unschedulable: pod " + p.Name + ": " + c.Message, true
			}
		}
		for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil {
				continue
			}
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName":
				return strings.TrimSpace("image pull error: pod " + p.Name + " container " + cs.Name + ": " + w.Reason + " " + w.Message), true
			case "CrashLoopBackOff":
				return "crash loop: pod " + p.Name + " container " + cs.Name + ": " + w.Message, true
			case "CreateContainerConfigError":
				return "container config error: pod " + p.Name + " container " + cs.Name + ": " + w.Message, true
			}
		}
	}
	return "", false
}
