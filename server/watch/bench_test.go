package watch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	kwatch "k8s.io/apimachinery/pkg/watch"
)

// BenchmarkFanout measures the hub's own cost per delivered message: b.N changes to one upstream
// fanned out to 1000 streams whose channels always take (no network, no multiplexer). Run with
// go test -run XXX -bench Fanout ./server/watch/
func BenchmarkFanout(b *testing.B) {
	const streams = 1000
	e := newEnv(b, Options{Recheck: time.Second})
	pad := map[string]string{"pad": strings.Repeat("x", 1500)} // about a real pod's size
	for i := range 50 {
		e.api.change(kwatch.Added, "demo", fmt.Sprintf("p%d", i), pad)
	}
	var rs []*running
	for i := range streams {
		r, err := e.open(b, []string{"alice", "carol"}[i%2], "kinds=pods")
		if err != nil {
			b.Fatal(err)
		}
		r.ch.discard = true
		rs = append(rs, r)
	}
	total := func() int64 {
		var n int64
		for _, r := range rs {
			n += r.ch.sent.Load()
		}
		return n
	}
	settle := func() int64 {
		last := int64(-1)
		for {
			n := total()
			if n == last {
				return n
			}
			last = n
			time.Sleep(20 * time.Millisecond)
		}
	}
	before := settle()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		e.api.change(kwatch.Modified, "demo", fmt.Sprintf("p%d", i%50), pad)
	}
	delivered := settle() - before
	el := time.Since(start) - 20*time.Millisecond
	b.StopTimer()
	b.ReportMetric(float64(el.Nanoseconds())/float64(max(delivered, 1)), "ns/delivery")
	b.ReportMetric(float64(delivered)/float64(b.N), "deliveries/change")
}
