package write

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
)

// Kinds the actions apply to (as cluster.Resolve names them).
var (
	scalable    = []string{"deployments", "statefulsets", "replicasets"}
	restartable = []string{"deployments", "statefulsets", "daemonsets"}
)

// RestartedAtAnnotation is the pod-template annotation a rollout restart sets, as kubectl does.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// MaxReplicas bounds a scale request.
const MaxReplicas = 10000

// Ref names one object: kind as the read endpoints take it ("deployments"), and its namespace
// (ignored for cluster-scoped kinds).
type Ref struct {
	Cluster   string
	Kind      string
	Namespace string
	Name      string
}

// ActionResult is the outcome of an action on one object.
type ActionResult struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Replicas is set by a scale; RestartedAt by a restart; Propagation by a delete.
	Replicas    *int32 `json:"replicas,omitempty"`
	RestartedAt string `json:"restartedAt,omitempty"`
	Propagation string `json:"propagation,omitempty"`
}

// action is an object resolved for an action.
type action struct {
	c   *cluster.Cluster
	res cluster.Resource
	ns  string
	ref Ref
}

// resolve checks ref; allowed, when not nil, lists the kinds the action applies to.
func (w *Writer) resolve(ref Ref, verb string, allowed []string) (action, error) {
	c, err := w.cluster(ref.Cluster)
	if err != nil {
		return action{}, err
	}
	res, builtin := cluster.LookupBuiltin(ref.Kind)
	switch {
	case builtin:
	case !w.enabled:
		// A custom kind would need discovery, and with writes off nothing may reach the
		// apiserver: the refusal is recorded under the kind as asked.
		res = cluster.Resource{Name: ref.Kind, Kind: ref.Kind, Namespaced: ref.Namespace != ""}
	default:
		res, err = c.Resolve(ref.Kind)
	}
	if errors.Is(err, cluster.ErrUnknownKind) {
		return action{}, errcode.Errorf(errcode.NotFound, "%v", err)
	}
	if err != nil {
		return action{}, errcode.Errorf(errcode.Unavailable, "%v", err)
	}
	if allowed != nil && !slices.Contains(allowed, res.Name) {
		return action{}, errcode.Errorf(errcode.BadParams, "%s cannot %s (only %v)", res.Name, verb, allowed)
	}
	if err := validObjectName(ref.Name); err != nil {
		return action{}, errcode.Errorf(errcode.BadParams, "name: %v", err)
	}
	ns := ""
	if res.Namespaced {
		ns = ref.Namespace
		if ns == "" {
			return action{}, errcode.Errorf(errcode.BadParams, "namespace: required for %s", res.Name)
		}
		if len(validation.IsDNS1123Label(ns)) > 0 {
			return action{}, errcode.Errorf(errcode.BadParams, "namespace: not a namespace name")
		}
	}
	return action{c: c, res: res, ns: ns, ref: ref}, nil
}

func (a action) client(uc *cluster.UserClients) dynamic.ResourceInterface {
	r := uc.Dynamic.Resource(a.res.GVR)
	if a.res.Namespaced {
		return r.Namespace(a.ns)
	}
	return r
}

// do runs call as one audited attempt of verb; call makes the apiserver request.
func (w *Writer) do(ctx context.Context, u identity.User, a action, verb string, o Origin, call func(ctx context.Context, rc dynamic.ResourceInterface) error) error {
	defer w.observe(verb, time.Now())
	e := w.newEntry(u, a.c.Name, verb, a.res.Kind, a.ns, a.ref.Name, false, o)
	if !w.enabled {
		att, err := w.refuse(ctx, e, disabled())
		if err != nil {
			return err
		}
		w.announce(ctx, []*attempt{att})
		return disabled().asError()
	}
	att, err := w.begin(ctx, e)
	if err != nil {
		return err
	}
	defer w.announce(ctx, []*attempt{att})
	uc, err := a.c.Clients(u)
	if err != nil {
		e := &ObjectError{Code: errcode.Unavailable, Message: "no client for the cluster"}
		att.finish(ctx, e, "")
		return e.asError()
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if e := objectError(call(cctx, a.client(uc))); e != nil {
		att.finish(ctx, e, "")
		return e.asError()
	}
	att.finish(ctx, nil, "")
	return nil
}

// Scale sets the replicas of a deployment, statefulset or replicaset through its scale
// subresource.
func (w *Writer) Scale(ctx context.Context, u identity.User, ref Ref, replicas int32, o Origin) (ActionResult, error) {
	if replicas < 0 || replicas > MaxReplicas {
		return ActionResult{}, errcode.Errorf(errcode.BadParams, "replicas: 0 to %d", MaxReplicas)
	}
	a, err := w.resolve(ref, audit.VerbScale, scalable)
	if err != nil {
		return ActionResult{}, err
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": replicas}})
	err = w.do(ctx, u, a, audit.VerbScale, o, func(ctx context.Context, rc dynamic.ResourceInterface) error {
		_, err := rc.Patch(ctx, a.ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}, "scale")
		return err
	})
	if err != nil {
		return ActionResult{}, err
	}
	return ActionResult{Kind: a.res.Kind, Namespace: a.ns, Name: a.ref.Name, Replicas: &replicas}, nil
}

// Restart restarts the rollout of a deployment, statefulset or daemonset as `kubectl rollout
// restart` does: a new kubectl.kubernetes.io/restartedAt annotation on the pod template.
func (w *Writer) Restart(ctx context.Context, u identity.User, ref Ref, o Origin) (ActionResult, error) {
	a, err := w.resolve(ref, audit.VerbRestart, restartable)
	if err != nil {
		return ActionResult{}, err
	}
	at := time.Now().UTC().Format(time.RFC3339)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{RestartedAtAnnotation: at}}}}})
	err = w.do(ctx, u, a, audit.VerbRestart, o, func(ctx context.Context, rc dynamic.ResourceInterface) error {
		_, err := rc.Patch(ctx, a.ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil {
		return ActionResult{}, err
	}
	return ActionResult{Kind: a.res.Kind, Namespace: a.ns, Name: a.ref.Name, RestartedAt: at}, nil
}

// Propagation policies of a delete.
var propagations = []string{string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationOrphan)}

// Delete deletes one object of any kind; propagation is Background (the default when empty),
// Foreground or Orphan.
func (w *Writer) Delete(ctx context.Context, u identity.User, ref Ref, propagation string, o Origin) (ActionResult, error) {
	if propagation == "" {
		propagation = string(metav1.DeletePropagationBackground)
	}
	if !slices.Contains(propagations, propagation) {
		return ActionResult{}, errcode.Errorf(errcode.BadParams, "propagation: one of %v", propagations)
	}
	a, err := w.resolve(ref, audit.VerbDelete, nil)
	if err != nil {
		return ActionResult{}, err
	}
	p := metav1.DeletionPropagation(propagation)
	err = w.do(ctx, u, a, audit.VerbDelete, o, func(ctx context.Context, rc dynamic.ResourceInterface) error {
		return rc.Delete(ctx, a.ref.Name, metav1.DeleteOptions{PropagationPolicy: &p})
	})
	if err != nil {
		return ActionResult{}, err
	}
	return ActionResult{Kind: a.res.Kind, Namespace: a.ns, Name: a.ref.Name, Propagation: propagation}, nil
}
