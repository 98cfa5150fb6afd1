package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/httpapi"
)

// loadClusters returns the configured clusters. An explicit --kubeconfig or --context that cannot
// be loaded is an error; with neither, a machine without any kubeconfig serves no clusters (rooms
// and the canvas still work) and says so.
func loadClusters(cfg config.Config, log *slog.Logger) ([]*cluster.Cluster, error) {
	cs, err := cluster.Load(cfg.Kubeconfig, cfg.Contexts)
	if err != nil {
		if cfg.Kubeconfig != "" || len(cfg.Contexts) > 0 {
			return nil, err
		}
		log.Warn("serving no cluster", "reason", err)
		return nil, nil
	}
	for _, c := range cs {
		log.Info("cluster", "name", c.Name, "server", c.Config.Host)
	}
	return cs, nil
}

// clusterPoolSize bounds the connections to each cluster node.
const clusterPoolSize = 2000

// openRedis connects to Redis (a Redis Cluster with --redis-cluster) when configured; the client
// connects lazily, readiness reports it. It is the one place that opens Redis. With readiness,
// it opens the client /api/readyz pings with instead: one connection, no retries, and the
// request's deadline honoured (with the main client's retries and read timeouts, a Redis that
// stopped answering held readyz's answer for about 10 s, past its 3 s bound).
func openRedis(cfg config.Config, readiness bool) (redis.UniversalClient, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	if cfg.RedisCluster {
		opts, err := redis.ParseClusterURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis-url (cluster): %w", err)
		}
		if opts.PoolSize == 0 {
			// The room backend's log readers hold one connection per hash slot with followed
			// rooms while they block; connections open on demand, so a large bound costs nothing
			// until used. pool_size in the URL overrides it.
			opts.PoolSize = clusterPoolSize
		}
		if readiness {
			opts.PoolSize, opts.MaxRetries, opts.ContextTimeoutEnabled = 1, -1, true
		}
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	if readiness {
		opts.PoolSize, opts.MaxRetries, opts.ContextTimeoutEnabled = 1, -1, true
	}
	return redis.NewClient(opts), nil
}

// redisCheck reports Redis in /api/readyz; cluster checks come from the health monitor.
func redisCheck(rdb redis.UniversalClient) []httpapi.Check {
	if rdb == nil {
		return nil
	}
	return []httpapi.Check{{Name: "redis", Check: func(ctx context.Context) error {
		return rdb.Ping(ctx).Err()
	}}}
}
