package app

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/deploy/lock"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/room"
	"github.com/yardhq/yard/server/watch"
	"github.com/yardhq/yard/server/write"
)

// wireDeploy builds the collaborative deploy: plans and statuses in the rooms' documents,
// writes through the one write path, rollouts followed from the shared watches, the lock and the
// approval policies in Redis when configured (else in memory).
func wireDeploy(cfg config.Config, log *slog.Logger, m *metrics.Set, rdb redis.UniversalClient, cls *clusters, rms *rooms, w *write.Writer, trail audit.Trail) (*deploy.Service, *deploy.API, error) {
	def := deploy.Policy{Approvals: cfg.DeployApprovals}
	var lk lock.Lock = lock.NewMemory(nil)
	var pol deploy.Policies = deploy.NewMemoryPolicies(def)
	var idx deploy.Applying = deploy.NewMemoryApplying()
	if rdb != nil {
		lk = lock.NewRedis(rdb)
		pol = deploy.NewRedisPolicies(rdb, def)
		idx = deploy.NewRedisApplying(rdb)
	}
	s, err := deploy.New(deploy.Options{
		Rooms: rms.manager, Writer: w, Clusters: cls.set, Lock: lk, Policies: pol, Applying: idx, Trail: trail,
		Watcher: rolloutWatcher{cls.kind},
		Replica: rms.replica, Timeout: cfg.DeployTimeout,
		Logger: log.With("component", "deploy"), Registerer: m.Registry,
	})
	if err != nil {
		return nil, nil, err
	}
	return s, deploy.NewAPI(s, httpapi.RequestIDFrom), nil
}

// Rooms returns the room manager, for tests that edit a room's document as the server does.
func (a *App) Rooms() *room.Manager { return a.rooms.manager }

// rolloutWatcher serves a deploy's follows from the watch kind's shared upstreams.
type rolloutWatcher struct{ k *watch.Kind }

func (r rolloutWatcher) Follow(ctx context.Context, u identity.User, cluster string, q deploy.WatchQuery, fn func(deploy.WatchEvent)) (func(), error) {
	return r.k.Follow(ctx, u, cluster, watch.Query{Kinds: q.Kinds, Namespaces: q.Namespaces, LabelSelector: q.LabelSelector},
		func(e watch.Event) {
			msg := e.Message
			if e.Code != "" {
				msg = e.Code + ": " + msg
			}
			fn(deploy.WatchEvent{Type: e.Type, Kind: e.Kind, Object: e.Object, Message: msg})
		})
}
