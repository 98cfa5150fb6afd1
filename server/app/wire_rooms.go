package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/connections"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/httpapi"
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
func wireRooms(cfg config.Config, log *slog.Logger, m *metrics.Set, rdb redis.UniversalClient, dir *directory.Directory, kinds *mux.Registry) (*rooms, error) {
	replica := cfg.Replica
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
		Backend:              be,
		Directory:            dir,
		Grace:                cfg.Rooms.Grace,
		CompactEvery:         cfg.Rooms.CompactEvery,
		MaxMessageBytes:      cfg.Rooms.MaxMessageBytes,
		MessageRate:          float64(cfg.Rooms.MessageRate),
		MessageBurst:         2 * cfg.Rooms.MessageRate,
		MaxDocBytes:          cfg.Rooms.MaxDocBytes,
		UserWriteBytesPerSec: float64(cfg.Rooms.UserWriteBytesPerSec),
		SendEvery:            cmp.Or(cfg.Rooms.SendEvery, -1), // 0 here would mean the default
		ReadOnly:             cfg.Rooms.ReadOnly,
		Logger:               log.With("component", "rooms", "replica", replica),
		Metrics:              m,
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
	h := gate.Handler("sync", "", func(ctx context.Context, conn *websocket.Conn, u identity.User, req *http.Request) {
		id, _ := ctx.Value(syncRoomKey{}).(string)
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
	// The gate serves the socket after this handler returned, when chi has already recycled the
	// request's route context for another request: the room is read now.
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := context.WithValue(req.Context(), syncRoomKey{}, chi.URLParam(req, "room"))
		h.ServeHTTP(w, req.WithContext(ctx))
	})
}

// syncRoomKey carries /ws/sync/{room}'s room from the request to the served socket.
type syncRoomKey struct{}

// Mount implements httpapi.Mounter: the rooms API (room.API), presence for admins with each
// connection's other streams from the connection list.
func (r *rooms) Mount(api chi.Router) {
	a := room.API{M: r.manager, Streams: r.otherStreams}
	a.Mount(api)
	api.Group(func(admin chi.Router) {
		admin.Use(httpapi.RequireAdmin)
		a.MountAdmin(admin)
	})
}

// otherStreams lists, per connection, the channels besides the sync ones. Without the
// connection list the presence rows still stand; only their streams are missing.
func (r *rooms) otherStreams(ctx context.Context) map[string][]mux.ChannelInfo {
	byConn := map[string][]mux.ChannelInfo{}
	if r.conns == nil {
		return byConn
	}
	all, err := r.conns.List(ctx)
	if err != nil {
		return byConn
	}
	for _, c := range all {
		for _, ch := range c.Channels {
			if ch.Kind != r.kind.Name() {
				byConn[c.ID] = append(byConn[c.ID], ch)
			}
		}
	}
	return byConn
}
