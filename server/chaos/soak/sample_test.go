//go:build soak

package soak

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

// sample is one reading of a replica's /metrics.
type sample struct {
	at         time.Duration // since the load started
	replica    string
	goroutines float64
	heapLive   float64 // bytes the last collection found live
	heapInuse  float64 // bytes, live or not yet collected
	fds        float64
	rss        float64 // bytes
}

// sampler reads every replica's /metrics every interval and appends each reading to a CSV file
// as it goes, so a run cut short still leaves its figures.
type sampler struct {
	replicas []*chaostest.Replica
	began    time.Time
	csv      io.Writer

	mu      sync.Mutex
	samples []sample
	misses  int // readings that failed
}

var metricNames = map[string]func(*sample, float64){
	"go_goroutines":                 func(s *sample, v float64) { s.goroutines = v },
	"go_gc_heap_live_bytes":         func(s *sample, v float64) { s.heapLive = v },
	"go_memstats_heap_inuse_bytes":  func(s *sample, v float64) { s.heapInuse = v },
	"process_open_fds":              func(s *sample, v float64) { s.fds = v },
	"process_resident_memory_bytes": func(s *sample, v float64) { s.rss = v },
}

// run writes one CSV row per round: the seconds since the load started, then goroutines, live
// heap and heap in use (MiB), open fds and RSS (MiB) of each replica in order (NaN for a failed
// reading).
func (sp *sampler) run(ctx context.Context, every time.Duration) {
	header := "seconds"
	for _, r := range sp.replicas {
		header += fmt.Sprintf(",%[1]s_goroutines,%[1]s_heap_live_mib,%[1]s_heap_inuse_mib,%[1]s_open_fds,%[1]s_rss_mib", r.Name)
	}
	fmt.Fprintln(sp.csv, header)
	c := http.Client{Timeout: 5 * time.Second}
	for {
		row := fmt.Sprintf("%.0f", time.Since(sp.began).Seconds())
		for _, r := range sp.replicas {
			s, err := sp.read(ctx, &c, r)
			sp.mu.Lock()
			if err != nil {
				sp.misses++
				row += ",NaN,NaN,NaN,NaN,NaN"
			} else {
				sp.samples = append(sp.samples, s)
				row += fmt.Sprintf(",%.0f,%.2f,%.2f,%.0f,%.2f", s.goroutines, s.heapLive/(1<<20), s.heapInuse/(1<<20), s.fds, s.rss/(1<<20))
			}
			sp.mu.Unlock()
		}
		fmt.Fprintln(sp.csv, row)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (sp *sampler) read(ctx context.Context, c *http.Client, r *chaostest.Replica) (sample, error) {
	// The replicas serve /metrics on --metrics-listen (with the heap profiles), without a token.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Proc.MetricsURL, nil)
	if err != nil {
		return sample{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("/metrics on %s: %s", r.Name, resp.Status)
	}
	s := sample{at: time.Since(sp.began), replica: r.Name}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if set := metricNames[name]; ok && set != nil {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return sample{}, fmt.Errorf("%s: %w", name, err)
			}
			set(&s, v)
			found++
		}
	}
	if found != len(metricNames) {
		return sample{}, fmt.Errorf("/metrics on %s: %d of %d series", r.Name, found, len(metricNames))
	}
	return s, sc.Err()
}

// window is the median of one series of one replica over [from, to).
func (sp *sampler) window(replica string, from, to time.Duration, value func(sample) float64) (float64, int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var vs []float64
	for _, s := range sp.samples {
		if s.replica == replica && s.at >= from && s.at < to {
			vs = append(vs, value(s))
		}
	}
	return median(vs), len(vs)
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

// latencies keeps delivery latencies by minute of the run.
type latencies struct {
	began time.Time
	mu    sync.Mutex
	by    map[int][]time.Duration
}

func newLatencies(began time.Time) *latencies {
	return &latencies{began: began, by: map[int][]time.Duration{}}
}

func (l *latencies) add(d time.Duration) {
	m := int(time.Since(l.began) / time.Minute)
	l.mu.Lock()
	l.by[m] = append(l.by[m], d)
	l.mu.Unlock()
}

// quantile over the minutes [from, to).
func (l *latencies) quantile(q float64, from, to int) (time.Duration, int) {
	l.mu.Lock()
	var all []time.Duration
	for m := from; m < to; m++ {
		all = append(all, l.by[m]...)
	}
	l.mu.Unlock()
	if len(all) == 0 {
		return 0, 0
	}
	slices.Sort(all)
	return all[min(len(all)-1, int(q*float64(len(all))))], len(all)
}

// writeCSV writes one row a minute: samples, p50 and p99 in milliseconds.
func (l *latencies) writeCSV(path string, minutes int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, "minute,samples,p50_ms,p99_ms")
	for m := range minutes {
		p50, n := l.quantile(0.50, m, m+1)
		p99, _ := l.quantile(0.99, m, m+1)
		fmt.Fprintf(f, "%d,%d,%.2f,%.2f\n", m, n, ms(p50), ms(p99))
	}
	return f.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
