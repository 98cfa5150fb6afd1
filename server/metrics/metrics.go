// Package metrics owns Yard's Prometheus registry and the few metrics that more than one
// package reports into (refusals, connections). Each domain package registers its own metrics
// on the registry it is given; label values are always chosen by the server, never by clients.
package metrics

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Set is the registry plus the shared collectors.
type Set struct {
	// Registry is what /metrics serves. Packages register their own collectors on it.
	Registry *prometheus.Registry
	// Refusals counts refused requests, upgrades and channel opens by a server-chosen reason
	// (for example "conn_limit_user", "conn_limit_global", "channel_limit", "frame_too_large",
	// "unauthorized", "forbidden_origin").
	Refusals *prometheus.CounterVec
	// Connections is the number of open WebSocket connections by endpoint ("mux", "sync",
	// "shell", "logs", "watch").
	Connections *prometheus.GaugeVec
}

// liveHeap is the Go runtime metric of the heap the last collection found live
// (go_gc_heap_live_bytes): the memory signal that does not swing with the collector's phase, as
// go_memstats_heap_inuse_bytes does between two collections.
var liveHeap = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}

// New returns a Set with the Go and process collectors registered.
func New() *Set {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(liveHeap)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s := &Set{
		Registry: reg,
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_refusals_total",
			Help: "Requests, upgrades and channel opens refused, by reason.",
		}, []string{"reason"}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yard_connections",
			Help: "Open WebSocket connections by endpoint.",
		}, []string{"endpoint"}),
	}
	reg.MustRegister(s.Refusals, s.Connections)
	return s
}
