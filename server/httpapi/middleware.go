package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

// RequestIDHeader carries the request ID in both directions.
const RequestIDHeader = "X-Request-ID"

type requestIDKey struct{}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID gives every request an ID: the caller's X-Request-ID when it is sane, else a new one.
// It is echoed in the response and available through RequestIDFrom.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestIDFrom returns the request's ID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Recover turns a panic in a handler into a 500 envelope and a log line with the stack.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
						panic(v)
					}
					log.Error("handler panicked", "path", r.URL.Path, "request_id", RequestIDFrom(r.Context()),
						"panic", v, "stack", string(debug.Stack()))
					httpjson.WriteError(w, http.StatusInternalServerError, "internal", "internal error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Metrics observes request latency by route pattern (never the raw path: label values must be
// chosen by the server), method and status.
func Metrics(reg prometheus.Registerer) func(http.Handler) http.Handler {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "yard_http_request_duration_seconds",
		Help:    "HTTP request latency by route, method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"})
	reg.MustRegister(hist)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK // hijacked (WebSocket) or nothing written
			}
			hist.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		})
	}
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// TokenVerifier is what the bearer middleware needs of auth.
type TokenVerifier interface {
	Verify(token string) (identity.User, error)
}

// RequireUser authenticates the bearer token and puts the user in the request context;
// without a valid one it answers 401 with the auth error's code.
func RequireUser(v TokenVerifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, err := v.Verify(auth.BearerToken(r.Header.Get("Authorization")))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="yard"`)
				httpjson.WriteError(w, http.StatusUnauthorized, auth.CodeOf(err), "a valid bearer token is required")
				return
			}
			next.ServeHTTP(w, r.WithContext(identity.WithUser(r.Context(), u)))
		})
	}
}

// RequireAdmin answers 403 unless the authenticated user is an admin.
func RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := identity.FromContext(r.Context()); !ok || !u.Admin {
			httpjson.WriteError(w, http.StatusForbidden, "forbidden", "admins only")
			return
		}
		next.ServeHTTP(w, r)
	})
}
