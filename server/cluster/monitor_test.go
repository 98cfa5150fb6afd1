package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type flakyPinger struct {
	mu  sync.Mutex
	err error
	n   int
}

func (p *flakyPinger) Ping(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return p.err
}

func (p *flakyPinger) set(err error) { p.mu.Lock(); p.err = err; p.mu.Unlock() }

func TestMonitorReportsHealthReadinessAndMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMonitor(nil, 20*time.Millisecond, reg)
	a, b := &flakyPinger{}, &flakyPinger{err: errors.New("connection refused")}
	m.targets = []monitored{{name: "a", p: a}, {name: "b", p: b}}
	for _, t := range m.targets {
		m.errs[t.name] = ErrNotChecked
	}
	// Before the first round, readiness asks the apiserver itself.
	if err := m.Ready("a")(context.Background()); err != nil || a.n != 1 {
		t.Fatalf("live readiness: %v (%d pings)", err, a.n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s (%+v)", what, m.Health())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("first round", func() bool { return !m.Health()[0].CheckedAt.IsZero() && !m.Health()[1].CheckedAt.IsZero() })
	h := m.Health()
	if !h[0].Healthy || h[1].Healthy || h[1].Error != "connection refused" {
		t.Fatalf("health %+v", h)
	}
	if m.Ready("a")(context.Background()) != nil || m.Ready("b")(context.Background()) == nil {
		t.Fatal("readiness does not follow health")
	}
	if testutil.ToFloat64(m.up.WithLabelValues("a")) != 1 || testutil.ToFloat64(m.up.WithLabelValues("b")) != 0 {
		t.Fatal("yard_cluster_up wrong")
	}
	a.set(errors.New("apiserver not ready"))
	b.set(nil)
	waitFor("flip", func() bool { h := m.Health(); return !h[0].Healthy && h[1].Healthy })
	if testutil.ToFloat64(m.up.WithLabelValues("b")) != 1 {
		t.Fatal("yard_cluster_up not updated")
	}
}
