package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ErrBadLogTarget is returned by AppendLog for a namespace, pod or container name that is not a
// single path element.
var ErrBadLogTarget = errors.New("controlplane: bad log target")

// logAgent plays the container runtime's part for logs: it keeps one CRI-format file per
// container of every pod on the node (the files KWOK serves) and appends realistic lines to
// them over time.
type logAgent struct {
	client   kubernetes.Interface
	dir      string
	generate bool

	mu         sync.Mutex // guards containers and serializes writes
	containers map[string]*logTarget
	rng        *rand.Rand

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type logTarget struct {
	namespace, pod, container, role string
	next                            time.Time // when the generator writes its next line
}

func newLogAgent(client kubernetes.Interface, dir string, generate bool) *logAgent {
	return &logAgent{client: client, dir: dir, generate: generate, containers: map[string]*logTarget{},
		rng: rand.New(rand.NewPCG(1, 2))}
}

func (a *logAgent) start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.track(obj) },
		UpdateFunc: func(_, obj any) { a.track(obj) },
		DeleteFunc: func(obj any) { a.forget(obj) },
	})
	factory.Start(ctx.Done())
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		<-ctx.Done()
		factory.Shutdown()
	}()
	if a.generate {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.loop(ctx)
		}()
	}
}

func (a *logAgent) stop() {
	a.once.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
	})
}

func (a *logAgent) file(namespace, pod, container string) string {
	return filepath.Join(a.dir, namespace, pod, container+".log")
}

func (a *logAgent) track(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != nodeName {
		return
	}
	role := pod.Labels["app"]
	if role == "" {
		role = pod.Labels["app.kubernetes.io/name"]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ctr := range pod.Spec.Containers {
		key := pod.Namespace + "/" + pod.Name + "/" + ctr.Name
		if _, seen := a.containers[key]; seen {
			continue
		}
		t := &logTarget{namespace: pod.Namespace, pod: pod.Name, container: ctr.Name, role: role}
		if t.role == "" {
			t.role = ctr.Name
		}
		t.next = a.nextLine(time.Now())
		a.containers[key] = t
		// Start each log with a short history, as a container that has been up a little while.
		now := time.Now().UTC()
		var b strings.Builder
		for i := 12; i > 0; i-- {
			at := now.Add(-time.Duration(i) * 1500 * time.Millisecond)
			stream, line := a.line(t, at)
			b.WriteString(criLine(at, stream, line))
		}
		_ = a.appendLocked(a.file(t.namespace, t.pod, t.container), b.String())
	}
}

func (a *logAgent) forget(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ctr := range pod.Spec.Containers {
		delete(a.containers, pod.Namespace+"/"+pod.Name+"/"+ctr.Name)
	}
}

// loop appends a line to each container every 1 to 4 seconds (each on its own schedule).
func (a *logAgent) loop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		now := time.Now()
		for _, tg := range a.containers {
			if now.Before(tg.next) {
				continue
			}
			tg.next = a.nextLine(now)
			stream, line := a.line(tg, now.UTC())
			_ = a.appendLocked(a.file(tg.namespace, tg.pod, tg.container), criLine(now.UTC(), stream, line))
		}
		a.mu.Unlock()
	}
}

// nextLine picks when a container logs again. a.mu is held.
func (a *logAgent) nextLine(now time.Time) time.Time {
	return now.Add(time.Second + time.Duration(a.rng.Int64N(int64(3*time.Second))))
}

// appendLocked writes whole lines in one write so a reader never sees half a line.
func (a *logAgent) appendLocked(path, lines string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(lines)
	cerr := f.Close()
	return errors.Join(werr, cerr)
}

func criLine(t time.Time, stream, msg string) string {
	return t.Format(time.RFC3339Nano) + " " + stream + " F " + msg + "\n"
}

func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// AppendLog appends text to the log of a container of a pod on the node, one CRI line per line
// of text (stream stdout, timestamped now), as if the container had printed it. Followers
// (`kubectl logs -f`) see it at once.
func (c *ControlPlane) AppendLog(namespace, pod, container, text string) error {
	if !validName(namespace) || !validName(pod) || !validName(container) {
		return fmt.Errorf("%w: %q/%q/%q", ErrBadLogTarget, namespace, pod, container)
	}
	var b strings.Builder
	now := time.Now().UTC()
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		b.WriteString(criLine(now, "stdout", l))
	}
	a := c.logs
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.appendLocked(a.file(namespace, pod, container), b.String())
}

var (
	paths    = []string{"/", "/api/v1/orders", "/api/v1/orders/42", "/api/v1/users/me", "/healthz", "/static/app.js", "/api/v1/search?q=yard", "/metrics"}
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"}
	warnings = []string{"slow query took 1.2s", "retrying upstream connection (attempt 2/5)", "cache miss ratio above 40%", "deprecated API version v1beta1 requested", "connection pool near capacity (45/50)"}
	failures = []string{"upstream timed out after 5s", "failed to connect to redis:6379: connection refused", "panic recovered: index out of range [3] with length 3", "permission denied writing /data/cache", "context deadline exceeded"}
	jobs     = []string{"send-welcome-email", "resize-image", "sync-inventory", "compute-invoice", "reindex-search"}
)

// line makes one log line for a container; its shape follows the pod's role (app label).
// a.mu is held.
func (a *logAgent) line(t *logTarget, now time.Time) (stream, msg string) {
	r := a.rng
	level := "INFO"
	switch x := r.IntN(20); {
	case x == 0:
		level = "ERROR"
	case x < 3:
		level = "WARN"
	}
	stream = "stdout"
	if level == "ERROR" {
		stream = "stderr"
	}
	detail := fmt.Sprintf("%s %s %d %dms", methods[r.IntN(len(methods))], paths[r.IntN(len(paths))],
		[]int{200, 200, 200, 201, 204, 304, 404}[r.IntN(7)], 1+r.IntN(250))
	switch level {
	case "WARN":
		detail = warnings[r.IntN(len(warnings))]
	case "ERROR":
		detail = failures[r.IntN(len(failures))]
	}
	switch {
	case strings.Contains(t.role, "api"):
		// Structured services log JSON.
		b, _ := json.Marshal(map[string]any{
			"ts": now.Format(time.RFC3339Nano), "level": strings.ToLower(level), "msg": detail,
			"pod": t.pod, "request_id": fmt.Sprintf("%08x", r.Uint32()), "duration_ms": r.IntN(300),
		})
		return stream, string(b)
	case strings.Contains(t.role, "worker"), strings.Contains(t.role, "job"), strings.Contains(t.role, "report"):
		if level == "INFO" {
			detail = fmt.Sprintf("job %s id=%d done in %dms", jobs[r.IntN(len(jobs))], r.IntN(100000), 5+r.IntN(2000))
		}
		if r.IntN(4) == 0 {
			b, _ := json.Marshal(map[string]any{"time": now.Format(time.RFC3339), "level": level, "event": detail, "queue": "default"})
			return stream, string(b)
		}
	}
	return stream, fmt.Sprintf("%s %s [%s] %s", now.Format("2006-01-02T15:04:05.000Z07:00"), level, t.container, detail)
}
