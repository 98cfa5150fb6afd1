package watch

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// fakeAPI is a tiny apiserver for one resource: objects with increasing resourceVersions, a log of
// changes that watches replay from, and a way to lose the log (as an apiserver restart does).
type fakeAPI struct {
	mu       sync.Mutex
	rv       uint64
	objs     map[string]*unstructured.Unstructured
	log      []kwatch.Event
	logStart uint64 // the log holds every change with rv > logStart
	watchers []*fakeWatcher
	lists    int
	watches  int
	down     bool
}

type fakeWatcher struct {
	ns string
	ch chan kwatch.Event
}

func newFakeAPI() *fakeAPI { return &fakeAPI{objs: map[string]*unstructured.Unstructured{}} }

func (f *fakeAPI) change(t kwatch.EventType, ns, name string, lbls map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rv++
	// No apiVersion and kind, as in list items and informer objects.
	o := &unstructured.Unstructured{Object: map[string]any{}}
	o.SetNamespace(ns)
	o.SetName(name)
	o.SetLabels(lbls)
	o.SetResourceVersion(strconv.FormatUint(f.rv, 10))
	o.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "test"}})
	k := ns + "/" + name
	if t == kwatch.Deleted {
		delete(f.objs, k)
	} else {
		f.objs[k] = o
	}
	ev := kwatch.Event{Type: t, Object: o}
	f.log = append(f.log, ev)
	for _, w := range f.watchers {
		if w.ns == "" || w.ns == ns {
			w.ch <- kwatch.Event{Type: t, Object: o.DeepCopy()}
		}
	}
}

// restart takes the apiserver away, applies changes meanwhile, and brings it back without its
// change log, so watches from before must re-list (410 Gone), as after a real restart.
func (f *fakeAPI) restart(meanwhile func()) {
	f.setDown(true)
	meanwhile()
	f.mu.Lock()
	f.log = nil
	f.logStart = f.rv
	f.down = false
	f.mu.Unlock()
}

func (f *fakeAPI) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if down {
		for _, w := range f.watchers {
			close(w.ch)
		}
		f.watchers = nil
	}
}

func (f *fakeAPI) counts() (lists, watches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists, f.watches
}

type fakeRes struct {
	dynamic.NamespaceableResourceInterface
	api *fakeAPI
	ns  string
}

func (r fakeRes) Namespace(ns string) dynamic.ResourceInterface { return fakeRes{api: r.api, ns: ns} }

var errDown = fmt.Errorf("connection refused")

func (r fakeRes) List(_ context.Context, _ metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	f := r.api
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	f.lists++
	l := &unstructured.UnstructuredList{Object: map[string]any{}}
	for _, o := range f.objs {
		if r.ns == "" || o.GetNamespace() == r.ns {
			l.Items = append(l.Items, *o.DeepCopy())
		}
	}
	l.SetResourceVersion(strconv.FormatUint(f.rv, 10))
	return l, nil
}

func (r fakeRes) Watch(_ context.Context, opts metav1.ListOptions) (kwatch.Interface, error) {
	f := r.api
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	f.watches++
	from, _ := strconv.ParseUint(opts.ResourceVersion, 10, 64)
	if from < f.logStart {
		return nil, apierrors.NewResourceExpired("too old resource version")
	}
	w := &fakeWatcher{ns: r.ns, ch: make(chan kwatch.Event, 10000)}
	for _, ev := range f.log {
		o := ev.Object.(*unstructured.Unstructured)
		rv, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
		if rv > from && (r.ns == "" || o.GetNamespace() == r.ns) {
			w.ch <- kwatch.Event{Type: ev.Type, Object: o.DeepCopy()}
		}
	}
	f.watchers = append(f.watchers, w)
	return &fakeWatch{api: f, w: w}, nil
}

type fakeWatch struct {
	api  *fakeAPI
	w    *fakeWatcher
	once sync.Once
}

