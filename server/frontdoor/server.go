package frontdoor

import (
	"log/slog"
	"net/http"
	"time"
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
