package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/yardhq/yard/server/mux"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRequest(t *testing.T) {
	ok := []string{
		"namespace=demo&pod=web-1",
		"namespace=demo&pod=web-1&container=app&follow=true&tailLines=10&timestamps=1",
		"namespace=demo&workload=deploy/web&allContainers=true&sinceSeconds=60",
		"namespace=demo&workload=StatefulSet/db&sinceTime=2026-01-02T03:04:05.5Z&previous=true",
		"namespace=demo&workload=jobs/x", "namespace=demo&workload=rs/x", "namespace=demo&workload=ds/x",
	}
	for _, q := range ok {
		v, _ := url.ParseQuery(q)
		if _, err := ParseRequest(v); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	bad := []string{
		"pod=x", "namespace=demo", "namespace=demo&pod=x&workload=deploy/y", "namespace=demo&workload=pod/x",
		"namespace=demo&workload=deploy", "namespace=demo&pod=../x", "namespace=Demo&pod=x",
		"namespace=demo&pod=x&tailLines=-1", "namespace=demo&pod=x&tailLines=abc", "namespace=demo&pod=x&follow=maybe",
		"namespace=demo&pod=x&sinceTime=yesterday", "namespace=demo&pod=x&sinceSeconds=0",
		"namespace=demo&pod=x&container=a&allContainers=true",
		"namespace=demo&pod=x&sinceSeconds=5&sinceTime=2026-01-02T03:04:05Z",
	}
	for _, q := range bad {
		v, _ := url.ParseQuery(q)
		_, err := ParseRequest(v)
		var e *mux.Error
		if !errors.As(err, &e) || e.Code != mux.CodeBadParams {
			t.Errorf("%s: got %v, want bad_params", q, err)
		}
	}
	v, _ := url.ParseQuery("namespace=demo&workload=Deployments/web&tailLines=5")
	r, _ := ParseRequest(v)
	if r.Workload != (WorkloadRef{"Deployment", "web"}) || *r.TailLines != 5 {
		t.Fatalf("parsed %+v", r)
	}
}

func TestSplitTimestamp(t *testing.T) {
	tm, ts, text := splitTimestamp([]byte("2026-01-02T03:04:05.123456789Z hello world"))
	if ts != "2026-01-02T03:04:05.123456789Z" || string(text) != "hello world" || tm.Nanosecond() != 123456789 {
		t.Fatalf("%v %q %q", tm, ts, text)
	}
	for _, l := range []string{"hello world", "", "2026-13-02T03:04:05Z x", "notatimestampbutlongenough1234 x"} {
		tm, ts, text := splitTimestamp([]byte(l))
		if !tm.IsZero() || ts != "" || string(text) != l {
			t.Errorf("%q: %v %q %q", l, tm, ts, text)
		}
	}
}

func TestSkipsResumed(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	frac := base.Add(500 * time.Millisecond)
	cases := []struct {
		since *time.Time
		t     time.Time
		skip  bool
	}{
		{nil, base, false},
		{&base, base, false}, // whole second: inclusive
		{&base, base.Add(-time.Nanosecond), true},
		{&frac, frac, true}, // resume token: the last line seen is not sent again
		{&frac, frac.Add(time.Nanosecond), false},
		{&frac, base, true},
		{&frac, time.Time{}, false},
	}
	for i, c := range cases {
		if got := skipsResumed(c.since, c.t); got != c.skip {
			t.Errorf("case %d: got %v", i, got)
		}
	}
}

func TestPendingDropsOldestWithinBound(t *testing.T) {
	p := newPending(16, 1<<20, 0, false)
	base := time.Now()
	for i := range 100 {
		if err := p.push(context.Background(), base.Add(time.Duration(i)), []byte(fmt.Sprintf("line %03d", i))); err != nil {
			t.Fatal(err)
		}
		if n, _ := p.size(); n > 16 {
			t.Fatalf("holding %d lines, bound 16", n)
		}
	}
	b := p.take(1000)
	if b.dropped != 84 || len(b.lines) != 16 || string(b.lines[0]) != "line 084" || string(b.lines[15]) != "line 099" {
		t.Fatalf("dropped %d, lines %d first %q", b.dropped, len(b.lines), b.lines[0])
	}
	// The byte bound holds too.
	p = newPending(1000, 100, 0, false)
	for i := range 50 {
		_ = p.push(context.Background(), base, []byte("0123456789"))
		if _, n := p.size(); n > 100 {
			t.Fatalf("%d bytes held, bound 100 (after %d)", n, i)
		}
	}
}

