package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/yardhq/yard/server/mux"
)

// openLogsFunc opens one container's log stream (the pods/log subresource).
type openLogsFunc func(ctx context.Context, namespace, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error)

func clientOpenLogs(c kubernetes.Interface) openLogsFunc {
	return func(ctx context.Context, namespace, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
		return c.CoreV1().Pods(namespace).GetLogs(pod, o).Stream(ctx)
	}
}

// stream reads every container stream a Request names into one pending buffer, following the
// pods as they come and go.
type stream struct {
	req      Request
	client   kubernetes.Interface
	openLogs openLogsFunc
	out      *pending
	log      *slog.Logger
	counters *counters

	// pods is the informer's view of the followed pods (nil when not following): a stream that
	// ends while its container still runs there was broken, not finished, and is resumed.
	pods cache.Store
	// resumeBackoff is the first wait before resuming a broken stream (doubling to 10 s).
	resumeBackoff time.Duration

	wg     sync.WaitGroup // container readers
	mu     sync.Mutex
	states map[streamKey]*containerState
	done   chan struct{} // closed when a single-pod stream has nothing left to follow
	once   sync.Once
}

type streamKey struct{ pod, container string }

type containerState struct {
	state, message string
	reading        bool
	restarts       int32     // restart count when the current/last read began
	last           time.Time // time of the last line delivered, to resume after a restart
	cancel         context.CancelFunc
}

func newStream(req Request, client kubernetes.Interface, out *pending, log *slog.Logger, c *counters) *stream {
	return &stream{
		req: req, client: client, openLogs: clientOpenLogs(client), out: out, log: log, counters: c,
		states: map[streamKey]*containerState{}, done: make(chan struct{}), resumeBackoff: time.Second,
	}
}

// run streams until everything asked for has been read (not following), the single pod's
// streams have all ended (following one pod), or ctx ends (following a workload). It waits for
// every reader it started.
func (s *stream) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.wg.Wait()
	}()
	sel, err := s.selector(ctx)
	if err != nil {
		return err
	}
	if !s.req.Follow {
		pods, err := s.client.CoreV1().Pods(s.req.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.label, FieldSelector: sel.field})
		if err != nil {
			return upstreamError(err, "listing pods")
		}
		if s.req.Pod != "" && len(pods.Items) == 0 {
			return mux.Errorf(mux.CodeNotFound, "pod %s/%s not found", s.req.Namespace, s.req.Pod)
		}
		for i := range pods.Items {
			s.ensure(ctx, &pods.Items[i])
		}
		s.wg.Wait()
		return nil
	}

	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0,
		informers.WithNamespace(s.req.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector, o.FieldSelector = sel.label, sel.field
		}))
	inf := factory.Core().V1().Pods().Informer()
	s.pods = inf.GetStore()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPod(ctx, obj) },
		UpdateFunc: func(_, obj any) { s.onPod(ctx, obj) },
		DeleteFunc: func(obj any) { s.onDelete(obj) },
	})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	if s.req.Pod != "" && len(inf.GetStore().List()) == 0 {
		return mux.Errorf(mux.CodeNotFound, "pod %s/%s not found", s.req.Namespace, s.req.Pod)
	}
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	return nil
}

type podSelector struct{ label, field string }

