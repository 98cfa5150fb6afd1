package frontdoor

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerOptions bound the connections of an http.Server.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	Logger            *slog.Logger
}

// NewServer returns an http.Server for handler with the bounds of o. There is no ReadTimeout
// or WriteTimeout: they would cut WebSockets and long downloads; bodies are bounded by Wrap.
func NewServer(handler http.Handler, o ServerOptions) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
}

// Listen listens on addr and holds at most maxConns connections at once: Accept waits while
// that many are open, so further clients wait in the kernel's backlog instead of costing a
// goroutine and buffers each.
func Listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	return ln, nil
}
