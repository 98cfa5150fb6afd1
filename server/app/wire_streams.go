package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/logs"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/shell"
	"github.com/yardhq/yard/server/wsgate"
)

// streams is the logs and shells domain as wired into the server: the two channel kinds, their
// single-purpose WebSockets, the log download and the shell admin API.
type streams struct {
	logs   *logs.Kind
	shells *shell.Manager
	hub    shell.Hub
	// recording: sessions are recorded (--recordings-dir is not "off").
	recording bool
}

// wireStreams registers the logs and shell kinds. Shell sessions are shared across replicas
// through Redis when it is configured, in memory otherwise.
func wireStreams(cfg config.Config, log *slog.Logger, m *metrics.Set, rdb redis.UniversalClient, dir *directory.Directory, trail audit.Trail, set *cluster.Set, kinds *mux.Registry) (*streams, error) {
	lc := logs.DefaultConfig()
	lc.MaxLines, lc.MaxBytes = cfg.Streams.LogBufferLines, cfg.Streams.LogBufferBytes
	lk, err := logs.New(func(name string) (logs.Cluster, error) {
		c, err := set.Get(name)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, lc, log.With("component", "logs"), m.Registry)
	if err != nil {
		return nil, err
	}

	sc := shell.DefaultConfig()
	sc.IdleTimeout, sc.Grace = cfg.Streams.ShellIdleTimeout, cfg.Streams.ShellGrace
	sc.MaxPerUser, sc.ScrollbackBytes = cfg.Streams.MaxShellsPerUser, cfg.Streams.ShellScrollbackBytes
	if cfg.Streams.RecordingsDir != "off" {
		sc.RecordingsDir = cfg.Streams.RecordingsDir
	}
	var hub shell.Hub = shell.NewMemoryHub()
	if rdb != nil {
		hub = shell.NewRedisHub(rdb, "yard:")
	}
	mgr, err := shell.NewManager(hub, dir, trail, func(name string) (shell.Cluster, error) {
		c, err := set.Get(name)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, sc, log.With("component", "shell", "replica", cfg.Replica), m.Registry)
	if err != nil {
		return nil, err
	}
	if err := kinds.Register(lk); err != nil {
		mgr.Close()
		return nil, err
	}
	if err := kinds.Register(shell.Kind{M: mgr}); err != nil {
		mgr.Close()
		return nil, err
	}
	return &streams{logs: lk, shells: mgr, hub: hub, recording: sc.RecordingsDir != ""}, nil
}

// Close ends the shell sessions homed on this replica.
func (s *streams) Close() error {
	s.shells.Close()
	return s.hub.Close()
}

// checks is the recordings' readiness, when sessions are recorded: whether a new shell
// recording can be written.
func (s *streams) checks() []httpapi.Check {
	if !s.recording {
		return nil
	}
	return []httpapi.Check{{Name: "recordings", Check: s.shells.RecordingsReady}}
}

// single serves /ws/logs or /ws/shell: the kind on a plain WebSocket, parameters in the query.
func (s *streams) single(endpoint string, kind mux.Kind, gate *wsgate.Gate, ms *mux.Server) http.Handler {
	return gate.Handler(endpoint, "", func(ctx context.Context, conn *websocket.Conn, u identity.User, req *http.Request) {
		params := req.URL.Query()
		params.Del("ticket")
		ms.ServeSingle(ctx, conn, kind, mux.OpenRequest{User: u, Params: params})
	})
}

// Mount implements httpapi.Mounter: the log download, and the shell admin API (shell.Manager)
// behind the admin check.
func (s *streams) Mount(api chi.Router) {
	api.Get("/logs/download", s.logs.ServeDownload)
	api.Group(func(admin chi.Router) {
		admin.Use(httpapi.RequireAdmin)
		s.shells.MountAdmin(admin)
	})
}