// selector says which pods the request covers: one pod by name, or the workload's selector.
func (s *stream) selector(ctx context.Context) (podSelector, error) {
	if s.req.Workload.IsZero() {
		return podSelector{field: fields.OneTermEqualSelector("metadata.name", s.req.Pod).String()}, nil
	}
	ns, name := s.req.Namespace, s.req.Workload.Name
	var ls *metav1.LabelSelector
	var err error
	switch s.req.Workload.Kind {
	case "Deployment":
		d, e := s.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if e == nil {
			ls = d.Spec.Selector
		}
		err = e
	case "StatefulSet":
		d, e := s.client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if e == nil {
			ls = d.Spec.Selector
		}
		err = e
	case "DaemonSet":
		d, e := s.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if e == nil {
			ls = d.Spec.Selector
		}
		err = e
	case "ReplicaSet":
		d, e := s.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if e == nil {
			ls = d.Spec.Selector
		}
		err = e
	case "Job":
		d, e := s.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if e == nil {
			ls = d.Spec.Selector
		}
		err = e
	default:
		return podSelector{}, mux.Errorf(mux.CodeBadParams, "unsupported workload kind %q", s.req.Workload.Kind)
	}
	if err != nil {
		return podSelector{}, upstreamError(err, "reading "+s.req.Workload.String())
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil || sel.Empty() || sel.String() == labels.Nothing().String() {
		return podSelector{}, mux.Errorf(mux.CodeBadParams, "%s has no usable pod selector", s.req.Workload)
	}
	return podSelector{label: sel.String()}, nil
}

func (s *stream) onPod(ctx context.Context, obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		s.ensure(ctx, pod)
	}
}

func (s *stream) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	for k, cs := range s.states {
		if k.pod == pod.Name {
			cs.state, cs.message = StateDeleted, ""
			if cs.cancel != nil {
				cs.cancel()
			}
		}
	}
	s.mu.Unlock()
	s.publishStatus()
	s.checkDone()
}

// containers picks the containers a request covers in pod.
func (s *stream) containers(pod *corev1.Pod) []string {
	switch {
	case s.req.Container != "":
		return []string{s.req.Container}
	case s.req.AllContainers:
		var names []string
		for _, st := range pod.Status.InitContainerStatuses {
			if st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil {
				names = append(names, st.Name)
			}
		}
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		return names
	default:
		if d := pod.Annotations["kubectl.kubernetes.io/default-container"]; d != "" {
			return []string{d}
		}
		if len(pod.Spec.Containers) > 0 {
			return []string{pod.Spec.Containers[0].Name}
		}
		return nil
	}
}

// started reports whether a container has logs to read, and its restart count.
func started(pod *corev1.Pod, container string, previous bool) (bool, int32) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, st := range list {
			if st.Name == container {
				if previous {
					return st.LastTerminationState.Terminated != nil || st.RestartCount > 0, st.RestartCount
				}
				return st.State.Running != nil || st.State.Terminated != nil, st.RestartCount
			}
		}
	}
	// No status yet: trust the phase (some kubelets report statuses late).
	p := pod.Status.Phase
	return p == corev1.PodRunning || p == corev1.PodSucceeded || p == corev1.PodFailed, 0
}