func (w *fakeWatch) ResultChan() <-chan kwatch.Event { return w.w.ch }
func (w *fakeWatch) Stop() {
	w.once.Do(func() {
		f := w.api
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.watchers {
			if x == w.w {
				f.watchers = append(f.watchers[:i], f.watchers[i+1:]...)
				close(x.ch)
				return
			}
		}
	})
}

type fakeDyn struct {
	dynamic.Interface
	api *fakeAPI
}

func (d fakeDyn) Resource(schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return fakeRes{api: d.api}
}

// fakeCluster answers permissions from a table: user -> namespaces they may list/watch pods in
// ("" = cluster-wide).
type fakeCluster struct {
	api   *fakeAPI
	mu    sync.Mutex
	may   map[string]map[string]bool
	asked atomic.Int64 // permission questions answered
}

func (c *fakeCluster) ID() string { return "test" }
func (c *fakeCluster) Resolve(kind string) (cluster.Resource, error) {
	if kind == widgets.Name {
		return widgets, nil
	}
	r, ok := cluster.LookupBuiltin(kind)
	if !ok {
		return cluster.Resource{}, fmt.Errorf("%w %q", cluster.ErrUnknownKind, kind)
	}
	return r, nil
}

// widgets is a custom resource the fake cluster serves (with the same objects as every kind).
var widgets = cluster.Resource{Name: "widgets.example.com", Kind: "Widget", Namespaced: true,
	GVR: schema.GroupVersionResource{Group: "example.com", Version: "v1beta1", Resource: "widgets"}}

func (c *fakeCluster) Can(_ context.Context, u identity.User, a cluster.Access) (cluster.Decision, error) {
	c.asked.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.may[u.Name]
	return cluster.Decision{Allowed: m[""] || (a.Namespace != "" && m[a.Namespace]), Reason: "table"}, nil
}
func (c *fakeCluster) Dynamic() dynamic.Interface { return fakeDyn{api: c.api} }
func (c *fakeCluster) set(user, ns string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.may[user] == nil {
		c.may[user] = map[string]bool{}
	}
	c.may[user][ns] = ok
}

type fakeClusters struct{ c *fakeCluster }

func (f fakeClusters) Lookup(name string) (Cluster, error) {
	if name != "" && name != "test" {
		return nil, fmt.Errorf("%w %q", cluster.ErrNoCluster, name)
	}
	return f.c, nil
}

// fakeChannel records what a stream sends; blocked makes TrySend refuse (a slow client).
type fakeChannel struct {
	sent    atomic.Int64
	discard bool // count only (benchmarks)
	mu      sync.Mutex
	msgs    [][]byte
	blocked bool
	cond    chan struct{}
}

func newFakeChannel() *fakeChannel { return &fakeChannel{cond: make(chan struct{}, 1)} }

func (c *fakeChannel) Recv(ctx context.Context) (mux.Message, error) {
	<-ctx.Done()
	return mux.Message{}, ctx.Err()
}
func (c *fakeChannel) Send(ctx context.Context, m mux.Message) error {
	for !c.TrySend(m) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
func (c *fakeChannel) TrySend(m mux.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocked {
		return false
	}
	c.sent.Add(1)
	if c.discard {
		return true
	}
	c.msgs = append(c.msgs, m.Data)
	select {
	case c.cond <- struct{}{}:
	default:
	}
	return true
}
func (c *fakeChannel) CloseWithError(error)  {}
func (c *fakeChannel) CloseConn(int, string) {}
func (c *fakeChannel) setBlocked(b bool)     { c.mu.Lock(); c.blocked = b; c.mu.Unlock() }
func (c *fakeChannel) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.msgs...)
}

// waitFor waits until pred holds over the messages received so far.
func (c *fakeChannel) waitFor(t *testing.T, what string, pred func(msgs []wireMsg) bool) []wireMsg {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		msgs := decodeAll(t, c.all())
		if pred(msgs) {
			return msgs
		}
		select {
		case <-c.cond:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d messages: %v", what, len(msgs), summary(msgs))
		}
	}
}
