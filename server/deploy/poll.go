package deploy

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/workflow"
)

// pollSource reads each applied object (and a workload's pods) as the applying user whenever it
// is asked: the fallback when the shared watches cannot serve a deploy.
type pollSource struct{ uc *cluster.UserClients }

func (pollSource) changed() <-chan struct{} { return nil }
func (pollSource) stop()                    {}

// status reads one applied object and its pods as the applying user.
func (p pollSource) status(ctx context.Context, o *unstructured.Unstructured) NodeStatus {
	gvr, ok := resourceOf(o.GetKind())
	if !ok {
		return NodeStatus{Status: NodeReady}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	live, err := p.uc.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(cctx, o.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return NodeStatus{Status: NodeProgressing, Message: "not found yet"}
	case err != nil:
		return NodeStatus{Status: NodeProgressing, Message: "reading it: " + err.Error()}
	}
	var pods []corev1.Pod
	if workflow.IsWorkload(o.GetKind()) {
		sel := workflow.LabelRoom + "=" + o.GetLabels()[workflow.LabelRoom] + "," + workflow.LabelNode + "=" + o.GetLabels()[workflow.LabelNode]
		list, err := p.uc.Typed.CoreV1().Pods(o.GetNamespace()).List(cctx, metav1.ListOptions{LabelSelector: sel})
		if err == nil {
			pods = list.Items
		}
	}
	return Status(live, pods)
}