// ensure starts reading every container of pod that has started and is not being read yet
// (again after a restart, from where the last read stopped).
func (s *stream) ensure(ctx context.Context, pod *corev1.Pod) {
	changed := false
	s.mu.Lock()
	for _, c := range s.containers(pod) {
		k := streamKey{pod.Name, c}
		cs := s.states[k]
		if cs == nil {
			cs = &containerState{state: StateWaiting}
			s.states[k] = cs
			changed = true
		}
		if cs.reading || cs.state == StateDeleted {
			continue
		}
		ok, restarts := started(pod, c, s.req.Previous)
		if !ok {
			continue
		}
		first := cs.state == StateWaiting
		if !first && (!s.req.Follow || restarts <= cs.restarts) {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		cs.reading, cs.restarts, cs.cancel = true, restarts, cancel
		changed = true
		opts := s.logOptions(c, first, cs.last)
		since := cs.last
		s.wg.Go(func() {
			defer cancel()
			s.readResuming(rctx, k, opts, since)
		})
	}
	s.mu.Unlock()
	if changed {
		s.publishStatus()
	}
}

func (s *stream) logOptions(container string, first bool, last time.Time) *corev1.PodLogOptions {
	o := &corev1.PodLogOptions{Container: container, Follow: s.req.Follow, Timestamps: true, Previous: s.req.Previous}
	if first {
		o.TailLines, o.SinceSeconds = s.req.TailLines, s.req.SinceSeconds
		if s.req.SinceTime != nil {
			t := metav1.NewTime(*s.req.SinceTime)
			o.SinceTime = &t
		}
	} else if !last.IsZero() {
		t := metav1.NewTime(last)
		o.SinceTime = &t
	}
	return o
}

// readResuming reads one container stream until it is over. Following, a stream that ends or
// breaks while the informer still shows its container running (same restart count) was cut
// (an apiserver restarting, a proxy), not finished: it is reopened from the time of the last
// line delivered, with backoff, and the status says so meanwhile. Lines at or before that time
// are skipped, so a resumed stream repeats nothing it delivered.
func (s *stream) readResuming(ctx context.Context, k streamKey, opts *corev1.PodLogOptions, after time.Time) {
	finish := func(r readResult, pod *corev1.Pod) {
		s.mu.Lock()
		cs := s.states[k]
		cs.reading = false
		if cs.state != StateDeleted {
			cs.state, cs.message = r.state, r.message
		}
		s.mu.Unlock()
		s.publishStatus()
		if pod != nil && ctx.Err() == nil {
			// An informer event that came while this stream was read (a restart) is acted on now.
			s.ensure(ctx, pod)
		}
		s.checkDone()
	}
	backoff := s.resumeBackoff
	for {
		r := s.read(ctx, k, opts, after)
		pod := s.followedPod(k.pod)
		if !s.req.Follow || ctx.Err() != nil || r.permanent || !s.stillRunning(k, pod) {
			finish(r, pod)
			return
		}
		why := r.message
		if why == "" {
			why = "the log stream ended while the container runs"
		}
		s.mu.Lock()
		cs := s.states[k]
		if cs.state != StateDeleted {
			cs.state, cs.message = StateFailed, fmt.Sprintf("%s; reconnecting in %s", why, backoff)
		}
		after = cs.last
		s.mu.Unlock()
		s.publishStatus()
		s.counters.resumes.Inc()
		s.log.Debug("log stream cut, resuming", "pod", k.pod, "container", k.container, "reason", why, "in", backoff)
		if r.delivered {
			backoff = s.resumeBackoff
		}
		select {
		case <-ctx.Done():
			finish(readResult{state: StateEnded}, nil)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
		if !after.IsZero() {
			opts = s.logOptions(k.container, false, after)
		}
	}
}

// followedPod is the informer's copy of the followed pod name (nil when not following or gone).
func (s *stream) followedPod(name string) *corev1.Pod {
	if s.pods == nil {
		return nil
	}
	obj, ok, err := s.pods.GetByKey(s.req.Namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	pod, _ := obj.(*corev1.Pod)
	return pod
}

// stillRunning reports whether the informer shows k's container running with the restart count
// its current read began at.
func (s *stream) stillRunning(k streamKey, pod *corev1.Pod) bool {
	if pod == nil || pod.DeletionTimestamp != nil {
		return false
	}
	s.mu.Lock()
	cs := s.states[k]
	deleted, restarts := cs.state == StateDeleted, cs.restarts
	s.mu.Unlock()
	if deleted {
		return false
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name == k.container {
			return st.State.Running != nil && st.RestartCount == restarts
		}
	}
	return false
}

// readResult is how one read of a container stream ended.
type readResult struct {
	state, message string
	permanent      bool // refused for good (forbidden, not found, bad request): do not reopen
	delivered      bool // at least one line was delivered
}

// read copies one container stream into the buffer until it ends.
func (s *stream) read(ctx context.Context, k streamKey, opts *corev1.PodLogOptions, after time.Time) (r readResult) {
	r.state = StateEnded
	rc, err := s.openLogs(ctx, s.req.Namespace, k.pod, opts)
	if err != nil {
		if ctx.Err() == nil {
			r.state, r.message = StateFailed, mux.AsError(upstreamError(err, "reading logs")).Message
			r.permanent = apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsBadRequest(err) || apierrors.IsUnauthorized(err)
			s.log.Debug("log stream refused", "pod", k.pod, "container", k.container, "err", err)
		}
		return r
	}
	defer rc.Close()
	s.mu.Lock()
	if cs := s.states[k]; cs.state != StateDeleted {
		cs.state, cs.message = StateStreaming, ""
	}
	s.mu.Unlock()
	s.publishStatus()
	br := bufio.NewReaderSize(rc, 32<<10)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Keep at most maxLineBytes of an overlong line and discard the rest of it.
			if room := maxLineBytes + 40 - len(long); room > 0 {
				long = append(long, chunk[:min(room, len(chunk))]...)
			}
			continue
		}
		line := chunk
		if long != nil {
			if room := maxLineBytes + 40 - len(long); room > 0 {
				long = append(long, chunk[:min(room, len(chunk))]...)
			}
			line, long = long, nil
		}
		if len(line) > 0 && s.deliver(ctx, k, line, after) {
			r.delivered = true
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				r.state, r.message = StateFailed, "the log stream broke: "+err.Error()
			}
			return r
		}
	}
}

