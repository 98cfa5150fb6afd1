package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

// These benchmarks are run by hack/bench-streams.sh (make bench), once each (-benchtime 1x):
// they report their own figures as custom metrics.

// BenchmarkLogThroughput streams a large log (appended before the stream opens) through one
// logs channel on the multiplexer to a client that reads as fast as it can, and the same log
// straight from the apiserver as the peer.
func BenchmarkLogThroughput(b *testing.B) {
	s := start(b, nil)
	alice := s.login(b, "alice", false)
	pod := s.podOf(b, "demo", "worker")
	ctr := pod.Spec.Containers[0].Name
	const total = 300000
	since := time.Now().UTC()
	var chunk strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&chunk, "bench line %06d GET /api/v1/orders 200 12ms user=42 trace=0123456789abcdef\n", i)
	}
	for range total / 10000 {
		if err := s.cp.AppendLog("demo", pod.Name, ctr, chunk.String()); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Peer: the apiserver's own stream, read and split into lines.
	client, err := kubernetes.NewForConfig(s.cp.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	st := since.Add(-time.Second)
	start := time.Now()
	rc, err := client.CoreV1().Pods("demo").GetLogs(pod.Name, &corev1.PodLogOptions{Container: ctr, Timestamps: true, SinceTime: ptrTime(st)}).Stream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	direct := strings.Count(string(data), "\n")
	directRate := float64(direct) / time.Since(start).Seconds()

	conn, err := muxclient.Dial(ctx, s.base+"/ws", alice)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.ResetTimer()
	start = time.Now()
	ch, err := conn.Open(ctx, "logs", url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "sinceTime": {st.Format(time.RFC3339)}})
	if err != nil {
		b.Fatal(err)
	}
	n, dropped := 0, int64(0)
	for {
		m, err := ch.Recv(ctx)
		if err != nil {
			break
		}
		switch {
		case strings.HasPrefix(string(m.Data), `{"type":"line"`):
			n++
		case strings.HasPrefix(string(m.Data), `{"type":"dropped"`):
			var d struct{ Count int64 }
			_ = json.Unmarshal(m.Data, &d)
			dropped += d.Count
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if int64(n)+dropped < total {
		b.Fatalf("received %d lines and was told of %d dropped, want at least %d in all", n, dropped, total)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(directRate, "apiserver-lines/s")
	b.ReportMetric(float64(dropped), "dropped")
}

func ptrTime(t time.Time) *metav1.Time { v := metav1.NewTime(t); return &v }

// BenchmarkStalledClientMemory floods a followed log into a client that never reads, and
// reports the server's heap growth (the app runs in this process).
func BenchmarkStalledClientMemory(b *testing.B) {
	s := start(b, nil)
	alice := s.login(b, "alice", false)
	pod := s.podOf(b, "demo", "api")
	ctr := pod.Spec.Containers[0].Name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := muxclient.Dial(ctx, s.base+"/ws", alice)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Open(ctx, "logs", url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "follow": {"true"}, "tailLines": {"0"}}); err != nil {
		b.Fatal(err)
	}
	base := heapAlloc()
	var chunk strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&chunk, "flood %06d %s\n", i, strings.Repeat("y", 180))
	}
	for range 50 { // 500,000 lines, ~100 MB
		if err := s.cp.AppendLog("demo", pod.Name, ctr, chunk.String()); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(10 * time.Second)
	b.ReportMetric(float64(int64(heapAlloc())-int64(base))/(1<<20), "heap-growth-MiB")
}

// BenchmarkKeystrokeEcho measures a keystroke's round trip (send one byte, read its echo) in a
// TTY running cat: through Yard's shell channel, straight through client-go's executor (what
// kubectl exec does), and through Yard while a logs channel on the same socket floods.
func BenchmarkKeystrokeEcho(b *testing.B) {
	s := start(b, nil)
	alice := s.login(b, "alice", false)
	pod := s.podOf(b, "demo", "web")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 300

	// Direct: remotecommand to the apiserver as kubectl exec -it would.
	direct := func() []time.Duration {
		client, err := kubernetes.NewForConfig(s.cp.RESTConfig())
		if err != nil {
			b.Fatal(err)
		}
		req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace("demo").Name(pod.Name).SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true, TTY: true}, scheme.ParameterCodec)
		ex, err := remotecommand.NewWebSocketExecutor(s.cp.RESTConfig(), "GET", req.URL().String())
		if err != nil {
			b.Fatal(err)
		}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ectx, ecancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = ex.StreamWithContext(ectx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Tty: true})
			outW.Close()
		})
		defer func() { ecancel(); inW.Close(); outR.Close(); wg.Wait() }()
		buf := make([]byte, 64)
		return measure(b, n, func(c byte) {
			if _, err := inW.Write([]byte{c}); err != nil {
				b.Fatal(err)
			}
		}, func(c byte) {
			for {
				k, err := outR.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				if slices.Contains(buf[:k], c) {
					return
				}
			}
		})
	}

	viaYard := func(flood bool) []time.Duration {
		conn, err := muxclient.Dial(ctx, s.base+"/ws", alice)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		var stop atomic.Bool
		var wg sync.WaitGroup
		defer func() { stop.Store(true); wg.Wait() }()
		if flood {
			logs, err := conn.Open(ctx, "logs", url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "follow": {"true"}, "tailLines": {"0"}})
			if err != nil {
				b.Fatal(err)
			}
			var chunk strings.Builder
			for i := range 2000 {
				fmt.Fprintf(&chunk, "flood %06d %s\n", i, strings.Repeat("z", 100))
			}
			wg.Go(func() {
				// A busy service's rate (about 20,000 lines/s), not a flood that takes both
				// cores from the apiserver and KWOK, which the keystrokes also go through.
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for !stop.Load() {
					_ = s.cp.AppendLog("demo", pod.Name, pod.Spec.Containers[0].Name, chunk.String())
					<-tick.C
				}
			})
			wg.Go(func() {
				for {
					if _, err := logs.Recv(ctx); err != nil || stop.Load() {
						return
					}
				}
			})
		}
		sh, err := conn.Open(ctx, "shell", url.Values{"namespace": {"demo"}, "pod": {pod.Name}, "command": {"cat"}})
		if err != nil {
			b.Fatal(err)
		}
		defer sh.Close()
		return measure(b, n, func(c byte) {
			if err := sh.Send(ctx, mux.Message{Type: mux.Binary, Data: []byte{c}}); err != nil {
				b.Fatal(err)
			}
		}, func(c byte) {
			for {
				m, err := sh.Recv(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if m.Type == mux.Binary && slices.Contains(m.Data, c) {
					return
				}
			}
		})
	}

	d := direct()
	y := viaYard(false)
	f := viaYard(true)
	b.ReportMetric(us(pct(d, 50)), "direct-p50-us")
	b.ReportMetric(us(pct(d, 99)), "direct-p99-us")
	b.ReportMetric(us(pct(y, 50)), "yard-p50-us")
	b.ReportMetric(us(pct(y, 99)), "yard-p99-us")
	b.ReportMetric(us(pct(f, 50)), "yard-flood-p50-us")
	b.ReportMetric(us(pct(f, 99)), "yard-flood-p99-us")
}

// measure types n characters one at a time, each after the previous one's echo, after a
// warm-up, and returns the round trips.
func measure(b *testing.B, n int, send func(byte), echoed func(byte)) []time.Duration {
	chars := []byte("abcdefghijklmnopqrstuvwxyz")
	for i := range 20 {
		c := chars[i%len(chars)]
		send(c)
		echoed(c)
	}
	out := make([]time.Duration, 0, n)
	for i := range n {
		c := chars[i%len(chars)]
		t0 := time.Now()
		send(c)
		echoed(c)
		out = append(out, time.Since(t0))
	}
	return out
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }
