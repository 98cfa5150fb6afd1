package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/connections"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
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

// Mount implements httpapi.Mounter.
func (c *connAdmin) Mount(api chi.Router) {
	api.Route("/admin/connections", func(r chi.Router) {
		r.Use(httpapi.RequireAdmin)
		r.Get("/", func(w http.ResponseWriter, req *http.Request) {
			ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
			defer cancel()
			list, err := c.dir.List(ctx)
			if err != nil {
				writeStreamError(w, mux.Errorf(mux.CodeUnavailable, "%v", err))
				return
			}
			httpjson.WriteJSON(w, http.StatusOK, map[string]any{"connections": list})
		})
		r.Delete("/{connId}", func(w http.ResponseWriter, req *http.Request) {
			u, _ := identity.FromContext(req.Context())
			id := chi.URLParam(req, "connId")
			ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
			defer cancel()
			found, err := c.dir.Disconnect(ctx, id, u.Name)
			switch {
			case err != nil:
				writeStreamError(w, mux.Errorf(mux.CodeUnavailable, "%v", err))
			case !found:
				writeStreamError(w, mux.Errorf(mux.CodeNotFound, "no connection %s on any replica", id))
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		})
	})
	api.With(httpapi.RequireAdmin).Delete("/admin/users/{user}/connections", func(w http.ResponseWriter, req *http.Request) {
		u, _ := identity.FromContext(req.Context())
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		n, err := c.dir.DisconnectUser(ctx, chi.URLParam(req, "user"), u.Name)
		if err != nil {
			writeStreamError(w, mux.Errorf(mux.CodeUnavailable, "%v", err))
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"disconnected": n})
	})
}
