package deploy

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/server/workflow"
)

// live is an object as a watch delivers it.
func live(kind, name, rv string, fields map[string]any) *unstructured.Unstructured {
	o := obj(kind, fields)
	o.SetNamespace("team-a")
	o.SetName(name)
	o.SetResourceVersion(rv)
	o.SetLabels(map[string]string{workflow.LabelRoom: "r1", workflow.LabelNode: "web"})
	return o
}

func pod(name, node, waiting string) *unstructured.Unstructured {
	p := live("Pod", name, "1", map[string]any{"status": map[string]any{"containerStatuses": []any{
		map[string]any{"name": "app", "state": map[string]any{"waiting": map[string]any{"reason": waiting, "message": "m"}}},
	}}})
	p.SetLabels(map[string]string{workflow.LabelRoom: "r1", workflow.LabelNode: node})
	return p
}

func readyDeployment(rv string, gen int64) *unstructured.Unstructured {
	o := live("Deployment", "web", rv, map[string]any{
		"spec":   map[string]any{"replicas": int64(1)},
		"status": map[string]any{"observedGeneration": gen, "readyReplicas": int64(1), "updatedReplicas": int64(1)},
	})
	o.SetGeneration(gen)
	return o
}

// The watch source answers with the same rule as a read, from the events it was given: nothing
// before the kind's first list, nothing from a version older than the apply's, a pod's trouble
// of the node (and not of another node) fails it, a reset forgets the kind.
func TestWatchSourceStatuses(t *testing.T) {
	applied := readyDeployment("", 2)
	w := newWatchSource(map[string]string{objKey("deployments", "team-a", "web"): "20"})
	ctx := context.Background()
	want := func(what, status, msg string) {
		t.Helper()
		got := w.status(ctx, applied)
		if got.Status != status || !strings.Contains(got.Message, msg) {
			t.Fatalf("%s: %+v, want %s with %q", what, got, status, msg)
		}
	}
	w.on(WatchEvent{Type: WatchAdded, Kind: "deployments", Object: readyDeployment("10", 1)})
	want("before any SYNCED", NodeProgressing, "first list")
	w.on(WatchEvent{Type: WatchSynced, Kind: "deployments"})
	want("pods not listed yet", NodeProgressing, "first list")
	select {
	case <-w.changed():
	default:
		t.Fatal("an event did not signal a change")
	}
	w.on(WatchEvent{Type: WatchSynced, Kind: "pods"})
	want("the version before the apply", NodeProgressing, "applied version")
	w.on(WatchEvent{Type: WatchModified, Kind: "deployments", Object: readyDeployment("21", 2)})
	want("applied and rolled out", NodeReady, "1/1 ready")
	w.on(WatchEvent{Type: WatchAdded, Kind: "pods", Object: pod("other-1", "db", "CrashLoopBackOff")})
	want("another node's pod", NodeReady, "")
	w.on(WatchEvent{Type: WatchAdded, Kind: "pods", Object: pod("web-2", "web", "ErrImagePull")})
	w.on(WatchEvent{Type: WatchAdded, Kind: "pods", Object: pod("web-1", "web", "CrashLoopBackOff")})
	want("the node's pods, first by name", NodeFailed, "crash loop: pod web-1")
	w.on(WatchEvent{Type: WatchDeleted, Kind: "pods", Object: pod("web-1", "web", "")})
	want("one pod left", NodeFailed, "image pull error: pod web-2")
	w.on(WatchEvent{Type: WatchDeleted, Kind: "pods", Object: pod("web-2", "web", "")})
	w.on(WatchEvent{Type: WatchError, Kind: "deployments", Message: "forbidden: access revoked"})
	w.on(WatchEvent{Type: WatchDeleted, Kind: "deployments", Object: readyDeployment("22", 2)})
	want("withdrawn", NodeProgressing, "access revoked")
	w.on(WatchEvent{Type: WatchAdded, Kind: "deployments", Object: readyDeployment("23", 2)})
	want("back", NodeReady, "")
	w.on(WatchEvent{Type: WatchReset, Kind: "deployments"})
	want("reset", NodeProgressing, "first list")
	w.on(WatchEvent{Type: WatchSynced, Kind: "deployments"})
	want("reset, listed again without it", NodeProgressing, "not found yet")

	// A kind the deploy does not follow is ready as rendered, as a read says.
	if got := w.status(ctx, obj("SecretRef", map[string]any{})); got.Status != NodeReady {
		t.Fatalf("unfollowed kind: %+v", got)
	}
}

func TestNodeStatusesAndChanges(t *testing.T) {
	d := &Deploy{Nodes: map[string]NodeStatus{"web": {}, "svc": {}, "secret": {}}}
	mk := func(kind, node string) *unstructured.Unstructured {
		o := obj(kind, map[string]any{})
		o.SetLabels(map[string]string{workflow.LabelNode: node})
		return o
	}
	objs := []*unstructured.Unstructured{mk("ConfigMap", "web"), mk("Deployment", "web"), mk("Service", "svc")}
	look := func(o *unstructured.Unstructured) NodeStatus {
		if o.GetKind() == "Deployment" {
			return NodeStatus{Status: NodeProgressing, Message: "0/1 ready"}
		}
		return NodeStatus{Status: NodeReady}
	}
	st := nodeStatuses(d, objs, look)
	if st["web"].Status != NodeProgressing || st["svc"].Status != NodeReady || st["secret"].Status != NodeReady || len(st) != 3 {
		t.Fatalf("statuses %+v", st)
	}
	if ch := changedNodes(nil, st); len(ch) != 3 {
		t.Fatalf("first write: %+v", ch)
	}
	next := map[string]NodeStatus{"web": {Status: NodeReady}, "svc": st["svc"], "secret": st["secret"]}
	if ch := changedNodes(st, next); len(ch) != 1 || ch["web"].Status != NodeReady {
		t.Fatalf("changes %+v", ch)
	}
	if ch := changedNodes(next, next); len(ch) != 0 {
		t.Fatalf("nothing changed, yet %+v", ch)
	}
}
