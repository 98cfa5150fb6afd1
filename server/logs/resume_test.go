package logs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
)

// cutLogs serves a container's log from a pipe per open and records each open's options, so a
// test can cut a stream (as an apiserver going away does) and see how it is reopened.
type cutLogs struct {
	opens  chan *corev1.PodLogOptions
	pipes  chan *io.PipeWriter
	refuse error // returned by every open when set
}

func newCutLogs() *cutLogs {
	return &cutLogs{opens: make(chan *corev1.PodLogOptions, 10), pipes: make(chan *io.PipeWriter, 10)}
}

func (c *cutLogs) open(ctx context.Context, _, _ string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	c.opens <- o
	if c.refuse != nil {
		return nil, c.refuse
	}
	r, w := io.Pipe()
	go func() { <-ctx.Done(); w.CloseWithError(ctx.Err()) }()
	c.pipes <- w
	return r, nil
}

func (c *cutLogs) nextOpen(t *testing.T) (*corev1.PodLogOptions, *io.PipeWriter) {
	t.Helper()
	select {
	case o := <-c.opens:
		if o == nil {
			t.Fatal("nil options")
		}
		select {
		case w := <-c.pipes:
			return o, w
		case <-time.After(5 * time.Second):
			t.Fatal("open without a pipe")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not (re)opened")
	}
	return nil, nil
}

func followPod(t *testing.T, client *fake.Clientset, logs *cutLogs) (*fakeChannel, *stream, func() error) {
	t.Helper()
	k, err := New(nil, Config{MaxLines: 100, MaxBytes: 1 << 20, Keepalive: time.Hour}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(Request{Namespace: "demo", Pod: "web-a", Follow: true}, client, newPending(100, 1<<20, 0, false), k.log, k.counters)
	st.openLogs = logs.open
	st.resumeBackoff = 20 * time.Millisecond
	ch := newFakeChannel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.run(ctx, ch, st) }()
	return ch, st, func() error { cancel(); return <-done }
}

func lineTexts(msgs []map[string]any) []string {
	var out []string
	for _, m := range msgs {
		if m["type"] == "line" {
			out = append(out, m["text"].(string))
		}
	}
	return out
}

func hasStatus(msgs []map[string]any, state, contains string) bool {
	for _, m := range msgs {
		if m["type"] != "status" {
			continue
		}
		for _, p := range m["pods"].([]any) {
			p := p.(map[string]any)
			msg, _ := p["message"].(string)
			if p["state"] == state && strings.Contains(msg, contains) {
				return true
			}
		}
	}
	return false
}

// A followed stream cut while its container runs (the apiserver went away) is reopened from the
// time of the last line delivered; the status says it is reconnecting meanwhile, and nothing
// delivered is delivered twice.
func TestCutStreamResumesFromLastLine(t *testing.T) {
	logs := newCutLogs()
	ch, _, stop := followPod(t, fake.NewClientset(runningPod("web-a", nil)), logs)
	_, w := logs.nextOpen(t)
	_, _ = io.WriteString(w, "2026-01-01T00:00:01.000000000Z one\n2026-01-01T00:00:02.000000000Z two\n")
	ch.waitFor(t, "two lines", func(m []map[string]any) bool { return len(lineTexts(m)) == 2 })

	w.CloseWithError(errors.New("http2: server sent GOAWAY and closed the connection"))
	o, w := logs.nextOpen(t)
	if o.SinceTime == nil || !o.SinceTime.Time.Equal(time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)) || o.TailLines != nil {
		t.Fatalf("reopened with sinceTime %v, tailLines %v; want the last line's time and no tail", o.SinceTime, o.TailLines)
	}
	ch.waitFor(t, "a reconnecting status", func(m []map[string]any) bool {
		return hasStatus(m, StateFailed, "GOAWAY") && hasStatus(m, StateFailed, "reconnecting")
	})
	// The apiserver resends from sinceTime, the last delivered line included.
	_, _ = io.WriteString(w, "2026-01-01T00:00:02.000000000Z two\n2026-01-01T00:00:03.000000000Z three\n")
	msgs := ch.waitFor(t, "the line after the cut", func(m []map[string]any) bool { return len(lineTexts(m)) >= 3 })
	ch.waitFor(t, "streaming again", func(m []map[string]any) bool {
		return m[len(m)-1]["type"] == "line" || hasStatus(m[len(m)-1:], StateStreaming, "")
	})
	if got := strings.Join(lineTexts(msgs), ","); got != "one,two,three" {
		t.Fatalf("lines %s, want one,two,three", got)
	}

	// A clean end (EOF) while the container still runs is a cut too.
	_ = w.Close()
	if o, _ = logs.nextOpen(t); o.SinceTime == nil || o.SinceTime.Second() != 3 {
		t.Fatalf("reopened after EOF with sinceTime %v", o.SinceTime)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A container that stopped is not reopened: its stream ends.
func TestEndedContainerIsNotResumed(t *testing.T) {
	logs := newCutLogs()
	client := fake.NewClientset(runningPod("web-a", nil))
	ch, st, stop := followPod(t, client, logs)
	_, w := logs.nextOpen(t)
	pod := runningPod("web-a", nil)
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	if _, err := client.CoreV1().Pods("demo").UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait until the informer has seen the end, then end the stream as the kubelet does.
	deadline := time.Now().Add(5 * time.Second)
	for st.stillRunning(streamKey{"web-a", "app"}, st.followedPod("web-a")) {
		if time.Now().After(deadline) {
			t.Fatal("the informer never saw the container end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = w.Close()
	ch.waitFor(t, "ended", func(m []map[string]any) bool { return hasStatus(m, StateEnded, "") })
	select {
	case o := <-logs.opens:
		t.Fatalf("reopened a stopped container's stream: %+v", o)
	case <-time.After(200 * time.Millisecond):
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A refusal that will not change (forbidden) is reported, not retried.
func TestRefusedStreamIsNotRetried(t *testing.T) {
	logs := newCutLogs()
	logs.refuse = apierrors.NewForbidden(schema.GroupResource{Resource: "pods/log"}, "web-a", errors.New("no"))
	ch, _, stop := followPod(t, fake.NewClientset(runningPod("web-a", nil)), logs)
	<-logs.opens
	ch.waitFor(t, "failed", func(m []map[string]any) bool { return hasStatus(m, StateFailed, "forbidden") })
	select {
	case <-logs.opens:
		t.Fatal("a forbidden stream was opened again")
	case <-time.After(200 * time.Millisecond):
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
