package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/resources"
	"github.com/yardhq/yard/server/watch"
	"github.com/yardhq/yard/server/wsgate"
)

// clusters is the cluster domain as wired into the server: the health monitor, the REST view,
// and the shared watches behind the watch channel kind and /ws/watch.
type clusters struct {
	set     *cluster.Set
	monitor *cluster.Monitor
	hub     *watch.Hub
	kind    *watch.Kind
	api     *resources.API

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// wireClusters applies the cluster settings and registers the watch kind. The monitor starts
// with start, so a server that is built but never started runs nothing.
func wireClusters(cfg config.Config, log *slog.Logger, m *metrics.Set, list []*cluster.Cluster, kinds *mux.Registry) (*clusters, error) {
	for _, c := range list {
		c.SetAccessTTL(cfg.Clusters.AccessTTL)
	}
	set := cluster.NewSet(list)
	mon := cluster.NewMonitor(list, cfg.Clusters.HealthInterval, m.Registry)
	hub := watch.NewHub(watch.Options{
		Grace:        cfg.Clusters.WatchGrace,
		History:      cfg.Clusters.WatchHistory,
		HistoryBytes: cfg.Clusters.WatchHistoryBytes,
		Recheck:      recheckEvery(cfg.Clusters.AccessTTL),
		Logger:       log.With("component", "watch"),
		Registerer:   m.Registry,
	})
	d := &clusters{set: set, monitor: mon, hub: hub, kind: watch.NewKind(hub, watch.FromSet(set)),
		api: resources.New(set, mon, cfg.WriteEnabled, log.With("component", "resources"))}
	if err := kinds.Register(d.kind); err != nil {
		hub.Close()
		return nil, err
	}
	return d, nil
}

// checks are the clusters' readiness: the monitor's latest answers.
func (d *clusters) checks() []httpapi.Check {
	var out []httpapi.Check
	for _, c := range d.set.All() {
		out = append(out, httpapi.Check{Name: "cluster:" + c.Name, Check: d.monitor.Ready(c.Name)})
	}
	return out
}

func (d *clusters) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Go(func() { d.monitor.Run(ctx) })
}

// Close stops the monitor and every shared watch.
func (d *clusters) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.hub.Close()
}

// singleWatch serves /ws/watch: the watch channel on a plain WebSocket, parameters in the query.
func (d *clusters) singleWatch(gate *wsgate.Gate, ms *mux.Server) http.Handler {
	return gate.Handler("watch", "", func(ctx context.Context, conn *websocket.Conn, u identity.User, req *http.Request) {
		params := req.URL.Query()
		params.Del("ticket")
		ms.ServeSingle(ctx, conn, d.kind, mux.OpenRequest{User: u, Params: params})
	})
}

// recheckEvery is how often a watch stream re-asks its permissions: often enough that a revoked
// RoleBinding takes effect soon after the cached answer expires.
func recheckEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/2, 100*time.Millisecond), 2*time.Second)
}
