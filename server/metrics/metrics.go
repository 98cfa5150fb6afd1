// Package metrics owns Yard's Prometheus registry and the few metrics that more than one
// package reports into (refusals, connections). Each domain package registers its own metrics
// on the registry it is given; label values are always chosen by the server, never by clients.
package metrics

import (
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

// New returns a Set with the Go and process collectors registered.
func New() *Set {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
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
