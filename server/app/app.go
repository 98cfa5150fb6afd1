// Package app is Yard's composition root: it turns a validated config.Config into a running
// server by building every dependency once and wiring them together. Nothing below this package
// reads flags or the environment, and nothing else constructs the long-lived pieces.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/frontdoor"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/mux/ping"
	"github.com/yardhq/yard/server/shell"
	"github.com/yardhq/yard/server/wsgate"
)

// App is one running Yard server.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	metrics  *metrics.Set
	mux      *mux.Server
	gate     *wsgate.Gate
	http     *http.Server
	redis    redis.UniversalClient // nil without --redis-url
	pinger   redis.UniversalClient // the one /api/readyz pings Redis with (openRedis)
	rooms    *rooms
	clusters *clusters
	streams  *streams
	conns    *connAdmin
	dir      *directory.Directory
	trail    audit.Trail
	deploys  *deploy.Service

	ln       net.Listener
	serveErr chan error
	// metricsSrv serves /metrics on --metrics-listen (nil without it, or until it listens).
	metricsSrv *metricsServer
	stopOnce   sync.Once
}

// New builds the server from cfg (which must be valid). Nothing listens until Start.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := metrics.New()
	clusters, err := loadClusters(cfg, log)
	if err != nil {
		return nil, err
	}
	rdb, err := openRedis(cfg, false)
	if err != nil {
		return nil, err
	}
	pinger, err := openRedis(cfg, true)
	if err != nil {
		return nil, err
	}

	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 && cfg.DevAuth {
		// Dev login without a configured secret: tokens are good until this process exits.
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("generating a dev token secret: %w", err)
		}
	}
	verifier, err := newVerifier(cfg, secret)
	if err != nil {
		return nil, err
	}
	// A ticket may be redeemed by another replica than the one that issued it (a load balancer
	// picks each request's replica), so with Redis the replicas share them.
	var tickets auth.TicketStore = auth.NewMemoryTickets(nil)
	if rdb != nil {
		tickets = auth.NewRedisTickets(rdb)
	}

	muxCfg := mux.DefaultConfig()
	muxCfg.MaxFrameBytes = cfg.Limits.MaxFrameBytes
	muxCfg.MaxChannels = cfg.Limits.MaxChannelsPerConn
	muxCfg.MaxInboundBytes = cfg.Limits.MaxConnInboundBytes
	if err := muxCfg.Validate(); err != nil {
		return nil, fmt.Errorf("multiplexer config: %w", err)
	}
	if cfg.Replica == "" {
		// One name for every part of this process (presence, shells, connections), so the admin
		// panel's replica columns agree.
		host, _ := os.Hostname()
		cfg.Replica = host + "-" + mux.NewConnID()[:6]
	}
	trail, err := wireAudit(cfg, log, rdb, cfg.Replica)
	if err != nil {
		return nil, err
	}
	dir, err := wireDirectory(cfg, log, rdb)
	if err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			_ = dir.Close()
		}
	}()
	kinds := mux.NewRegistry()
	if err := kinds.Register(ping.Kind{}); err != nil {
		return nil, err
	}
	rms, err := wireRooms(cfg, log, m, rdb, dir, kinds)
	if err != nil {
		return nil, err
	}
	cls, err := wireClusters(cfg, log, m, clusters, kinds)
	if err != nil {
		return nil, err
	}
	str, err := wireStreams(cfg, log, m, rdb, dir, trail, cls.set, kinds)
	if err != nil {
		return nil, err
	}
	writer, writes, err := wireWrite(cfg, log, m, cls, rms, trail)
	if err != nil {
		return nil, err
	}
	deploys, deployAPI, err := wireDeploy(cfg, log, m, rdb, cls, rms, writer, trail)
	if err != nil {
		return nil, err
	}
	muxServer := mux.NewServer(muxCfg, kinds, mux.Options{Logger: log, Metrics: m})
	conns := wireConnections(log, rdb, dir, muxServer)
	rms.conns = conns.dir

	gate := wsgate.New(wsgate.Options{
		Verifier:        verifier,
		Tickets:         tickets,
		AllowedOrigins:  cfg.AllowedOrigins,
		MaxConnsPerUser: cfg.Limits.MaxConnsPerUser,
		MaxConns:        cfg.Limits.MaxConns,
		Metrics:         m,
		Logger:          log,
	})

	handler := httpapi.New(httpapi.Deps{
		Logger:   log,
		Metrics:  m,
		Verifier: verifier,
		Tickets:  tickets,
		DevAuth:  cfg.DevAuth,
		Origins:  frontdoor.NewOrigins(cfg.AllowedOrigins),
		Checks:   slices.Concat(redisCheck(pinger), cls.checks(), str.checks()),
		APIs:     []httpapi.Mounter{rms, cls.api, str, conns, auditAPI(trail), wireWorkflow(rms), writes, deployAPI},

		// Without a listener of its own, /metrics is for admins.
		MetricsForAdmins: cfg.Door.MetricsListen == "",
		WebSockets: map[string]http.Handler{
			"/ws":             gate.Handler("mux", mux.Subprotocol, serveMux(muxServer)),
			"/ws/sync/{room}": rms.singleSync(gate, muxServer),
			"/ws/watch":       cls.singleWatch(gate, muxServer),
			"/ws/logs":        str.single("logs", str.logs, gate, muxServer),
			"/ws/shell":       str.single("shell", shell.Kind{M: str.shells}, gate, muxServer),
		},
		Static:  httpapi.Static(cfg.StaticDir),
		OpenAPI: httpapi.OpenAPISpec,
	})

	built = true
	return &App{
		cfg:      cfg,
		log:      log,
		metrics:  m,
		mux:      muxServer,
		redis:    rdb,
		pinger:   pinger,
		rooms:    rms,
		clusters: cls,
		streams:  str,
		conns:    conns,
		dir:      dir,
		trail:    trail,
		deploys:  deploys,
		gate:     gate,
		http:     newFrontServer(cfg, log, handler),
		serveErr: make(chan error, 1),
	}, nil
}

