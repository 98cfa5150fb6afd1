package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/connections"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room"
	"github.com/yardhq/yard/server/room/backend"
	"github.com/yardhq/yard/server/wsgate"
)

// rooms is the shared-document domain as wired into the server.
type rooms struct {
	manager *room.Manager
	backend backend.Backend
	kind    room.Kind
	replica string
	// conns adds each connection's other channels to the admin presence (set once built).
	conns *connections.Directory
}

// wireRooms builds the room manager on Redis when configured (else in memory) and registers the
// sync channel kind.
func wireRooms(cfg config.Config, log *slog.Logger, m *metrics.Set, rdb redis.UniversalClient, kinds *mux.Registry) (*rooms, error) {
	replica := cfg.Rooms.Replica
	if replica == "" {
		host, _ := os.Hostname()
		replica = host + "-" + mux.NewConnID()[:6]
	}
	var be backend.Backend
	if rdb != nil {
		rb, err := backend.NewRedis(rdb, backend.RedisOptions{Replica: replica, Logger: log})
		if err != nil {
			return nil, err
		}
		be = rb
	} else {
		be = backend.NewMemory()
	}
	mgr, err := room.NewManager(room.Options{
		Backend:         be,
		NewDoc:          func(clientID uint64) room.Doc { return crdt.NewDocWithClientID(clientID) },
		Replica:         replica,
		Grace:           cfg.Rooms.Grace,
		CompactEvery:    cfg.Rooms.CompactEvery,
		MaxMessageBytes: cfg.Rooms.MaxMessageBytes,
		MessageRate:     float64(cfg.Rooms.MessageRate),
		MessageBurst:    2 * cfg.Rooms.MessageRate,
		SendEvery:       cmp.Or(cfg.Rooms.SendEvery, -1), // 0 here would mean the default
		ReadOnly:        cfg.Rooms.ReadOnly,
		Logger:          log.With("component", "rooms", "replica", replica),
		Metrics:         m,
	})
	if err != nil {
		_ = be.Close()
		return nil, err
	}
	r := &rooms{manager: mgr, backend: be, kind: room.Kind{M: mgr}, replica: replica}
	if err := kinds.Register(r.kind); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close stops every room (compacting what it can) and then the backend.
func (r *rooms) Close() error {
	r.manager.Close()
	return r.backend.Close()
}

// singleSync serves /ws/sync/{room}: the plain y-websocket protocol for one room, so an
// unmodified y-websocket WebsocketProvider(serverURL + "/ws/sync", room, doc) works.
func (r *rooms) singleSync(gate *wsgate.Gate, ms *mux.Server) http.Handler {
	return gate.Handler("sync", "", func(ctx context.Context, conn *websocket.Conn, u identity.User, req *http.Request) {
		id := chi.URLParam(req, "room")
		if !room.ValidID(id) {
			// Stock clients show only the y-protocols auth message, not close reasons.
			msg := fmt.Sprintf("invalid room id: 1-%d characters of A-Z a-z 0-9 . _ -", room.MaxIDLength)
			deadline := time.Now().Add(5 * time.Second)
			_ = conn.SetWriteDeadline(deadline)
			_ = conn.WriteMessage(websocket.BinaryMessage, yprotocol.EncodePermissionDenied(msg))
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(mux.CloseCode(mux.CodeBadParams), mux.CodeBadParams+": invalid room id"), deadline)
			_ = conn.Close()
			return
		}
		params := url.Values{"room": {id}}
		ms.ServeSingle(ctx, conn, r.kind, mux.OpenRequest{User: u, Params: params})
	})
}

// Mount implements httpapi.Mounter: the rooms API.
func (r *rooms) Mount(api chi.Router) {
	api.Get("/rooms", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		list, err := r.manager.Rooms(ctx)
		if err != nil {
			writeRoomError(w, err)
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"rooms": list})
	})
	api.Get("/rooms/{room}/doc", func(w http.ResponseWriter, req *http.Request) {
		id := chi.URLParam(req, "room")
		if !room.ValidID(id) {
			httpjson.WriteError(w, http.StatusBadRequest, mux.CodeBadParams,
				fmt.Sprintf("room ids are 1-%d characters of A-Z a-z 0-9 . _ -", room.MaxIDLength))
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		var doc map[string]any
		err := r.manager.Read(ctx, id, func(d room.Doc) { doc = docJSON(d) })
		if err != nil {
			writeRoomError(w, err)
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, doc)
	})
	api.With(httpapi.RequireAdmin).Get("/admin/presence", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		ps, err := r.manager.Presence(ctx)
		if err != nil {
			writeRoomError(w, err)
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"presence": r.withStreams(ctx, ps)})
	})
}

// schemaMaps are the canvas document's root maps (docs/architecture.md, "Rooms"). The server's
// copy never names its roots itself, so they are typed before reading: an emptied map then reads
// as {} as in the browser, not as an untyped (empty array) root.
var schemaMaps = []string{"krates", "workflow", "deploys"}

func docJSON(d room.Doc) map[string]any {
	if cd, ok := d.(*crdt.Doc); ok {
		for _, name := range cd.RootNames() {
			if slices.Contains(schemaMaps, name) {
				cd.GetMap(name)
			}
		}
	}
	return d.RootJSON()
}

func writeRoomError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, backend.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		httpjson.WriteError(w, http.StatusServiceUnavailable, mux.CodeUnavailable, "the room store is unreachable; retry")
	default:
		e := mux.AsError(err)
		httpjson.WriteError(w, mux.HTTPStatus(err), e.Code, e.Message)
	}
}

// presenceRow is an admin presence entry with the other channels its connection has open
// (logs, watches, shells): what the person is streaming besides the room.
type presenceRow struct {
	backend.Presence
	Streams []mux.ChannelInfo `json:"streams"`
}

func (r *rooms) withStreams(ctx context.Context, ps []backend.Presence) []presenceRow {
	byConn := map[string][]mux.ChannelInfo{}
	if r.conns != nil {
		// Without the connection list the rows still stand; only their streams are missing.
		if all, err := r.conns.List(ctx); err == nil {
			for _, c := range all {
				for _, ch := range c.Channels {
					if ch.Kind != r.kind.Name() {
						byConn[c.ID] = append(byConn[c.ID], ch)
					}
				}
			}
		}
	}
	out := make([]presenceRow, 0, len(ps))
	for _, p := range ps {
		s := byConn[p.ConnID]
		if s == nil {
			s = []mux.ChannelInfo{}
		}
		out = append(out, presenceRow{Presence: p, Streams: s})
	}
	return out
}
