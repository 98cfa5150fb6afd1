package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/yardhq/yard/server/mux"
)

type discardChannel struct{ n int }

var linePrefix = []byte(`{"type":"line"`)

func (d *discardChannel) Recv(ctx context.Context) (mux.Message, error) {
	<-ctx.Done()
	return mux.Message{}, ctx.Err()
}
func (d *discardChannel) Send(_ context.Context, m mux.Message) error {
	if bytes.HasPrefix(m.Data, linePrefix) {
		d.n++
	}
	return nil
}
func (d *discardChannel) TrySend(mux.Message) bool { return true }
func (d *discardChannel) CloseWithError(error)     {}
func (d *discardChannel) CloseConn(int, string)    {}

// BenchmarkStreamLines measures the server's own work per log line: reading the apiserver's
// timestamped stream, splitting, encoding, buffering and handing lines to the channel (the
// socket and the apiserver are left out; hack/bench-streams.sh measures them end to end).
func BenchmarkStreamLines(b *testing.B) {
	var src bytes.Buffer
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const perOp = 100000
	for i := range perOp {
		fmt.Fprintf(&src, "%s bench line %06d GET /api/v1/orders 200 12ms user=42 trace=0123456789abcdef\n",
			base.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), i)
	}
	data := src.Bytes()
	client := fake.NewClientset(runningPod("web-a", nil))
	k, _ := New(nil, DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for range b.N {
		st := newStream(Request{Namespace: "demo", Pod: "web-a"}, client, newPending(10000, 4<<20, 0, false), k.log, k.counters)
		st.openLogs = func(context.Context, string, string, *corev1.PodLogOptions) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		ch := &discardChannel{}
		if err := k.run(context.Background(), ch, st); err != nil {
			b.Fatal(err)
		}
		sent += ch.n
	}
	b.ReportMetric(float64(b.N*perOp)/time.Since(start).Seconds(), "lines/s")
	// Lines are only dropped when the sender stalls for longer than a burst wait (a loaded
	// machine can deschedule it); say how many did not make it.
	b.ReportMetric(float64(b.N*perOp-sent), "lost")
}
