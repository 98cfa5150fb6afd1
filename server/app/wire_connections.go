package app

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/connections"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/mux"
)

// connAdmin is the admin connections API over every replica's multiplexer.
type connAdmin struct {
	dir *connections.Directory
}

func wireConnections(log *slog.Logger, rdb redis.UniversalClient, ms *mux.Server, replica string) (*connAdmin, error) {
	dir, err := connections.New(ms, rdb, connections.Config{Replica: replica}, log.With("component", "connections"))
	if err != nil {
		return nil, err
	}
	return &connAdmin{dir: dir}, nil
}

// Mount implements httpapi.Mounter: the connections admin API (connections.Directory) behind
// the admin check.
func (c *connAdmin) Mount(api chi.Router) {
	api.Group(func(admin chi.Router) {
		admin.Use(httpapi.RequireAdmin)
		c.dir.MountAdmin(admin)
	})
}
