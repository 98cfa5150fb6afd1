package room

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// SchemaMaps are the canvas document's root maps (docs/architecture.md, "Document schema"). The
// server's copy never names its roots itself, so they are typed before reading: an emptied map
// then reads as {} as in the browser, not as an untyped (empty array) root.
var SchemaMaps = []string{"krates", "workflow", "deploys"}

// SchemaArrays are the document's root arrays: "activity", the log of cluster writes that
// server/write appends.
var SchemaArrays = []string{"activity"}

// API serves the rooms over HTTP: the room list and a room's document for everyone signed in,
// presence for admins.
type API struct {
	M *Manager
	// Streams gives, per connection id, the channels a connection has open besides its rooms
	// (nil: rows carry no streams). The connection list belongs to another part of the server.
	Streams func(ctx context.Context) map[string][]mux.ChannelInfo
}

// Mount serves GET /rooms and GET /rooms/{room}/doc.
func (a API) Mount(r chi.Router) {
	r.Get("/rooms", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		list, err := a.M.Rooms(ctx)
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"rooms": list})
	})
	r.Get("/rooms/{room}/doc", func(w http.ResponseWriter, req *http.Request) {
		id := chi.URLParam(req, "room")
		if !ValidID(id) {
			httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams,
				fmt.Sprintf("room ids are 1-%d characters of A-Z a-z 0-9 . _ -", MaxIDLength))
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		body, err := a.M.DocJSON(ctx, id, SchemaMaps, SchemaArrays)
		if err != nil {
			writeError(w, err)
			return
		}
		// Written as is: the cached encoding is shared, not copied per request.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}

// MountAdmin serves GET /admin/presence; the caller puts it behind the admin check.
func (a API) MountAdmin(r chi.Router) {
	r.Get("/admin/presence", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		ps, err := a.M.Presence(ctx)
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"presence": a.withStreams(ctx, ps)})
	})
}

// PresenceRow is an admin presence entry with the other channels its connection has open
// (logs, watches, shells): what the person is streaming besides the room.
type PresenceRow struct {
	Presence
	Streams []mux.ChannelInfo `json:"streams"`
}

func (a API) withStreams(ctx context.Context, ps []Presence) []PresenceRow {
	var byConn map[string][]mux.ChannelInfo
	if a.Streams != nil {
		byConn = a.Streams(ctx)
	}
	out := make([]PresenceRow, 0, len(ps))
	for _, p := range ps {
		s := byConn[p.ConnID]
		if s == nil {
			s = []mux.ChannelInfo{}
		}
		out = append(out, PresenceRow{Presence: p, Streams: s})
	}
	return out
}

// writeError answers with err's code; a store that cannot be reached is a 503 to retry.
func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, backend.ErrUnavailable) || errors.Is(err, directory.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		httpjson.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, "the room store is unreachable; retry")
		return
	}
	httpjson.WriteCoded(w, err)
}
