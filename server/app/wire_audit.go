package app

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/httpapi"
)

// wireAudit opens the audit trail: the Redis stream when Redis is configured (every replica
// writes and reads the same trail), else the append-only file.
func wireAudit(cfg config.Config, log *slog.Logger, rdb redis.UniversalClient, replica string) (audit.Trail, error) {
	if rdb != nil {
		log.Info("audit trail", "store", "redis", "key", audit.RedisKey, "retention", cfg.Audit.Retention)
		return audit.NewRedis(rdb, audit.RedisKey, cfg.Audit.Retention, replica)
	}
	log.Info("audit trail", "store", "file", "path", cfg.Audit.File)
	return audit.NewFile(cfg.Audit.File, replica)
}

// auditAPI serves GET /api/admin/audit to admins.
func auditAPI(t audit.Trail) httpapi.Mounter {
	return httpapi.MountFunc(func(api chi.Router) {
		api.With(httpapi.RequireAdmin).Method("GET", "/admin/audit", audit.Handler(t))
	})
}
