package connections

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

// MountAdmin serves the connections admin API: every replica's WebSocket connections, and
// disconnecting one or all of a user's (carried out by the replica holding each socket). The
// caller puts it behind the admin check.
func (d *Directory) MountAdmin(r chi.Router) {
	r.Route("/admin/connections", d.mountConnections)
	r.Delete("/admin/users/{user}/connections", d.disconnectUser)
}

func (d *Directory) mountConnections(r chi.Router) {
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		list, err := d.List(ctx)
		if err != nil {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "%v", err))
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"connections": list})
	})
	r.Delete("/{connId}", func(w http.ResponseWriter, req *http.Request) {
		u, _ := identity.FromContext(req.Context())
		id := chi.URLParam(req, "connId")
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		found, err := d.Disconnect(ctx, id, u.Name)
		switch {
		case err != nil:
			httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "%v", err))
		case !found:
			httpjson.WriteCoded(w, errcode.Errorf(errcode.NotFound, "no connection %s on any replica", id))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func (d *Directory) disconnectUser(w http.ResponseWriter, req *http.Request) {
	u, _ := identity.FromContext(req.Context())
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	n, err := d.DisconnectUser(ctx, chi.URLParam(req, "user"), u.Name)
	if err != nil {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "%v", err))
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"disconnected": n})
}
