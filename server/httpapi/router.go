package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/frontdoor"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/metrics"
)

// Mounter adds a domain's routes to the authenticated /api router (the user is in the request
// context, see identity.FromContext).
type Mounter interface {
	Mount(r chi.Router)
}

// MountFunc adapts a function to Mounter.
type MountFunc func(r chi.Router)

// Mount implements Mounter.
func (f MountFunc) Mount(r chi.Router) { f(r) }

// Check is one dependency that /api/readyz reports on (Redis, a cluster, ...).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps is everything the router serves.
type Deps struct {
	Logger   *slog.Logger
	Metrics  *metrics.Set
	Verifier *auth.Verifier
	Tickets  auth.TicketStore
	// DevAuth enables POST /api/auth/dev-login.
	DevAuth bool
	// Origins decides which browser origins may sign in with dev login.
	Origins frontdoor.Origins
	// MetricsForAdmins serves /metrics to admins (bearer token); false: not on this router
	// (--metrics-listen serves it on a listener of its own).
	MetricsForAdmins bool
	// Checks feed /api/readyz.
	Checks []Check
	// APIs add authenticated routes under /api.
	APIs []Mounter
	// WebSockets maps a path pattern (e.g. "/ws", "/ws/sync/{room}") to its upgrade handler; the
	// handlers authenticate themselves (tickets, bearer, subprotocol token).
	WebSockets map[string]http.Handler
	// Static serves the browser app for every other GET; nil: 404.
	Static http.Handler
	// OpenAPI is served at /api/openapi.yaml.
	OpenAPI []byte
}

// New builds the router.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(RequestID, Recover(d.Logger), Metrics(d.Metrics.Registry))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		httpjson.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		httpjson.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed here")
	})

	r.Get("/api/healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/api/readyz", readyz(d.Checks, d.Verifier, d.Logger))
	r.Get("/api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(d.OpenAPI)
	})

	if !d.MetricsForAdmins {
		// Served on a listener of its own; here it is not the app's to answer either.
		r.Handle("/metrics", r.NotFoundHandler())
	}
	a := &authHandlers{verifier: d.Verifier, tickets: d.Tickets, origins: d.Origins, log: d.Logger}
	if d.DevAuth {
		r.Post("/api/auth/dev-login", a.devLogin)
	}
	r.Group(func(r chi.Router) {
		r.Use(RequireUser(d.Verifier))
		r.Post("/api/auth/refresh", a.refresh)
		r.Post("/api/ws-ticket", a.wsTicket)
		r.Get("/api/me", a.me)
		if d.MetricsForAdmins {
			r.With(RequireAdmin).Handle("/metrics", MetricsHandler(d.Metrics))
		}
		r.Route("/api", func(r chi.Router) {
			for _, m := range d.APIs {
				m.Mount(r)
			}
		})
	})
	for pattern, h := range d.WebSockets {
		r.Handle(pattern, h)
	}
	if d.Static != nil {
		r.Handle("/*", d.Static)
	}
	return r
}

// MetricsHandler serves the Prometheus registry of m.
func MetricsHandler(m *metrics.Set) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// readyz answers which checks pass. It is public (load balancers and the browser app's banner
// ask it before anyone signs in), so a failure's text, which can name hosts and addresses, is
// only in the answer to an admin's bearer token; every check going from ok to failing and back
// is logged once, with the text, for the operator.
func readyz(checks []Check, v TokenVerifier, log *slog.Logger) http.HandlerFunc {
	type result struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	var failingMu sync.Mutex
	failing := map[string]bool{}
	noteState := func(name string, err error) {
		failingMu.Lock()
		was := failing[name]
		failing[name] = err != nil
		failingMu.Unlock()
		switch {
		case err != nil && !was:
			log.Warn("readiness check failing", "check", name, "err", err)
		case err == nil && was:
			log.Info("readiness check ok again", "check", name)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		u, err := v.Verify(auth.BearerToken(r.Header.Get("Authorization")))
		detail := err == nil && u.Admin
		results := make(map[string]result, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range checks {
			wg.Go(func() {
				err := c.Check(ctx)
				noteState(c.Name, err)
				res := result{OK: err == nil}
				if err != nil && detail {
					res.Error = err.Error()
				}
				mu.Lock()
				results[c.Name] = res
				mu.Unlock()
			})
		}
		wg.Wait()
		status, code := "ok", http.StatusOK
		for _, res := range results {
			if !res.OK {
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		httpjson.WriteJSON(w, code, map[string]any{"status": status, "checks": results})
	}
}
