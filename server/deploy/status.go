package deploy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/server/workflow"
)

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

// nodeStatuses is every node's status: the worst of its objects' (look gives one object's), and
// ready for a node that renders nothing (a SecretRef, checked by the plan).
func nodeStatuses(d *Deploy, objs []*unstructured.Unstructured, look func(o *unstructured.Unstructured) NodeStatus) map[string]NodeStatus {
	statuses := map[string]NodeStatus{}
	rendered := map[string]bool{}
	for _, o := range objs {
		rendered[o.GetLabels()[workflow.LabelNode]] = true
	}
	for node := range d.Nodes {
		if !rendered[node] {
			statuses[node] = NodeStatus{Status: NodeReady}
		}
	}
	for _, o := range objs {
		node := o.GetLabels()[workflow.LabelNode]
		st := look(o)
		if prev, ok := statuses[node]; ok && rank(prev.Status) > rank(st.Status) {
			continue
		}
		statuses[node] = st
	}
	return statuses
}

// changedNodes is what differs in next from last (every node of next when last is nil).
func changedNodes(last, next map[string]NodeStatus) map[string]NodeStatus {
	out := map[string]NodeStatus{}
	for id, st := range next {
		if prev, ok := last[id]; !ok || prev != st {
			out[id] = st
		}
	}
	return out
}
