package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/frontdoor"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/metrics"
)

// newVerifier builds the token verifier from the sign-in flags.
func newVerifier(cfg config.Config, secret []byte) (*auth.Verifier, error) {
	var jwks *auth.JWKS
	if cfg.JWKSURL != "" {
		jwks = auth.NewJWKS(cfg.JWKSURL, auth.JWKSOptions{})
	}
	return auth.NewVerifier(auth.Options{
		Secret: secret, JWKS: jwks, AdminGroup: cfg.AdminGroup, TokenTTL: cfg.TokenTTL,
		Audience: cfg.Door.JWTAudience, Issuer: cfg.Door.JWTIssuer, UserClaim: cfg.Door.JWTUserClaim,
		SessionMax: cfg.Door.SessionMax,
	})
}

// newFrontServer puts handler behind the front door (Host check, security headers, body
// deadline) in an http.Server with the configured connection bounds.
func newFrontServer(cfg config.Config, log *slog.Logger, handler http.Handler) *http.Server {
	d := cfg.Door
	h := frontdoor.Wrap(handler, frontdoor.Options{Hosts: frontdoor.NewHosts(cfg.ListenHosts()), BodyTimeout: d.ReadBodyTimeout})
	return frontdoor.NewServer(h, frontdoor.ServerOptions{
		ReadHeaderTimeout: d.ReadHeaderTimeout, IdleTimeout: d.IdleTimeout, MaxHeaderBytes: d.MaxHeaderBytes, Logger: log,
	})
}

// metricsServer serves /metrics (and with --pprof the runtime profiles) on --metrics-listen; nil when it is not set (then the main
// router serves /metrics to admins).
type metricsServer struct {
	srv  *http.Server
	addr string
	ln   net.Addr // once listening
	done chan error
}

// MetricsAddr is the address /metrics is served on with --metrics-listen (nil without it).
func (a *App) MetricsAddr() net.Addr {
	if a.metricsSrv == nil {
		return nil
	}
	return a.metricsSrv.ln
}

func newMetricsServer(cfg config.Config, log *slog.Logger, m *metrics.Set) *metricsServer {
	if cfg.Door.MetricsListen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", httpapi.MetricsHandler(m))
	if cfg.Door.Pprof {
		// Profiles show what the process allocates and runs, not its memory's contents; still
		// only here, on the listener operators keep private.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	d := cfg.Door
	return &metricsServer{
		addr: d.MetricsListen,
		srv: frontdoor.NewServer(mux, frontdoor.ServerOptions{
			ReadHeaderTimeout: d.ReadHeaderTimeout, IdleTimeout: d.IdleTimeout, MaxHeaderBytes: d.MaxHeaderBytes, Logger: log,
		}),
		done: make(chan error, 1),
	}
}

func (s *metricsServer) start(log *slog.Logger) error {
	if s == nil {
		return nil
	}
	ln, err := frontdoor.Listen(s.addr, 64)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	s.ln = ln.Addr()
	go func() { s.done <- s.srv.Serve(ln) }()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// shutdown stops a started server (a nil one is not serving).
func (s *metricsServer) shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
