package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Health is the last thing the monitor learned about one cluster.
type Health struct {
	Cluster   string    `json:"name"`
	Server    string    `json:"server"`
	Healthy   bool      `json:"healthy"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// LatencyMS is how long the last /readyz took.
	LatencyMS int64 `json:"latencyMs"`
}

// ErrNotChecked is the readiness of a cluster the monitor has not reached yet.
var ErrNotChecked = errors.New("not checked yet")

// pinger is what the monitor needs of a cluster.
type pinger interface {
	Ping(ctx context.Context) error
}

// Monitor asks every cluster's apiserver for /readyz in the background, so /api/clusters and
// /api/readyz answer from memory instead of fanning out to every apiserver on each request.
type Monitor struct {
	interval time.Duration
	targets  []monitored
	up       *prometheus.GaugeVec
	latency  *prometheus.HistogramVec

	mu    sync.Mutex
	state map[string]Health
	errs  map[string]error
}

type monitored struct {
	name, server string
	p            pinger
}

// NewMonitor watches clusters every interval and reports yard_cluster_up{cluster} and
// yard_cluster_readyz_seconds{cluster} on reg (nil: not reported).
func NewMonitor(clusters []*Cluster, interval time.Duration, reg prometheus.Registerer) *Monitor {
	m := &Monitor{
		interval: interval,
		state:    map[string]Health{},
		errs:     map[string]error{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yard_cluster_up",
			Help: "1 when the cluster's apiserver answered /readyz ok at the last check, else 0.",
		}, []string{"cluster"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yard_cluster_readyz_seconds",
			Help:    "Latency of the health monitor's apiserver /readyz requests.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"cluster"}),
	}
	for _, c := range clusters {
		m.targets = append(m.targets, monitored{name: c.Name, server: c.Config.Host, p: c})
	}
	for _, t := range m.targets {
		m.state[t.name] = Health{Cluster: t.name, Server: t.server, Error: ErrNotChecked.Error()}
		m.errs[t.name] = ErrNotChecked
		m.up.WithLabelValues(t.name).Set(0)
	}
	if reg != nil {
		reg.MustRegister(m.up, m.latency)
	}
	return m
}

// Run checks every cluster at once, then every interval, until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow checks every cluster concurrently and records the results.
func (m *Monitor) CheckNow(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range m.targets {
		wg.Go(func() {
			start := time.Now()
			err := t.p.Ping(ctx)
			if ctx.Err() != nil {
				return // shutting down: keep the last real answer
			}
			took := time.Since(start)
			h := Health{Cluster: t.name, Server: t.server, Healthy: err == nil, CheckedAt: start.UTC(), LatencyMS: took.Milliseconds()}
			if err != nil {
				h.Error = err.Error()
			}
			m.latency.WithLabelValues(t.name).Observe(took.Seconds())
			if err == nil {
				m.up.WithLabelValues(t.name).Set(1)
			} else {
				m.up.WithLabelValues(t.name).Set(0)
			}
			m.mu.Lock()
			m.state[t.name] = h
			m.errs[t.name] = err
			m.mu.Unlock()
		})
	}
	wg.Wait()
}

// Health returns every cluster's last known health, in configuration order.
func (m *Monitor) Health() []Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Health, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, m.state[t.name])
	}
	return out
}

// Ready returns the readiness check of cluster name: the monitor's last answer, or a live
// check before the monitor's first one.
func (m *Monitor) Ready(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		m.mu.Lock()
		err := m.errs[name]
		m.mu.Unlock()
		if !errors.Is(err, ErrNotChecked) {
			return err
		}
		for _, t := range m.targets {
			if t.name == name {
				return t.p.Ping(ctx)
			}
		}
		return err
	}
}
