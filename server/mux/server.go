package mux

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
)

// Options are a Server's collaborators.
type Options struct {
	// Logger receives connection-level events at debug level and server bugs at error level.
	// Nil: discard.
	Logger *slog.Logger
	// Metrics is where the multiplexer registers its collectors and counts refusals. Nil: the
	// collectors exist but are registered nowhere.
	Metrics *metrics.Set
}

// Server multiplexes channels over the WebSocket connections given to ServeConn and runs single
// kinds on the connections given to ServeSingle, and closes all of them on Shutdown.
type Server struct {
	cfg   Config
	kinds *Registry
	log   *slog.Logger
	m     *serverMetrics

	gen atomic.Uint64 // bumped when a connection or channel comes or goes (Generation)

	mu       sync.Mutex
	conns    map[closer]struct{}
	stopping bool
	wg       sync.WaitGroup
}

// closer is a served connection as Shutdown sees it.
type closer interface {
	// fail starts closing the connection with a WebSocket close code and reason.
	fail(code int, reason string)
	// kill drops the TCP connection at once.
	kill()
	// info describes the connection for admins.
	info() ConnInfo
}

type serverMetrics struct {
	channels  *prometheus.GaugeVec
	framesIn  prometheus.Counter
	framesOut prometheus.Counter
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	refusals  *prometheus.CounterVec
}

func newServerMetrics(set *metrics.Set) *serverMetrics {
	frames := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yard_mux_frames_total",
		Help: "Multiplexer frames (single-purpose endpoints: messages) by direction (in: from clients).",
	}, []string{"direction"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "yard_mux_bytes_total",
		Help: "Multiplexer frame bytes by direction (in: from clients).",
	}, []string{"direction"})
	m := &serverMetrics{
		channels: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yard_mux_channels",
			Help: "Open channels by kind (single-purpose endpoints included).",
		}, []string{"kind"}),
		framesIn: frames.WithLabelValues("in"), framesOut: frames.WithLabelValues("out"),
		bytesIn: bytes.WithLabelValues("in"), bytesOut: bytes.WithLabelValues("out"),
	}
	if set != nil {
		set.Registry.MustRegister(m.channels, frames, bytes)
		m.refusals = set.Refusals
	}
	return m
}

func (m *serverMetrics) refuse(code string) {
	if m.refusals != nil {
		m.refusals.WithLabelValues(code).Inc()
	}
}

// NewServer returns a Server for kinds. cfg must be valid (see Config.Validate).
func NewServer(cfg Config, kinds *Registry, o Options) *Server {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, kinds: kinds, log: log, m: newServerMetrics(o.Metrics), conns: map[closer]struct{}{}}
}

// ServeConn runs the multiplexer on an upgraded connection for user until the connection ends
// (the client closes it, it fails, ctx ends or the server shuts down). It reads on the calling
// goroutine and returns only when every goroutine it started has returned and the socket is
// closed.
func (s *Server) ServeConn(ctx context.Context, ws *websocket.Conn, user identity.User) {
	c := newConn(ctx, s, ws, user)
	if !s.track(c) {
		refuseShutdown(ws, s.cfg.WriteTimeout)
		return
	}
	if ws.Subprotocol() != Subprotocol {
		// A client that did not ask for yard.v1 would not understand a word of it.
		defer s.untrack(c)
		s.m.refuse(CodeBadFrame)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseCode(CodeBadFrame),
			closeReason(CodeBadFrame, "offer the "+Subprotocol+" subprotocol")), time.Now().Add(s.cfg.WriteTimeout))
		_ = ws.Close()
		return
	}
	defer s.untrack(c)
	c.serve()
}

// Shutdown closes every connection with close code 1001 (shutting_down) and waits for them to
// end. New connections are refused from the moment it is called. When ctx ends first, the
// remaining sockets are dropped and Shutdown returns ctx's error once their goroutines are gone
// (a kind that ignores its context can still hold it up).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	conns := make([]closer, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(CloseGoingAway, CodeShuttingDown+": the server is shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.kill()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

func (s *Server) track(c closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.changed()
	return true
}

func (s *Server) untrack(c closer) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.changed()
	s.wg.Done()
}

func refuseShutdown(ws *websocket.Conn, timeout time.Duration) {
	_ = ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(CloseGoingAway, CodeShuttingDown+": the server is shutting down"),
		time.Now().Add(timeout))
	_ = ws.Close()
}

// closeReason formats a close reason within the WebSocket limit of 123 bytes.
func closeReason(code, msg string) string {
	r := code
	if msg != "" {
		r += ": " + msg
	}
	if len(r) > 123 {
		r = r[:123]
		// Do not cut a UTF-8 sequence in half: browsers fail the whole close on invalid UTF-8.
		for len(r) > 0 && r[len(r)-1]&0xc0 == 0x80 {
			r = r[:len(r)-1]
		}
		if len(r) > 0 && r[len(r)-1] >= 0xc0 {
			r = r[:len(r)-1]
		}
	}
	return r
}
