package mux

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// socket is the engine under every WebSocket the server serves, multiplexed (conn) or
// single-purpose (single): one reader goroutine, one writer goroutine that runs only while it has
// something to write, the write deadline, the keep-alive ping, the idle timeout and the close
// handshake. What the messages mean is the protocol's business.
//
// The life of a socket: serve reads on the caller's goroutine until the peer closes, the socket
// breaks, or the close handshake ends. Anything may start the close (fail): the writer then sends
// the close frame, unless the peer closed first, and the reader discards whatever still arrives
// until the peer's close frame or CloseGrace; only then is the TCP connection dropped, so a
// peer that answers the close does not lose the close frame to a reset.
type socket struct {
	ws     *websocket.Conn
	cfg    Config
	m      *serverMetrics
	proto  protocol
	parent context.Context
	ctx    context.Context // ends when the socket starts closing
	cancel context.CancelFunc

	writerDone    chan struct{} // closed by the writer run that wrote the close frame
	pingTimer     *time.Timer
	writeDeadline time.Time   // the socket's; used by one writer at a time
	closingF      atomic.Bool // mirrors closing for the reader's lock-free checks

	// mu guards the fields below and the protocol's own state (queues, channels).
	mu          sync.Mutex
	writing     bool // a writer goroutine runs; once the close is written it stays set
	pingDue     bool
	closing     bool
	closeCode   int
	closeReason string
	peerClosed  bool // the peer's close frame arrived (gorilla has answered it)
	readEnded   bool
}

// protocol is what runs on a socket. Its methods run on the socket's goroutines: receive on the
// reader, the Locked ones on the writer with s.mu held.
type protocol interface {
	// receive handles one data message: typ is websocket.TextMessage or BinaryMessage, data the
	// message's first Config.MaxFrameBytes+1 bytes at most, and rest the unread remainder of a
	// longer one. A *closeError starts the close handshake; any other error is a broken socket.
	receive(typ int, data []byte, rest io.Reader) error
	// fillLocked moves what may be sent now into b, in order, until b is full.
	fillLocked(b *batch)
	// pingLocked adds the keep-alive ping to b.
	pingLocked(b *batch)
}

// closeError ends a connection with a WebSocket close code and reason; refusal, when set, is the
// error code counted in the refusals metric.
type closeError struct {
	code    int
	reason  string
	refusal string
}

func (e *closeError) Error() string { return e.reason }

// coded is the close of a connection with e's code: its close code and "<code>: <message>".
func coded(e *Error) *closeError {
	return &closeError{code: CloseCode(e.Code), reason: closeReason(e.Code, e.Message), refusal: e.Code}
}

func (s *socket) init(parent context.Context, cfg Config, m *serverMetrics, ws *websocket.Conn, p protocol) {
	s.ws, s.cfg, s.m, s.proto, s.parent = ws, cfg, m, p, parent
	s.ctx, s.cancel = context.WithCancel(parent)
	s.writerDone = make(chan struct{})
	// Armed by serve; made here so that a close before serve (Shutdown races with a new
	// connection) finds a timer to stop.
	s.pingTimer = time.AfterFunc(time.Hour, func() {
		s.mu.Lock()
		s.pingDue = true
		s.wakeLocked()
		s.mu.Unlock()
	})
	s.pingTimer.Stop()
}

// serve runs the socket until it is closed and the writer is done, then closes it. start, if not
// nil, runs once the socket is ready to write (nothing may wake the writer before). The
// protocol's own goroutines are the caller's to wait for.
func (s *socket) serve(start func()) {
	if !s.closingF.Load() {
		s.pingTimer.Reset(s.cfg.PingInterval)
	}
	s.ws.SetPongHandler(func(string) error {
		s.extendDeadline()
		return nil
	})
	// A ping is activity too. gorilla's own answer to it would move the write deadline to one
	// second away, cutting short a batch the writer has in flight; with WriteTimeout, every
	// deadline set on the socket is at least the one writeBatch remembers.
	s.ws.SetPingHandler(func(data string) error {
		s.extendDeadline()
		err := s.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.cfg.WriteTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
			return nil
		}
		return err
	})
	if start != nil {
		start()
	}
	stop := context.AfterFunc(s.parent, func() {
		s.fail(CloseGoingAway, closeReason(CodeShuttingDown, "connection context ended"))
	})
	s.readLoop()
	stop()
	s.fail(websocket.CloseAbnormalClosure, "")
	<-s.writerDone
	_ = s.ws.Close()
}

// fail starts closing the socket with a WebSocket close code and reason (not sent when the peer
// closed first, or with CloseAbnormalClosure); the first call wins.
func (s *socket) fail(code int, reason string) {
	s.mu.Lock()
	s.failLocked(code, reason)
	s.mu.Unlock()
}

func (s *socket) failLocked(code int, reason string) {
	if s.closing {
		return
	}
	s.closing = true
	s.closingF.Store(true)
	s.closeCode, s.closeReason = code, reason
	s.cancel() // AfterFuncs run in their own goroutines, so holding s.mu is fine
	s.wakeLocked()
}

// failWith closes with e, counting its refusal.
func (s *socket) failWith(e *closeError) {
	if e.refusal != "" && !s.closingF.Load() {
		s.m.refuse(e.refusal)
	}
	s.fail(e.code, e.reason)
}

// kill drops the TCP connection at once.
func (s *socket) kill() { _ = s.ws.UnderlyingConn().Close() }

// wakeLocked starts the writer unless it runs. The writer is a goroutine only while it has work:
// an idle connection (most clients, most of the time) then holds one goroutine fewer, and
// goroutine stacks are most of what an idle connection costs.
func (s *socket) wakeLocked() {
	if !s.writing {
		s.writing = true
		go s.writeLoop()
	}
}

// writeClose sends the close frame and gives the peer CloseGrace to answer it; the reader ends
// on the answer or the deadline.
func (s *socket) writeClose(code int, reason string, peerClosed bool) {
	if !peerClosed && code != websocket.CloseAbnormalClosure {
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(s.cfg.WriteTimeout))
	}
	_ = s.ws.SetReadDeadline(time.Now().Add(s.cfg.CloseGrace))
}
