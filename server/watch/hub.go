// Package watch serves live Kubernetes resources to many clients from few apiserver watches.
//
// Each replica keeps one shared upstream watch per (cluster, kind, namespace scope), made with
// Yard's own credentials, started when the first client asks and stopped a grace period after
// the last one leaves. Every client stream is a filtered view of those upstreams: the objects
// its user may list and watch (SubjectAccessReviews through the cluster's TTL cache, re-checked
// as answers expire) that match its label selector. Each upstream keeps a bounded history of
// changes so a reconnecting client resumes with only what it missed, or gets RESET and a fresh
// snapshot when its resume point is gone. A slow client never costs unbounded memory: its
// pending changes are coalesced per object, so it falls behind in time, not in space. Consumers
// inside the server (a deploy following its rollout) get the same streams through Kind.Follow.
package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"

	"github.com/yardhq/yard/server/cluster"
)

// Options configure a Hub.
type Options struct {
	// Grace keeps an upstream open after its last subscriber left (0: stop at once).
	Grace time.Duration
	// History is how many changes each upstream keeps for resuming clients. Default 4096.
	History int
	// HistoryBytes bounds the same history by the size of the objects it holds, so an upstream
	// of large objects (pods) keeps fewer changes instead of more memory. Default 8 MiB.
	HistoryBytes int
	// Recheck is how often a stream re-asks its user's permissions for the namespaces it serves
	// (answers come from the cluster's access cache, so this bounds the delay on top of its TTL).
	// Default 2s.
	Recheck time.Duration
	Logger  *slog.Logger
	// Registerer receives the hub's metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// Hub owns the shared upstream watches of one replica.
type Hub struct {
	opts      Options
	log       *slog.Logger
	upstreams *prometheus.GaugeVec
	starts    *prometheus.CounterVec
	events    *prometheus.CounterVec
	streams   prometheus.Gauge
	follows   prometheus.Counter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	ups map[upKey]*upstream
}

// NewHub returns a Hub; Close stops every upstream.
func NewHub(o Options) *Hub {
	o.Grace = max(o.Grace, 0)
	if o.History <= 0 {
		o.History = 4096
	}
	if o.HistoryBytes <= 0 {
		o.HistoryBytes = 8 << 20
	}
	if o.Recheck <= 0 {
		o.Recheck = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts: o,
		log:  o.Logger,
		ups:  map[upKey]*upstream{},
		upstreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yard_watch_upstream",
			Help: "Shared upstream watches open on this replica, by cluster and kind.",
		}, []string{"cluster", "kind"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_watch_upstream_starts_total",
			Help: "Shared upstream watches started, by cluster and kind (a subscriber that joins an open one starts none).",
		}, []string{"cluster", "kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_watch_upstream_events_total",
			Help: "Changes received from the apiserver by the shared upstream watches.",
		}, []string{"cluster", "kind"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yard_watch_streams",
			Help: "Client watch streams open on this replica (server-side follows included).",
		}),
		follows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_watch_follows_total",
			Help: "Server-side follows opened (a deploy following its rollout), each a stream of the shared upstreams.",
		}),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if o.Registerer != nil {
		o.Registerer.MustRegister(h.upstreams, h.starts, h.events, h.streams, h.follows)
	}
	return h
}

// Close stops every upstream and waits for them.
func (h *Hub) Close() {
	h.cancel()
	h.mu.Lock()
	for k, u := range h.ups {
		if u.idle != nil {
			u.idle.Stop()
		}
		u.cancel()
		delete(h.ups, k)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// Upstreams returns how many upstream watches are open (for tests and the admin view).
func (h *Hub) Upstreams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ups)
}

// acquire returns the upstream for key, starting it if needed, and holds a reference to it.
func (h *Hub) acquire(key upKey, res cluster.Resource, dyn dynamic.Interface) (*upstream, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil, false
	}
	if u, ok := h.ups[key]; ok {
		u.refs++
		if u.idle != nil {
			u.idle.Stop()
			u.idle = nil
		}
		return u, true
	}
	u := newUpstream(key, res, dyn, historyLimit{changes: h.opts.History, bytes: h.opts.HistoryBytes}, h.log)
	events := h.events.WithLabelValues(key.cluster, res.Name)
	u.onEvent = events.Inc
	ctx, cancel := context.WithCancel(h.ctx)
	u.cancel = cancel
	u.refs = 1
	h.ups[key] = u
	gauge := h.upstreams.WithLabelValues(key.cluster, res.Name)
	gauge.Inc()
	h.starts.WithLabelValues(key.cluster, res.Name).Inc()
	h.wg.Go(func() {
		defer gauge.Dec()
		u.run(ctx)
	})
	h.log.Debug("shared watch started", "watch", key.String())
	return u, true
}

// release drops a reference; the last one stops the upstream after the grace period.
func (h *Hub) release(u *upstream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u.refs--
	if u.refs > 0 || h.ups[u.key] != u {
		return
	}
	stop := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if u.refs == 0 && h.ups[u.key] == u {
			delete(h.ups, u.key)
			u.cancel()
			h.log.Debug("shared watch stopped", "watch", u.key.String())
		}
	}
	if h.opts.Grace == 0 {
		delete(h.ups, u.key)
		u.cancel()
		return
	}
	u.idle = time.AfterFunc(h.opts.Grace, stop)
}
