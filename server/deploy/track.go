package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/workflow"
)

// rolloutSource tells the live state of a deploy's applied objects: the shared watches
// (watchSource) or, when they cannot serve the deploy, reads as the user (pollSource).
type rolloutSource interface {
	// status is object o's rollout status as the source knows it now.
	status(ctx context.Context, o *unstructured.Unstructured) NodeStatus
	// changed is signalled when what the source knows changed; nil when the source reads the
	// cluster on every status, so it is asked again every Poll.
	changed() <-chan struct{}
	// stop ends the source and waits for it.
	stop()
}

// settle is how long the follow lets a watch's changes gather before it looks at them.
const settle = 50 * time.Millisecond

// Source names, in the log and in yard_deploy_follows_total{source}.
const (
	sourceWatch = "watch"
	sourcePoll  = "poll"
)

// follow writes each node's status as the rollout source tells it, when it changes, until every
// node is ready (succeeded), one failed (failed), the timeout (failed), or the deploy was
// cancelled. "" means it stopped for another reason (taken over). applied holds the
// resourceVersion the apply answered per object (objKey).
func (s *Service) follow(ctx context.Context, u identity.User, room string, d *Deploy, token int64, applied map[string]string) (string, string) {
	var objs []*unstructured.Unstructured
	if err := json.Unmarshal([]byte(d.Manifests), &objs); err != nil {
		return StateFailed, err.Error()
	}
	src, err := s.source(ctx, u, room, d, objs, applied)
	if err != nil {
		return StateFailed, err.Error()
	}
	defer src.stop()
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	var last map[string]NodeStatus
	due := false // a Poll passed since the deploy's state was last seen
	for {
		statuses := nodeStatuses(d, objs, func(o *unstructured.Unstructured) NodeStatus { return src.status(ctx, o) })
		if ctx.Err() != nil {
			break
		}
		var state string
		var err error
		switch changed := changedNodes(last, statuses); {
		case len(changed) > 0 || last == nil:
			state, err = s.setNodes(ctx, room, d.ID, token, changed)
		case due:
			// Nothing to write: still check that the deploy is applying under token, so a
			// cancel or a takeover is seen within Poll whether or not the cluster changes.
			state, err = s.applyingUnder(ctx, room, d.ID, token)
		}
		if err != nil {
			return stopped(state, err)
		}
		last, due = statuses, false
		if msg, failed := firstFailed(statuses); failed {
			return StateFailed, msg
		}
		if allReady(statuses) {
			return StateSucceeded, ""
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			due = true
			continue
		case <-src.changed():
			// A rollout's changes come in bursts (a pod per replica, then its workload): look
			// once the burst settled a little, rather than write the document per change.
			select {
			case <-ctx.Done():
			case <-time.After(settle):
			}
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

// source returns the shared watches for the deploy's objects when they can serve it (a watcher
// is wired and the user may list and watch every kind in every namespace), else the reads as the
// user every Poll. The choice is logged and counted.
func (s *Service) source(ctx context.Context, u identity.User, room string, d *Deploy, objs []*unstructured.Unstructured, applied map[string]string) (rolloutSource, error) {
	var why string
	if s.o.Watcher == nil {
		why = "no shared watches on this server"
	} else {
		w, err := s.watchRollout(ctx, u, room, d.Cluster, objs, applied)
		if err == nil {
			s.follows.WithLabelValues(sourceWatch).Inc()
			s.log.Info("deploy: following the rollout", "room", room, "deploy", d.ID, "source", sourceWatch)
			return w, nil
		}
		why = err.Error()
	}
	uc, err := s.userClients(u, d.Cluster)
	if err != nil {
		return nil, err
	}
	s.follows.WithLabelValues(sourcePoll).Inc()
	s.log.Info("deploy: following the rollout", "room", room, "deploy", d.ID, "source", sourcePoll, "why", why)
	return pollSource{uc: uc}, nil
}

// applyingUnder reads whether deploy id is still applying under token; errStopped (with the
// state) when it is not. It only reads the document.
func (s *Service) applyingUnder(ctx context.Context, room, id string, token int64) (string, error) {
	state := ""
	err := s.o.Rooms.View(ctx, room, func(doc *crdt.Doc) {
		if cur, ok := readDeploy(doc, id); ok && cur.Token == token {
			state = cur.State
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
