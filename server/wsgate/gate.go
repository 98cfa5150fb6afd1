// Package wsgate is the door every WebSocket comes through: it checks the Origin against the
// allowlist (403), authenticates (a single-use ticket, an Authorization bearer header, or a
// bearer token offered as a subprotocol; 401), enforces the per-user and global connection
// limits (429), and only then upgrades and hands the connection to the endpoint.
//
// Refusals happen before the upgrade so that browsers and tools see an ordinary HTTP status with
// the JSON error envelope, and no goroutine or buffer is spent on a connection that will not live.
package wsgate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/frontdoor"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
)

// BearerProtocolPrefix marks a Sec-WebSocket-Protocol entry that carries a bearer token
// ("yard.bearer.<jwt>"), for clients that can set neither headers nor want the token in a URL.
// The server never selects (echoes) such an entry.
const BearerProtocolPrefix = "yard.bearer."

// Serve runs one upgraded connection for user; it returns when the connection is over.
type Serve func(ctx context.Context, conn *websocket.Conn, user identity.User, r *http.Request)

// TokenVerifier checks bearer tokens.
type TokenVerifier interface {
	Verify(token string) (identity.User, error)
}

// TicketRedeemer consumes single-use tickets.
type TicketRedeemer interface {
	Redeem(ctx context.Context, ticket string) (identity.User, error)
}

// Options configure a Gate.
type Options struct {
	Verifier TokenVerifier
	Tickets  TicketRedeemer
	// AllowedOrigins are extra origins besides the server's own (already normalized or not).
	AllowedOrigins  []string
	MaxConnsPerUser int
	MaxConns        int
	Metrics         *metrics.Set
	Logger          *slog.Logger
	// ReadBufferSize and WriteBufferSize size gorilla's buffers; the write buffer comes from a
	// pool shared by all connections, so idle connections hold none.
	ReadBufferSize  int
	WriteBufferSize int
}

// Gate admits WebSocket connections.
type Gate struct {
	opts     Options
	origins  frontdoor.Origins
	upgrader websocket.Upgrader

	wg sync.WaitGroup // connections being served

	mu      sync.Mutex
	perUser map[string]int
	total   int
}

// New returns a Gate.
func New(o Options) *Gate {
	if o.ReadBufferSize == 0 {
		o.ReadBufferSize = 1024
	}
	if o.WriteBufferSize == 0 {
		o.WriteBufferSize = 4096
	}
	return &Gate{
		opts:    o,
		origins: frontdoor.NewOrigins(o.AllowedOrigins),
		perUser: map[string]int{},
		upgrader: websocket.Upgrader{
			ReadBufferSize:  o.ReadBufferSize,
			WriteBufferSize: o.WriteBufferSize,
			WriteBufferPool: &sync.Pool{},
			// Origin is checked before Upgrade is called, with the allowlist.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// Handler admits connections for endpoint (a metrics label such as "mux" or "sync") and runs
// serve on each. subprotocol, if not empty, is selected when the client offers it.
func (g *Gate) Handler(endpoint, subprotocol string, serve Serve) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			g.refuse(w, http.StatusBadRequest, "not_websocket", "this endpoint speaks WebSocket only")
			return
		}
		if !g.origins.Allowed(r) {
			g.refuse(w, http.StatusForbidden, "forbidden_origin", "origin not allowed")
			return
		}
		user, err := g.authenticate(r)
		var authErr *auth.Error
		if err != nil && !errors.As(err, &authErr) {
			// The ticket store (Redis) did not answer: the ticket may be good; the client retries.
			g.opts.Logger.Warn("cannot redeem a ticket", "err", err)
			g.refuse(w, http.StatusServiceUnavailable, "tickets_unavailable", "cannot check the ticket now")
			return
		}
		if err != nil {
			g.refuse(w, http.StatusUnauthorized, auth.CodeOf(err), "authentication failed: "+auth.MessageOf(err))
			return
		}
		release, code := g.acquire(user)
		if code != "" {
			g.refuse(w, http.StatusTooManyRequests, code, "too many connections")
			return
		}

		var hdr http.Header
		if subprotocol != "" && offers(r, subprotocol) {
			hdr = http.Header{"Sec-Websocket-Protocol": {subprotocol}}
		}
		conn, err := g.upgrader.Upgrade(w, r, hdr)
		if err != nil {
			release()
			// gorilla has already answered with an HTTP error.
			g.opts.Logger.Debug("websocket upgrade failed", "endpoint", endpoint, "err", err)
			return
		}
		conns := g.opts.Metrics.Connections.WithLabelValues(endpoint)
		conns.Inc()
		// The connection is served on a goroutine of its own and this handler returns: while the
		// handler runs, net/http keeps the request's read and write buffers and its deep stack
		// alive, about half of what an idle WebSocket would otherwise cost. The request context
		// ends when the handler returns, so serve gets one without that cancellation.
		ctx := context.WithoutCancel(r.Context())
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer release()
			defer conns.Dec()
			serve(ctx, conn, user, r)
		}()
	})
}

// Wait blocks until every connection handed to a Serve has returned, or ctx ends. Shutting the
// endpoints down (mux.Server.Shutdown) is what makes them return.
func (g *Gate) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gate) refuse(w http.ResponseWriter, status int, code, msg string) {
	g.opts.Metrics.Refusals.WithLabelValues(code).Inc()
	httpjson.WriteError(w, status, code, msg)
}

func (g *Gate) authenticate(r *http.Request) (identity.User, error) {
	if t := r.URL.Query().Get("ticket"); t != "" {
		return g.opts.Tickets.Redeem(r.Context(), t)
	}
	if t := auth.BearerToken(r.Header.Get("Authorization")); t != "" {
		return g.opts.Verifier.Verify(t)
	}
	for _, p := range websocket.Subprotocols(r) {
		if strings.HasPrefix(p, BearerProtocolPrefix) {
			return g.opts.Verifier.Verify(strings.TrimPrefix(p, BearerProtocolPrefix))
		}
	}
	return identity.User{}, &auth.Error{Code: auth.CodeMissing, Message: "no ticket, bearer header or bearer subprotocol"}
}

func offers(r *http.Request, proto string) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == proto {
			return true
		}
	}
	return false
}

// acquire takes a connection slot for u; code names the limit hit when it cannot.
func (g *Gate) acquire(u identity.User) (release func(), code string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total >= g.opts.MaxConns {
		return nil, "conn_limit_global"
	}
	if g.perUser[u.ID] >= g.opts.MaxConnsPerUser {
		return nil, "conn_limit_user"
	}
	g.total++
	g.perUser[u.ID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.total--
			if g.perUser[u.ID]--; g.perUser[u.ID] == 0 {
				delete(g.perUser, u.ID)
			}
		})
	}, ""
}
