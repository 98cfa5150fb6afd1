package app

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/connections"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/mux"
)

// connAdmin is the admin connections API over every replica's multiplexer.
type connAdmin struct {
	dir *connections.Directory
}

// wireConnections keeps this replica's connection list in dir; disconnects travel over rdb.
func wireConnections(log *slog.Logger, rdb redis.UniversalClient, dir *directory.Directory, ms *mux.Server) *connAdmin {
	return &connAdmin{dir: connections.New(ms, dir, rdb, log.With("component", "connections"))}
}

// Mount implements httpapi.Mounter: the connections admin API (connections.Directory) behind
// the admin check.
func (c *connAdmin) Mount(api chi.Router) {
	api.Group(func(admin chi.Router) {
		admin.Use(httpapi.RequireAdmin)
		c.dir.MountAdmin(admin)
	})
}
