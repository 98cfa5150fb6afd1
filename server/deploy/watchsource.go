package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/workflow"
)

// ObjectWatcher follows a cluster's objects as a user from the replica's shared watches
// (server/watch, wired in server/app): the same upstream apiserver watches and per-user access
// checks as the browsers' watch channels, so a deploy and the people watching its namespace share
// one apiserver watch per kind and namespace.
type ObjectWatcher interface {
	// Follow checks that u may list and watch every kind of q in every namespace of q (else an
	// error, and nothing started), then calls fn with each object (ADDED), a SYNCED per kind, and
	// every change, one at a time, until ctx ends or stop is called; stop waits until fn is no
	// longer called. fn must not block.
	Follow(ctx context.Context, u identity.User, cluster string, q WatchQuery, fn func(WatchEvent)) (stop func(), err error)
}

// WatchQuery names the kinds (as the watch channel names them: deployments, pods, ...), the
// namespaces and the label selector of a follow.
type WatchQuery struct {
	Kinds         []string
	Namespaces    []string
	LabelSelector string
}

// WatchEvent is one message of a follow; Type is the watch protocol's (docs/watch.md).
type WatchEvent struct {
	Type    string
	Kind    string
	Object  *unstructured.Unstructured // ADDED, MODIFIED, DELETED
	Message string                     // error
}

// The watch protocol's message types.
const (
	WatchAdded    = "ADDED"
	WatchModified = "MODIFIED"
	WatchDeleted  = "DELETED"
	WatchSynced   = "SYNCED"
	WatchReset    = "RESET"
	WatchError    = "error"
)

const podsKind = "pods"

// watchSource is the state of a deploy's objects and their pods as the shared watches tell it.
// It holds the latest state of each object (the room's objects in the namespaces the deploy
// touches): a change replaces the one before it, so however fast changes come, it holds one
// entry per object and the follow loop reads the newest.
type watchSource struct {
	// applied is the resourceVersion the apply answered per object: a watch may still hold the
	// version from before the apply, and that one says nothing about this rollout.
	applied map[string]uint64
	end     func()
	wake    chan struct{} // capacity one: something changed since the loop last looked

	mu      sync.Mutex
	objs    map[string]*unstructured.Unstructured // objKey
	pods    map[string]*corev1.Pod                // namespace/name
	synced  map[string]bool                       // kind
	problem map[string]string                     // kind -> the watch's last error
}

// objKey names an object by its resource, namespace and name.
func objKey(resource, ns, name string) string { return resource + "/" + ns + "/" + name }

// watchRollout follows the kinds objs render, and the pods when there are workloads, labelled
// with the room, in every namespace objs use.
func (s *Service) watchRollout(ctx context.Context, u identity.User, room, clusterName string, objs []*unstructured.Unstructured, applied map[string]string) (*watchSource, error) {
	w := newWatchSource(applied)
	var q WatchQuery
	for _, o := range objs {
		gvr, ok := resourceOf(o.GetKind())
		if !ok {
			continue
		}
		q.Kinds = appendNew(q.Kinds, gvr.Resource)
		if workflow.IsWorkload(o.GetKind()) {
			q.Kinds = appendNew(q.Kinds, podsKind)
		}
		q.Namespaces = appendNew(q.Namespaces, o.GetNamespace())
	}
	if len(q.Kinds) == 0 {
		return w, nil // nothing to follow: every node is ready as rendered
	}
	q.LabelSelector = workflow.LabelRoom + "=" + room
	stop, err := s.o.Watcher.Follow(ctx, u, clusterName, q, w.on)
	if err != nil {
		return nil, fmt.Errorf("following %v in %v: %w", q.Kinds, q.Namespaces, err)
	}
	w.end = stop
	return w, nil
}

func appendNew(l []string, v string) []string {
	if slices.Contains(l, v) {
		return l
	}
	return append(l, v)
}

func newWatchSource(applied map[string]string) *watchSource {
	w := &watchSource{applied: map[string]uint64{}, end: func() {}, wake: make(chan struct{}, 1),
		objs: map[string]*unstructured.Unstructured{}, pods: map[string]*corev1.Pod{},
		synced: map[string]bool{}, problem: map[string]string{}}
	for k, rv := range applied {
		w.applied[k], _ = strconv.ParseUint(rv, 10, 64)
	}
	return w
}

func (w *watchSource) changed() <-chan struct{} { return w.wake }
func (w *watchSource) stop()                    { w.end() }

// on takes one event of the follow.
func (w *watchSource) on(e WatchEvent) {
	w.mu.Lock()
	switch e.Type {
	case WatchAdded, WatchModified, WatchDeleted:
		if e.Object != nil {
			w.store(e)
		}
	case WatchSynced:
		w.synced[e.Kind] = true
		delete(w.problem, e.Kind) // a fresh list came through
	case WatchReset:
		// A fresh list of the kind follows.
		w.synced[e.Kind] = false
		if e.Kind == podsKind {
			clear(w.pods)
		}
		for k := range w.objs {
			if strings.HasPrefix(k, e.Kind+"/") {
				delete(w.objs, k)
			}
		}
	case WatchError:
		w.problem[e.Kind] = e.Message
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watchSource) store(e WatchEvent) {
	o := e.Object
	if e.Kind == podsKind {
		k := o.GetNamespace() + "/" + o.GetName()
		var p corev1.Pod
		if e.Type == WatchDeleted || runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &p) != nil {
			delete(w.pods, k)
			return
		}
		w.pods[k] = &p
		return
	}
	k := objKey(e.Kind, o.GetNamespace(), o.GetName())
	if e.Type == WatchDeleted {
		delete(w.objs, k)
		return
	}
	w.objs[k] = o
}

// status is o's status from what the watches told so far, by the same rule as a read (Status).
func (w *watchSource) status(_ context.Context, o *unstructured.Unstructured) NodeStatus {
	gvr, ok := resourceOf(o.GetKind())
	if !ok {
		return NodeStatus{Status: NodeReady}
	}
	workload := workflow.IsWorkload(o.GetKind())
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.synced[gvr.Resource] || workload && !w.synced[podsKind] {
		return NodeStatus{Status: NodeProgressing, Message: "waiting for the watch's first list"}
	}
	k := objKey(gvr.Resource, o.GetNamespace(), o.GetName())
	live, ok := w.objs[k]
	if !ok {
		if p := w.problem[gvr.Resource]; p != "" {
			return NodeStatus{Status: NodeProgressing, Message: "not found yet (watching it: " + p + ")"}
		}
		return NodeStatus{Status: NodeProgressing, Message: "not found yet"}
	}
	if rv, _ := strconv.ParseUint(live.GetResourceVersion(), 10, 64); rv < w.applied[k] {
		// resourceVersions of one cluster grow with every write (the watches rely on it too).
		return NodeStatus{Status: NodeProgressing, Message: "waiting for the applied version"}
	}
	var pods []corev1.Pod
	if workload {
		node := o.GetLabels()[workflow.LabelNode]
		for _, p := range w.pods {
			if p.Namespace == o.GetNamespace() && p.Labels[workflow.LabelNode] == node {
				pods = append(pods, *p)
			}
		}
		// In name order, so the first troubled pod (the message) is the same at every look.
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	}
	return Status(live, pods)
}
