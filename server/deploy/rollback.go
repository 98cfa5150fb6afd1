package deploy

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
)

// Rollback undoes succeeded deploy id: a new deploy takes the stored manifests of the last
// deploy that succeeded before it, is dry-run as u like any plan, and is applied at once when
// the room's policy needs no approval (else it waits for its approvals like any other). When it
// succeeds, id becomes rolled-back.
func (s *Service) Rollback(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error) {
	d, err := s.rollback(ctx, u, room, id)
	s.record(ctx, u, room, id, "rollback", requestID, err)
	if err != nil || !d.PolicyMet() || d.planErrors() > 0 {
		return d, err
	}
	return s.Apply(ctx, u, room, d.ID, requestID)
}

func (s *Service) rollback(ctx context.Context, u identity.User, room, id string) (*Deploy, error) {
	if s.o.Rooms.ReadOnly(u, room) {
		return nil, errcode.Errorf(errcode.Forbidden, "room %s is read-only for you", room)
	}
	var all []*Deploy
	if err := s.o.Rooms.View(ctx, room, func(doc *crdt.Doc) { all = listDeploys(doc) }); err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "reading room %s: %v", room, err)
	}
	var target, prev *Deploy
	for _, d := range all {
		if d.ID == id {
			target = d
		}
	}
	if target == nil {
		return nil, errcode.Errorf(errcode.NotFound, "no deploy %s in room %s", id, room)
	}
	if target.State != StateSucceeded {
		return nil, errcode.Errorf(errcode.BadState, "deploy %s is %s; only a succeeded deploy rolls back", id, target.State)
	}
	for _, d := range all {
		// RFC 3339 times in UTC compare as strings.
		if d.ID != id && d.State == StateSucceeded && d.Manifests != "" && d.Cluster == target.Cluster &&
			d.CreatedAt < target.CreatedAt && (prev == nil || d.CreatedAt > prev.CreatedAt) {
			prev = d
		}
	}
	if prev == nil {
		return nil, errcode.Errorf(errcode.BadState, "no deploy succeeded before %s: nothing to roll back to", id)
	}
	var objs []*unstructured.Unstructured
	if err := json.Unmarshal([]byte(prev.Manifests), &objs); err != nil {
		return nil, errcode.Errorf(errcode.BadState, "the manifests of deploy %s cannot be read: %v", prev.ID, err)
	}
	pol, err := s.Policy(ctx, room)
	if err != nil {
		return nil, err
	}
	d := &Deploy{ID: newID(), Proposer: u.Name, CreatedAt: now(), Cluster: target.Cluster, State: StatePlanned,
		WorkflowHash: prev.WorkflowHash, Required: pol.Approvals, FourEyes: pol.FourEyes, RollbackOf: id,
		Manifests: prev.Manifests, Nodes: map[string]NodeStatus{},
		Message: fmt.Sprintf("rollback of %s to %s", id, prev.ID)}
	if d.Plan, err = s.dryRun(ctx, u, room, d, nil, objs); err != nil {
		return nil, err
	}
	for _, r := range d.Plan {
		if r.NodeID != "" {
			d.Nodes[r.NodeID] = NodeStatus{Status: NodePending}
		}
	}
	err = s.o.Rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) { err = writeDeploy(doc, tx, d) })
	if err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "writing room %s: %v", room, err)
	}
	return d, nil
}
