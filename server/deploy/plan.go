package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/workflow"
	"github.com/yardhq/yard/server/write"
)

// PlanRequest is the body of a plan.
type PlanRequest struct {
	Cluster string `json:"cluster"`
	Prune   bool   `json:"prune"`
}

// currentHash is the hash of the document's workflow now.
func currentHash(doc *crdt.Doc) string { return workflow.Hash(workflow.FromJSON(workflowJSON(doc))) }

// Plan snapshots room's workflow, renders it, dry-runs every object as u and writes the deploy
// into the document. A workflow with errors still gets a plan: one row per problem, which
// cannot be applied.
func (s *Service) Plan(ctx context.Context, u identity.User, room string, req PlanRequest, requestID string) (*Deploy, error) {
	if s.o.Rooms.ReadOnly(u, room) {
		return nil, errcode.Errorf(errcode.Forbidden, "room %s is read-only for you", room)
	}
	if _, err := s.o.Clusters.Get(req.Cluster); err != nil {
		return nil, errcode.Errorf(errcode.NotFound, "%v", err)
	}
	var wf workflow.Workflow
	if err := s.o.Rooms.View(ctx, room, func(doc *crdt.Doc) { wf = workflow.FromJSON(workflowJSON(doc)) }); err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "reading room %s: %v", room, err)
	}
	pol, err := s.Policy(ctx, room)
	if err != nil {
		return nil, err
	}
	d := &Deploy{ID: newID(), Proposer: u.Name, CreatedAt: now(), Cluster: req.Cluster, State: StatePlanned,
		WorkflowHash: workflow.Hash(wf), Required: pol.Approvals, FourEyes: pol.FourEyes, Prune: req.Prune,
		Nodes: map[string]NodeStatus{}}
	objs, err := workflow.Render(room, wf)
	var inv *workflow.InvalidError
	switch {
	case errors.As(err, &inv):
		d.Plan = invalidRows(wf, inv.Errors)
	case err != nil:
		d.Plan = []PlanRow{{Error: err.Error()}}
	default:
		d.Plan, err = s.dryRun(ctx, u, room, d, workflow.SecretReferences(wf), objs)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(objs)
		if err != nil {
			return nil, fmt.Errorf("deploy: manifests: %w", err)
		}
		d.Manifests = string(b)
	}
	for _, n := range wf.Nodes {
		d.Nodes[n.ID] = NodeStatus{Status: NodePending}
	}
	err = s.o.Rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) { err = writeDeploy(doc, tx, d) })
	if err != nil {
		err = errcode.Errorf(errcode.Unavailable, "writing room %s: %v", room, err)
	}
	if err == nil {
		s.watched.add(room)
	}
	s.record(ctx, u, room, d.ID, "plan", requestID, err)
	return d, err
}

// invalidRows are the plan of a workflow with errors: one row per problem, on its node.
func invalidRows(wf workflow.Workflow, errs []workflow.Error) []PlanRow {
	rows := make([]PlanRow, 0, len(errs))
	for _, e := range errs {
		r := PlanRow{NodeID: e.NodeID, Error: e.Code + ": " + e.Error()}
		if n, ok := wf.Node(e.NodeID); ok {
			r.Kind, r.Name, r.Namespace = n.Kind, n.Name, wf.NamespaceOf(n)
		}
		rows = append(rows, r)
	}
	return rows
}

// dryRun asks the cluster, as u, what applying objs would do; SecretRefs are checked to exist;
// with prune, the room's objects the workflow no longer has are planned as deletes.
func (s *Service) dryRun(ctx context.Context, u identity.User, room string, d *Deploy, secrets []workflow.SecretReference, objs []*unstructured.Unstructured) ([]PlanRow, error) {
	var rows []PlanRow
	for _, ref := range secrets {
		rows = append(rows, s.checkSecret(ctx, u, d.Cluster, ref))
	}
	if len(objs) > 0 {
		res, err := s.o.Writer.Apply(ctx, u, d.Cluster, objs, write.ApplyOptions{DryRun: true, Origin: write.Origin{Room: room, Deploy: d.ID}})
		if res == nil && err != nil {
			return nil, err
		}
		for i, r := range res {
			rows = append(rows, planRow(objs[i], r))
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return workflow.ApplyOrder(rows[i].Kind) < workflow.ApplyOrder(rows[j].Kind) })
	if d.Prune {
		rows = append(rows, s.prunes(ctx, u, d.Cluster, room, objs)...)
	}
	return rows, nil
}

