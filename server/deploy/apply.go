package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/deploy/lock"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/workflow"
	"github.com/yardhq/yard/server/write"
)

// Apply starts applying deploy id as u: the policy must be met, the plan free of errors and the
// workflow unchanged; the room's lock is taken (409 deploy_in_progress when another deploy
// holds it). The apply and the rollout run on after the answer, which is the deploy as
// applying.
func (s *Service) Apply(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error) {
	d, err := s.startApply(ctx, u, room, id)
	s.record(ctx, u, room, id, "apply", requestID, err)
	return d, err
}

func (s *Service) startApply(ctx context.Context, u identity.User, room, id string) (*Deploy, error) {
	if s.o.Rooms.ReadOnly(u, room) {
		return nil, errcode.Errorf(errcode.Forbidden, "room %s is read-only for you", room)
	}
	if !s.o.Writer.Enabled() {
		return nil, errcode.Errorf(errcode.WritesDisabled, "cluster writes are disabled on this server (--write-enabled); nothing was sent to the cluster")
	}
	d, err := s.Get(ctx, room, id)
	if err != nil {
		return nil, err
	}
	if err := appliable(d); err != nil {
		return nil, err
	}
	token, err := s.o.Lock.Acquire(ctx, room, s.o.Replica+"/"+id, s.o.LockTTL)
	var held *lock.HeldError
	switch {
	case errors.As(err, &held):
		return nil, errcode.Errorf(errcode.DeployInProgress, "another deploy of room %s is applying (%s)", room, held.Holder)
	case err != nil:
		return nil, errcode.Errorf(errcode.Unavailable, "deploy lock: %v", err)
	}
	d, err = s.update(ctx, room, id, func(d *Deploy, _ string) error {
		if err := appliable(d); err != nil {
			return err
		}
		d.State, d.AppliedBy, d.Token, d.Message = StateApplying, u.Name, token, ""
		for n := range d.Nodes {
			d.Nodes[n] = NodeStatus{Status: NodePending}
		}
		return nil
	})
	if err != nil {
		s.release(room, token)
		return d, err
	}
	if err := s.o.Applying.Add(ctx, room, id); err != nil {
		s.log.Warn("deploy: indexing an apply; a stop of this replica would leave it to its lock", "room", room, "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(u, room, d, token)
	}()
	return d, nil
}

// appliable says why d cannot be applied, if it cannot.
func appliable(d *Deploy) error {
	switch {
	case !Open(d.State):
		return errcode.Errorf(errcode.BadState, "deploy %s is %s", d.ID, d.State)
	case d.planErrors() > 0:
		return errcode.Errorf(errcode.BadState, "deploy %s: %d rows of its plan have errors; fix them and plan again", d.ID, d.planErrors())
	case !d.PolicyMet():
		return errcode.Errorf(errcode.NotApproved, "deploy %s has %d of the %d approvals it needs", d.ID, d.counted(), d.Required)
	}
	return nil
}

func (s *Service) release(room string, token int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.o.Lock.Release(ctx, room, token); err != nil && !errors.Is(err, lock.ErrLost) {
		s.log.Warn("deploy: releasing the lock", "room", room, "err", err)
	}
}

// errStopped: the deploy left applying (cancelled) or another replica took it over.
var errStopped = errors.New("deploy stopped")

// run applies d's objects in order, then follows the rollout until every node is ready, one
// failed, or the timeout; it keeps the lock's lease meanwhile and releases it at the end.
func (s *Service) run(u identity.User, room string, d *Deploy, token int64) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	defer s.release(room, token)
	leased := make(chan struct{})
	go func() {
		defer close(leased)
		s.keepLease(ctx, room, token, cancel)
	}()
	defer func() { <-leased }()
	defer cancel()

	result, msg, applied := s.applyAll(ctx, u, room, d, token)
	if result == "" {
		result, msg = s.follow(ctx, u, room, d, token, applied)
	}
	if errors.Is(s.ctx.Err(), context.Canceled) {
		return // shutting down: the lock is released and a sweep ends the deploy
	}
	if result == "" {
		return // taken over, or its state could not be written: left to the sweep
	}
	if result == StateCancelled {
		s.ended(room, d.ID, result, start)
		return
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	_, err := s.update(fctx, room, d.ID, func(cur *Deploy, _ string) error {
		if cur.State != StateApplying || cur.Token != token {
			return errStopped
		}
		cur.State, cur.Message, cur.FinishedAt = result, msg, now()
		return nil
	})
	if errors.Is(err, errStopped) {
		return // cancelled or taken over meanwhile: whoever did it ended it
	}
	if err != nil {
		s.log.Warn("deploy: recording the end; left to the sweep", "room", room, "deploy", d.ID, "err", err)
		return
	}
	if result == StateSucceeded && d.RollbackOf != "" {
		_, err := s.update(fctx, room, d.RollbackOf, func(old *Deploy, _ string) error {
			if !CanMove(old.State, StateRolledBack) {
				return errStopped
			}
			old.State, old.Message = StateRolledBack, "rolled back by "+d.ID
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			s.log.Warn("deploy: marking the rolled-back deploy", "room", room, "deploy", d.RollbackOf, "err", err)
		}
	}
	s.ended(room, d.ID, result, start)
	s.log.Info("deploy finished", "room", room, "deploy", d.ID, "result", result, "message", msg, "seconds", time.Since(start).Seconds())
}

// ended counts a deploy's end and takes it off the index of applying deploys.
func (s *Service) ended(room, id, result string, start time.Time) {
	s.total.WithLabelValues(result).Inc()
	s.duration.Observe(time.Since(start).Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.o.Applying.Remove(ctx, room, id); err != nil {
		s.log.Warn("deploy: unindexing an apply", "room", room, "err", err)
	}
}

// keepLease refreshes the lock until ctx ends; a lost lease (another replica took the deploy
// over) stops the apply through lose.
func (s *Service) keepLease(ctx context.Context, room string, token int64, lose context.CancelFunc) {
	t := time.NewTicker(s.o.LockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.o.Lock.Refresh(ctx, room, token, s.o.LockTTL); errors.Is(err, lock.ErrLost) {
				s.log.Warn("deploy: lock lost; stopping", "room", room, "token", token)
				lose()
				return
			}
		}
	}
}

// setNodes writes node statuses while the deploy is still applying under token; errStopped
// when it is not (cancelled, or taken over).
func (s *Service) setNodes(ctx context.Context, room, id string, token int64, nodes map[string]NodeStatus) (string, error) {
	state := ""
	err := s.o.Rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		cur, ok := readDeploy(doc, id)
		if !ok {
			return
		}
		state = cur.State
		if cur.Token != token {
			state = "" // another replica took the deploy over
		}
		if state != StateApplying {
			return
		}
		m, _ := childMap(doc.GetMap(Root), id)
		if err := writeNodes(m, tx, nodes); err != nil {
			s.log.Warn("deploy: node status", "err", err)
		}
	})
	if err != nil {
		return "", err
	}
	if state != StateApplying {
		return state, errStopped
	}
	return state, nil
}

