package app

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/directory"
)

// wireDirectory opens the replica directory (room presence, connection lists, shell sessions)
// under cfg.Replica: in Redis when it is configured, so every replica lists everyone's entries,
// else in memory.
func wireDirectory(cfg config.Config, log *slog.Logger, rdb redis.UniversalClient) (*directory.Directory, error) {
	var store directory.Store = directory.NewMemory()
	if rdb != nil {
		store = directory.NewRedis(rdb)
	}
	return directory.New(store, directory.Config{Replica: cfg.Replica}, log.With("component", "directory"))
}