func planRow(obj *unstructured.Unstructured, r write.Result) PlanRow {
	row := PlanRow{NodeID: obj.GetLabels()[workflow.LabelNode], Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), Diff: r.Diff}
	switch r.Action {
	case write.ActionCreated:
		row.Action = ActionCreate
	case write.ActionConfigured:
		row.Action = ActionUpdate
	case write.ActionUnchanged:
		row.Action = ActionUnchanged
	}
	if r.Error != nil {
		row.Error = r.Error.Code + ": " + r.Error.Message
	}
	return row
}

// checkSecret checks, as u, that a referenced Secret exists (its values are never read into
// the plan).
func (s *Service) checkSecret(ctx context.Context, u identity.User, clusterName string, ref workflow.SecretReference) PlanRow {
	row := PlanRow{NodeID: ref.NodeID, Kind: workflow.KindSecretRef, Namespace: ref.Namespace, Name: ref.Name, Action: ActionUnchanged}
	uc, err := s.userClients(u, clusterName)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	_, err = uc.Typed.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		row.Error = errcode.NotFound + ": Secret " + ref.Namespace + "/" + ref.Name + " does not exist"
	case apierrors.IsForbidden(err):
		row.Error = errcode.Forbidden + ": " + err.Error()
	case err != nil:
		row.Error = errcode.Unavailable + ": " + err.Error()
	}
	row.Action = ""
	if row.Error == "" {
		row.Action = ActionUnchanged
	}
	return row
}

// prunable are the kinds a workflow renders, as the resource lists name them.
var prunable = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, workflow.KindIngress},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, workflow.KindService},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, workflow.KindCronJob},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, workflow.KindJob},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, workflow.KindStatefulSet},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, workflow.KindDeployment},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, workflow.KindPVC},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, workflow.KindConfigMap},
}

// prunes lists, as u, the objects labelled with room (and managed by Yard) that objs do not
// contain, in the namespaces objs use: they are planned as deletes, dependents first.
func (s *Service) prunes(ctx context.Context, u identity.User, clusterName, room string, objs []*unstructured.Unstructured) []PlanRow {
	uc, err := s.userClients(u, clusterName)
	if err != nil {
		return []PlanRow{{Action: ActionDelete, Error: err.Error()}}
	}
	keep := map[string]bool{}
	nss := map[string]bool{}
	for _, o := range objs {
		keep[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = true
		nss[o.GetNamespace()] = true
	}
	sel := workflow.LabelManagedBy + "=yard," + workflow.LabelRoom + "=" + room
	var rows []PlanRow
	for _, p := range prunable {
		for ns := range nss {
			list, err := uc.Dynamic.Resource(p.gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				rows = append(rows, PlanRow{Kind: p.kind, Namespace: ns, Action: ActionDelete, Error: errcode.Forbidden + ": listing " + p.gvr.Resource + ": " + err.Error()})
				continue
			}
			for _, it := range list.Items {
				if it.GetOwnerReferences() != nil || keep[p.kind+"/"+ns+"/"+it.GetName()] {
					continue
				}
				rows = append(rows, PlanRow{NodeID: it.GetLabels()[workflow.LabelNode], Kind: p.kind, Namespace: ns, Name: it.GetName(), Action: ActionDelete})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Namespace < rows[j].Namespace })
	return rows
}

// resourceOf is the plural resource name of a kind a workflow renders.
func resourceOf(kind string) (schema.GroupVersionResource, bool) {
	for _, p := range prunable {
		if p.kind == kind {
			return p.gvr, true
		}
	}
	return schema.GroupVersionResource{}, false
}