// applyAll applies the stored manifests one by one in their order (the plan's), then the
// prunes. It returns a final state when the deploy ended here (failed, cancelled), "" to go on,
// and the resourceVersion each applied object got (objKey -> version).
func (s *Service) applyAll(ctx context.Context, u identity.User, room string, d *Deploy, token int64) (string, string, map[string]string) {
	var objs []*unstructured.Unstructured
	if err := json.Unmarshal([]byte(d.Manifests), &objs); err != nil {
		return StateFailed, "the stored manifests cannot be read: " + err.Error(), nil
	}
	origin := write.Origin{Room: room, Deploy: d.ID}
	applied := map[string]string{}
	for _, o := range objs {
		node := o.GetLabels()[workflow.LabelNode]
		if st, err := s.setNodes(ctx, room, d.ID, token, map[string]NodeStatus{node: {Status: NodeApplying}}); err != nil {
			return stoppedApplying(st, err)
		}
		res, err := s.o.Writer.Apply(ctx, u, d.Cluster, []*unstructured.Unstructured{o}, write.ApplyOptions{Origin: origin})
		if err != nil {
			msg := fmt.Sprintf("%s %s/%s: %s", o.GetKind(), o.GetNamespace(), o.GetName(), errcode.As(err).Message)
			_, _ = s.setNodes(ctx, room, d.ID, token, map[string]NodeStatus{node: {Status: NodeFailed, Message: msg}})
			return StateFailed, msg, nil
		}
		if gvr, ok := resourceOf(o.GetKind()); ok && len(res) == 1 {
			applied[objKey(gvr.Resource, o.GetNamespace(), o.GetName())] = res[0].ResourceVersion
		}
		if st, err := s.setNodes(ctx, room, d.ID, token, map[string]NodeStatus{node: {Status: NodeProgressing}}); err != nil {
			return stoppedApplying(st, err)
		}
	}
	for _, r := range d.Plan {
		if r.Action != ActionDelete {
			continue
		}
		gvr, ok := resourceOf(r.Kind)
		if !ok {
			continue
		}
		if st, err := s.applyingUnder(ctx, room, d.ID, token); err != nil {
			return stoppedApplying(st, err)
		}
		_, err := s.o.Writer.Delete(ctx, u, write.Ref{Cluster: d.Cluster, Kind: gvr.Resource, Namespace: r.Namespace, Name: r.Name}, "", origin)
		if err != nil && errcode.As(err).Code != errcode.NotFound {
			return StateFailed, fmt.Sprintf("pruning %s %s/%s: %s", r.Kind, r.Namespace, r.Name, errcode.As(err).Message), nil
		}
	}
	return "", "", applied
}

// stoppedApplying is stopped for applyAll, which has nothing applied to hand on then.
func stoppedApplying(state string, err error) (string, string, map[string]string) {
	st, msg := stopped(state, err)
	return st, msg, nil
}

// stopped maps a stop to the deploy's end: cancelled by someone, or "" when another replica
// took it over (it finishes the deploy) or the write failed.
func stopped(state string, err error) (string, string) {
	if errors.Is(err, errStopped) && state == StateCancelled {
		return StateCancelled, ""
	}
	return "", ""
}

func (s *Service) userClients(u identity.User, clusterName string) (*cluster.UserClients, error) {
	c, err := s.o.Clusters.Get(clusterName)
	if err != nil {
		return nil, errcode.Errorf(errcode.NotFound, "%v", err)
	}
	uc, err := c.Clients(u)
	if err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "no client for cluster %s", c.Name)
	}
	return uc, nil
}