// deliver queues one line for the client; false when it was skipped (resumed past it) or not
// queued.
func (s *stream) deliver(ctx context.Context, k streamKey, line []byte, after time.Time) bool {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	t, ts, text := splitTimestamp(line)
	if skipsResumed(s.req.SinceTime, t) || (!after.IsZero() && !t.After(after)) {
		return false
	}
	if len(text) > maxLineBytes {
		text = text[:maxLineBytes]
	}
	if err := s.out.push(ctx, t, encodeLine(k.pod, k.container, ts, text)); err != nil {
		return false
	}
	s.counters.lines.Inc()
	s.counters.bytes.Add(float64(len(text)))
	if !t.IsZero() {
		s.mu.Lock()
		if cs := s.states[k]; cs != nil && t.After(cs.last) {
			cs.last = t
		}
		s.mu.Unlock()
	}
	return true
}

// publishStatus queues the current state of every stream.
func (s *stream) publishStatus() {
	s.mu.Lock()
	list := make([]PodStatus, 0, len(s.states))
	for k, cs := range s.states {
		list = append(list, PodStatus{Name: k.pod, Container: k.container, State: cs.state, Message: cs.message})
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].Container < list[j].Container
	})
	s.out.setStatus(mustJSON(Status{Type: "status", Pods: list}))
}

// checkDone ends a followed single-pod stream once none of its containers can produce more.
func (s *stream) checkDone() {
	if s.req.Pod == "" || !s.req.Follow {
		return
	}
	s.mu.Lock()
	over := len(s.states) > 0
	for _, cs := range s.states {
		if cs.reading || cs.state == StateWaiting {
			over = false
		}
	}
	s.mu.Unlock()
	if over {
		s.once.Do(func() { close(s.done) })
	}
}

// upstreamError turns an apiserver error into a coded one.
func upstreamError(err error, doing string) error {
	switch {
	case apierrors.IsForbidden(err):
		return mux.Errorf(mux.CodeForbidden, "%s: forbidden: %s", doing, apiMessage(err))
	case apierrors.IsNotFound(err):
		return mux.Errorf(mux.CodeNotFound, "%s: %s", doing, apiMessage(err))
	case apierrors.IsBadRequest(err):
		return mux.Errorf(mux.CodeBadParams, "%s: %s", doing, apiMessage(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return mux.Errorf(mux.CodeUnavailable, "%s: %v", doing, err)
	default:
		return mux.Errorf(mux.CodeUnavailable, "%s: %s", doing, apiMessage(err))
	}
}

func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) && st.Status().Message != "" {
		return st.Status().Message
	}
	return err.Error()
}
