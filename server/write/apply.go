package write

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
)

// MaxObjects bounds one apply.
const MaxObjects = 500

// Actions of an applied object.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
)

// ApplyOptions are the settings of one apply.
type ApplyOptions struct {
	// Namespace fills namespaced objects that name none ("default" when empty).
	Namespace string
	// DryRun only asks the cluster what would change.
	DryRun bool
	// Force takes over fields owned by other field managers.
	Force bool
	Origin
}

// Result is the outcome for one object of an apply.
type Result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	// Action is created, configured or unchanged; empty when the object failed.
	Action string `json:"action,omitempty"`
	// Diff is the unified diff of the live object against the result, both as YAML, with Secret
	// values redacted; empty when unchanged or failed.
	Diff  string       `json:"diff"`
	Error *ObjectError `json:"error,omitempty"`
	// ResourceVersion is the applied object's, from the apiserver's answer (empty when it failed
	// or was a dry run): a reader of a watch knows it saw the applied object once it reaches it.
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// applyItem is one object of an apply, checked and resolved.
type applyItem struct {
	obj     *unstructured.Unstructured
	mapping *meta.RESTMapping
	live    *unstructured.Unstructured
	att     *attempt
}

// Apply applies objs on cluster clusterName as u with server-side apply (field manager "yard").
// Every object is dry-run first, and nothing is applied unless every dry run passed. The
// results are in the order of objs. The error is an *errcode.Error: bad_params for objects that
// cannot be applied at all (nothing is recorded or sent), writes_disabled, invalid when a dry
// run failed (each result says why), or the code of the first object that failed to apply.
func (w *Writer) Apply(ctx context.Context, u identity.User, clusterName string, objs []*unstructured.Unstructured, o ApplyOptions) ([]Result, error) {
	defer w.observe(audit.VerbApply, time.Now())
	c, err := w.cluster(clusterName)
	if err != nil {
		return nil, err
	}
	// With writes off, nothing may reach the apiserver, discovery included: the objects are
	// checked without resolving their kinds, recorded and refused.
	refuse := !w.enabled && !o.DryRun
	items, err := w.prepare(c, objs, o.Namespace, !refuse)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(items))
	for i, it := range items {
		results[i] = Result{APIVersion: it.obj.GetAPIVersion(), Kind: it.obj.GetKind(), Namespace: it.obj.GetNamespace(), Name: it.obj.GetName()}
	}
	// Every attempt is recorded before any call; at once, since a trail that syncs each record
	// (a file, Redis with appendfsync always) then syncs many in one go.
	errs := make([]error, len(items))
	eachConcurrently(items, func(i int, it *applyItem) bool {
		e := w.newEntry(u, c.Name, audit.VerbApply, it.obj.GetKind(), it.obj.GetNamespace(), it.obj.GetName(), o.DryRun, o.Origin)
		if refuse {
			results[i].Error = disabled()
			it.att, errs[i] = w.refuse(ctx, e, results[i].Error)
		} else {
			it.att, errs[i] = w.begin(ctx, e)
		}
		return errs[i] == nil
	})
	if err := errors.Join(errs...); err != nil {
		for _, it := range items {
			if it.att != nil && it.att.result == "" {
				it.att.finish(ctx, &ObjectError{Code: errcode.Unavailable, Message: "the audit trail is unavailable"}, "")
			}
		}
		return nil, errcode.Errorf(errcode.Unavailable, "the audit trail is unavailable; nothing was changed")
	}
	defer func() {
		atts := make([]*attempt, len(items))
		for i, it := range items {
			atts[i] = it.att
		}
		w.announce(ctx, atts)
	}()
	if refuse {
		return results, disabled().asError()
	}
	uc, err := c.Clients(u)
	if err != nil {
		e := &ObjectError{Code: errcode.Unavailable, Message: "no client for the cluster"}
		for i, it := range items {
			results[i].Error = e
			it.att.finish(ctx, e, "")
		}
		w.log.Warn("write: clients", "cluster", c.Name, "err", err)
		return results, e.asError()
	}

	failed := 0
	for _, ok := range eachConcurrently(items, func(i int, it *applyItem) bool { return w.dryRun(ctx, uc, it, o.Force, &results[i]) }) {
		if !ok {
			failed++
		}
	}
	if o.DryRun || failed > 0 {
		for i, it := range items {
			e := results[i].Error
			if e == nil && failed > 0 && !o.DryRun {
				// Its own dry run passed, but it was not applied.
				e = &ObjectError{Code: errcode.Invalid, Message: "not applied: another object failed its dry run"}
			}
			it.att.finish(ctx, e, results[i].Diff)
		}
		if failed > 0 {
			return results, dryRunFailed(results, failed)
		}
		return results, nil
	}

	// Namespaces and CRDs go first, in order; the rest at once (their dry runs passed, so none
	// waits for another object of this apply).
	var first, rest []int
	for i, it := range items {
		if gk := it.mapping.GroupVersionKind.GroupKind(); gk.Kind == "Namespace" && gk.Group == "" ||
			gk.Kind == "CustomResourceDefinition" && gk.Group == "apiextensions.k8s.io" {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	applyAt := func(i int) {
		it, res := items[i], &results[i]
		out, err := applyOne(ctx, uc, it, o.Force, false)
		if err != nil {
			res.Action, res.Diff = "", ""
			res.Error = scrub(objectError(err), it.obj)
			it.att.finish(ctx, res.Error, "")
			return
		}
		res.Diff, res.Action = diffObjects(it.live, out)
		res.ResourceVersion = out.GetResourceVersion()
		it.att.finish(ctx, nil, res.Diff)
	}
	for _, i := range first {
		applyAt(i)
	}
	eachConcurrently(rest, func(_ int, i int) bool { applyAt(i); return true })
	for _, r := range results {
		if r.Error != nil {
			return results, errcode.Errorf(r.Error.Code, "some objects were not applied; %s %s: %s", r.Kind, r.Name, r.Error.Message)
		}
	}
	return results, nil
}

// applyConcurrency bounds the apiserver calls one apply makes at once.
const applyConcurrency = 8

// eachConcurrently runs fn on every element, at most applyConcurrency at a time, and returns
// the results in order once all are done.
func eachConcurrently[T any](xs []T, fn func(i int, x T) bool) []bool {
	out := make([]bool, len(xs))
	var g errgroup.Group
	g.SetLimit(applyConcurrency)
	for i, x := range xs {
		g.Go(func() error {
			out[i] = fn(i, x)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// dryRunFailed is the error of an apply whose dry runs did not all pass (invalid, 422); each
// result carries its own code (forbidden, conflict, invalid, ...).
func dryRunFailed(results []Result, failed int) error {
	for _, r := range results {
		if r.Error != nil {
			return errcode.Errorf(errcode.Invalid, "%d of %d objects failed their dry run, nothing was applied; %s %s: %s",
				failed, len(results), r.Kind, r.Name, r.Error.Message)
		}
	}
	return errcode.Errorf(errcode.Invalid, "%d of %d objects failed their dry run, nothing was applied", failed, len(results))
}

// dryRun reads the live object and dry-runs the apply, filling res; it reports success.
func (w *Writer) dryRun(ctx context.Context, uc *cluster.UserClients, it *applyItem, force bool, res *Result) bool {
	gctx, cancel := context.WithTimeout(ctx, callTimeout)
	live, err := resourceFor(uc, it).Get(gctx, it.obj.GetName(), metav1.GetOptions{})
	cancel()
	switch {
	case err == nil:
		it.live = live
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		// Not there, or not readable: the dry run says whether it may be applied.
	default:
		res.Error = scrub(objectError(err), it.obj)
		return false
	}
	out, err := applyOne(ctx, uc, it, force, true)
	if err != nil {
		res.Error = scrub(objectError(err), it.obj)
		return false
	}
	res.Diff, res.Action = diffObjects(it.live, out)
	return true
}

func resourceFor(uc *cluster.UserClients, it *applyItem) interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error)
	Apply(ctx context.Context, name string, obj *unstructured.Unstructured, opts metav1.ApplyOptions, sub ...string) (*unstructured.Unstructured, error)
} {
	r := uc.Dynamic.Resource(it.mapping.Resource)
	if it.mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Namespace(it.obj.GetNamespace())
	}
	return r
}

// applyOne makes one server-side apply call.
func applyOne(ctx context.Context, uc *cluster.UserClients, it *applyItem, force, dryRun bool) (*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return resourceFor(uc, it).Apply(ctx, it.obj.GetName(), it.obj, opts)
}

// prepare checks objs and, with resolve, their kinds and scopes; nothing is recorded for input
// that could never be applied (bad_params).
func (w *Writer) prepare(c *cluster.Cluster, objs []*unstructured.Unstructured, namespace string, resolve bool) ([]*applyItem, error) {
	if len(objs) == 0 {
		return nil, errcode.Errorf(errcode.BadParams, "no objects to apply")
	}
	if len(objs) > MaxObjects {
		return nil, errcode.Errorf(errcode.BadParams, "%d objects: at most %d in one apply", len(objs), MaxObjects)
	}
	if namespace != "" && len(validation.IsDNS1123Label(namespace)) > 0 {
		return nil, errcode.Errorf(errcode.BadParams, "namespace %q is not a namespace name", namespace)
	}
	var m *mapper
	if resolve {
		var err error
		if m, err = w.mappers.get(c); err != nil {
			return nil, errcode.Errorf(errcode.Unavailable, "%v", err)
		}
	}
	items := make([]*applyItem, len(objs))
	seen := map[string]int{}
	for i, in := range objs {
		if in == nil {
			return nil, errcode.Errorf(errcode.BadParams, "object %d: empty", i+1)
		}
		obj := in.DeepCopy()
		where := fmt.Sprintf("object %d (%s %q)", i+1, obj.GetKind(), obj.GetName())
		gvk := obj.GroupVersionKind()
		if obj.GetAPIVersion() == "" || gvk.Kind == "" {
			return nil, errcode.Errorf(errcode.BadParams, "%s: apiVersion and kind are required", where)
		}
		if err := validObjectName(obj.GetName()); err != nil {
			return nil, errcode.Errorf(errcode.BadParams, "%s: %v", where, err)
		}
		if m == nil {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(namespace)
			}
			items[i] = &applyItem{obj: obj}
			continue
		}
		mp, err := m.mapping(gvk)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if mp.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(namespace)
			}
			if obj.GetNamespace() == "" {
				obj.SetNamespace("default")
			}
			if len(validation.IsDNS1123Label(obj.GetNamespace())) > 0 {
				return nil, errcode.Errorf(errcode.BadParams, "%s: namespace %q is not a namespace name", where, obj.GetNamespace())
			}
		} else {
			obj.SetNamespace("")
		}
		// The apiserver refuses managedFields in an apply; status is not applied there anyway.
		unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
		key := mp.Resource.String() + "/" + obj.GetNamespace() + "/" + obj.GetName()
		if j, dup := seen[key]; dup {
			return nil, errcode.Errorf(errcode.BadParams, "%s: the same object as object %d", where, j+1)
		}
		seen[key] = i
		items[i] = &applyItem{obj: obj, mapping: mp}
	}
	return items, nil
}

// validObjectName accepts what can be a path segment of an object's URL.
func validObjectName(name string) error {
	if name == "" {
		return fmt.Errorf("metadata.name is required")
	}
	if len(name) > 253 || name == "." || name == ".." || strings.ContainsAny(name, "/%") {
		return fmt.Errorf("metadata.name %q is not an object name", name)
	}
	return nil
}