func TestPendingMergesByTimeWithinWindow(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	p := newPending(1000, 1<<20, time.Second, false)
	p.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = p.push(context.Background(), base.Add(3), []byte("c"))
	_ = p.push(context.Background(), base.Add(1), []byte("a"))
	_ = p.push(context.Background(), base.Add(2), []byte("b"))
	if b := p.take(10); len(b.lines) != 0 || b.wait != time.Second {
		t.Fatalf("lines released before the window: %d (wait %s)", len(b.lines), b.wait)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	b := p.take(10)
	if got := string(joinLines(b.lines)); got != "a b c" {
		t.Fatalf("order %q", got)
	}
}

func TestPendingBlockModeWaits(t *testing.T) {
	p := newPending(16, 1<<20, 0, true)
	for range 16 {
		_ = p.push(context.Background(), time.Time{}, []byte("x"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.push(ctx, time.Time{}, []byte("y")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full block-mode buffer accepted a line: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.push(context.Background(), time.Time{}, []byte("z")) }()
	time.Sleep(10 * time.Millisecond)
	if b := p.take(4); len(b.lines) != 4 || b.dropped != 0 {
		t.Fatalf("took %d dropped %d", len(b.lines), b.dropped)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func joinLines(ls [][]byte) []byte {
	var out []byte
	for i, l := range ls {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, l...)
	}
	return out
}

// fakeChannel is a mux.Channel for unit tests; gate, when set, holds every Send until it is
// closed (a client that does not read).
type fakeChannel struct {
	mu   sync.Mutex
	msgs []mux.Message
	gate chan struct{}
	got  chan struct{}
}

func newFakeChannel() *fakeChannel { return &fakeChannel{got: make(chan struct{}, 1)} }

func (f *fakeChannel) Recv(ctx context.Context) (mux.Message, error) {
	<-ctx.Done()
	return mux.Message{}, ctx.Err()
}
func (f *fakeChannel) Send(ctx context.Context, m mux.Message) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	select {
	case f.got <- struct{}{}:
	default:
	}
	return nil
}
func (f *fakeChannel) TrySend(m mux.Message) bool { return false }
func (f *fakeChannel) CloseWithError(error)       {}
func (f *fakeChannel) CloseConn(int, string)      {}
func (f *fakeChannel) messages() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range f.msgs {
		var v map[string]any
		_ = json.Unmarshal(m.Data, &v)
		out = append(out, v)
	}
	return out
}

func (f *fakeChannel) waitFor(t *testing.T, what string, ok func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		msgs := f.messages()
		if ok(msgs) {
			return msgs
		}
		select {
		case <-f.got:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %v", what, msgs)
		}
	}
}

func runningPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
}

// fakeLogs serves each pod's log from a pipe the test writes to.
type fakeLogs struct {
	mu    sync.Mutex
	pipes map[string]*io.PipeWriter
	ready chan string
}

func (f *fakeLogs) open(ctx context.Context, _, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	if !o.Timestamps {
		return nil, errors.New("timestamps not requested")
	}
	r, w := io.Pipe()
	f.mu.Lock()
	f.pipes[pod] = w
	f.mu.Unlock()
	go func() { <-ctx.Done(); w.CloseWithError(ctx.Err()) }()
	f.ready <- pod
	return r, nil
}

func (f *fakeLogs) write(pod, s string) {
	f.mu.Lock()
	w := f.pipes[pod]
	f.mu.Unlock()
	_, _ = io.WriteString(w, s)
}

func TestWorkloadFollowsPodChurnAndMerges(t *testing.T) {
	sel := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: sel}},
	}
	client := fake.NewClientset(dep, runningPod("web-a", sel), runningPod("other", map[string]string{"app": "x"}))
	fl := &fakeLogs{pipes: map[string]*io.PipeWriter{}, ready: make(chan string, 10)}
	k, err := New(nil, Config{MaxLines: 100, MaxBytes: 1 << 20, MergeWindow: 50 * time.Millisecond, Keepalive: time.Hour}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Namespace: "demo", Workload: WorkloadRef{"Deployment", "web"}, Follow: true}
	st := newStream(req, client, newPending(100, 1<<20, 50*time.Millisecond, false), k.log, k.counters)
	st.openLogs = fl.open
	ch := newFakeChannel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.run(ctx, ch, st) }()

	if p := <-fl.ready; p != "web-a" {
		t.Fatalf("streamed %s", p)
	}
	// Lines written out of order across one read arrive sorted by time.
	fl.write("web-a", "2026-01-01T00:00:02.000000000Z second\n2026-01-01T00:00:01.000000000Z first\n")
	ch.waitFor(t, "two lines", func(m []map[string]any) bool { return countType(m, "line") == 2 })

	if _, err := client.CoreV1().Pods("demo").Create(ctx, runningPod("web-b", sel), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := <-fl.ready; p != "web-b" {
		t.Fatalf("streamed %s", p)
	}
	fl.write("web-b", "2026-01-01T00:00:03.000000000Z from b\n")
	msgs := ch.waitFor(t, "line of the new pod", func(m []map[string]any) bool { return countType(m, "line") == 3 })
	var texts []string
	for _, m := range msgs {
		if m["type"] == "line" {
			texts = append(texts, fmt.Sprint(m["pod"], ":", m["text"]))
		}
	}
	if strings.Join(texts, ",") != "web-a:first,web-a:second,web-b:from b" {
		t.Fatalf("lines %v", texts)
	}
	if err := client.CoreV1().Pods("demo").Delete(ctx, "web-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ch.waitFor(t, "deleted status", func(m []map[string]any) bool {
		for _, x := range m {
			if x["type"] != "status" {
				continue
			}
			for _, p := range x["pods"].([]any) {
				if p := p.(map[string]any); p["name"] == "web-a" && p["state"] == StateDeleted {
					return true
				}
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStalledClientIsBoundedAndToldOfDrops(t *testing.T) {
	client := fake.NewClientset(runningPod("web-a", nil))
	fl := &fakeLogs{pipes: map[string]*io.PipeWriter{}, ready: make(chan string, 10)}
	k, _ := New(nil, Config{MaxLines: 100, MaxBytes: 1 << 20, Keepalive: time.Hour}, slog.New(slog.DiscardHandler), nil)
	req := Request{Namespace: "demo", Pod: "web-a", Follow: true}
	st := newStream(req, client, newPending(100, 1<<20, 0, false), k.log, k.counters)
	st.openLogs = fl.open
	ch := newFakeChannel()
	ch.gate = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- k.run(ctx, ch, st) }()
	<-fl.ready
	for i := range 5000 {
		fl.write("web-a", fmt.Sprintf("2026-01-01T00:00:00.%09dZ line %d\n", i+1, i))
		if n, _ := st.out.size(); n > 100 {
			t.Fatalf("buffer holds %d lines, bound 100", n)
		}
	}
	close(ch.gate)
	msgs := ch.waitFor(t, "the last line", func(m []map[string]any) bool {
		for _, x := range m {
			if x["text"] == "line 4999" {
				return true
			}
		}
		return false
	})
	var dropped float64
	for _, m := range msgs {
		if m["type"] == "dropped" {
			dropped += m["count"].(float64)
		}
	}
	if got := float64(countType(msgs, "line")) + dropped; dropped < 4000 || got != 5000 {
		t.Fatalf("dropped %v, lines+dropped %v (want 5000)", dropped, got)
	}
	cancel()
	<-done
}

func countType(msgs []map[string]any, typ string) int {
	n := 0
	for _, m := range msgs {
		if m["type"] == typ {
			n++
		}
	}
	return n
}

// keepaliveChannel records what TrySend is given.
type keepaliveChannel struct {
	fakeChannel
	tried chan []byte
}

func (k *keepaliveChannel) TrySend(m mux.Message) bool {
	select {
	case k.tried <- m.Data:
	default:
	}
	return true
}

func TestIdleStreamSendsKeepalives(t *testing.T) {
	client := fake.NewClientset(runningPod("web-a", nil))
	fl := &fakeLogs{pipes: map[string]*io.PipeWriter{}, ready: make(chan string, 10)}
	k, err := New(nil, Config{MaxLines: 100, MaxBytes: 1 << 20, Keepalive: time.Second}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(Request{Namespace: "demo", Pod: "web-a", Follow: true}, client, newPending(100, 1<<20, 0, false), k.log, k.counters)
	st.openLogs = fl.open
	ch := &keepaliveChannel{fakeChannel: *newFakeChannel(), tried: make(chan []byte, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.run(ctx, ch, st) }()
	<-fl.ready
	select {
	case b := <-ch.tried:
		if string(b) != `{"type":"keepalive"}` {
			t.Fatalf("keepalive %s", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive from an idle stream")
	}
	cancel()
	<-done
}

// A client that reads, but slower than the pods write, keeps the buffer full: after a moment of
// waiting (a burst), the oldest lines are dropped instead of holding the readers back.
func TestSlowClientGetsDropsAfterBurstWait(t *testing.T) {
	p := newPending(16, 1<<20, 0, false)
	ctx := context.Background()
	for range 16 {
		_ = p.push(ctx, time.Time{}, []byte("x"))
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the slow client: one line every 20ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				p.take(1)
			}
		}
	}()
	start := time.Now()
	for range 200 { // pushing far faster than 50 lines/s
		if err := p.push(ctx, time.Time{}, []byte("y")); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b := p.take(100)
	if b.dropped == 0 {
		t.Fatalf("a slow client lost nothing in %s: the readers were held back instead", elapsed)
	}
	if elapsed > 3*stallAfter {
		t.Fatalf("readers were held %s by a slow client", elapsed)
	}
}