// Audit returns the audit trail every cluster write is recorded in.
func (a *App) Audit() audit.Trail { return a.trail }

// Start listens on the configured address and serves in the background. The "listening" log line
// carries the URL (tests and scripts that listen on port 0 read it from there).
func (a *App) Start() (net.Addr, error) {
	ln, err := frontdoor.Listen(a.cfg.Listen, a.cfg.HTTPConns())
	if err != nil {
		return nil, err
	}
	ms := newMetricsServer(a.cfg, a.log, a.metrics)
	if err := ms.start(a.log); err != nil {
		_ = ln.Close()
		return nil, err
	}
	a.metricsSrv = ms
	a.ln = ln
	a.clusters.start()
	// Waits for the disconnect subscription, but not for long: with Redis down the server
	// still starts, and the subscription is made once Redis answers.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	a.conns.dir.Start(sctx)
	cancel()
	go func() { a.serveErr <- a.http.Serve(ln) }()
	a.log.Info("listening", "url", "http://"+ln.Addr().String(), "dev_auth", a.cfg.DevAuth,
		"redis", a.cfg.RedisURL != "", "write_enabled", a.cfg.WriteEnabled)
	return ln.Addr(), nil
}

// Shutdown stops accepting, closes every WebSocket with 1001 (going away) and waits for the
// connections' goroutines, all within ctx.
func (a *App) Shutdown(ctx context.Context) error {
	var err error
	a.stopOnce.Do(func() {
		var wg sync.WaitGroup
		var httpErr, muxErr error
		// http.Server.Shutdown does not wait for hijacked connections; the multiplexer closes and
		// awaits those itself.
		wg.Go(func() { httpErr = errors.Join(a.http.Shutdown(ctx), a.metricsSrv.shutdown(ctx)) })
		wg.Go(func() { muxErr = a.mux.Shutdown(ctx) })
		wg.Wait()
		// The gate's per-connection goroutines return right after the connections they served.
		muxErr = errors.Join(muxErr, a.gate.Wait(ctx))
		if serveErr := <-a.serveErr; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			err = serveErr
		}
		a.deploys.Close()
		a.clusters.Close()
		a.conns.dir.Close()
		err = errors.Join(err, a.streams.Close())
		err = errors.Join(err, httpErr, muxErr, a.rooms.Close())
		// After every part that puts entries: a clean stop leaves none listed.
		err = errors.Join(err, a.dir.Close())
		if a.redis != nil {
			err = errors.Join(err, a.redis.Close(), a.pinger.Close())
		}
		a.log.Info("stopped", "err", err)
	})
	return err
}

// Run starts the server and shuts it down when ctx ends.
func (a *App) Run(ctx context.Context) error {
	if _, err := a.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-a.serveErr:
		a.serveErr <- err
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	return a.Shutdown(sctx)
}
