package mux

import (
	"context"
	"errors"
	"io"

	"github.com/gorilla/websocket"
)

// ServeSingle runs one kind on a plain WebSocket: each WebSocket message is one channel message
// (text stays text, binary stays binary), for the single-purpose endpoints (/ws/watch, /ws/logs,
// /ws/shell, /ws/sync/{room}) that tools and stock clients such as y-websocket speak. It uses
// DefaultConfig and reports no metrics; endpoints mounted in the server use Server.ServeSingle,
// which also closes them on Shutdown.
//
// There is no credit on a plain WebSocket: incoming messages wait in a queue bounded by
// Config.Window and, when the kind does not keep up, the reader stops reading (TCP backpressure).
// A refused open closes the socket with the error's close code (CloseCode) and "<code>: <message>";
// the kind's end closes it with 1000 after its queued messages, or with its error's code.
func ServeSingle(ctx context.Context, ws *websocket.Conn, kind Kind, req OpenRequest) {
	newSingle(ctx, DefaultConfig(), newServerMetrics(nil), ws, kind).serve(req)
}

// ServeSingle is the package-level ServeSingle with this server's limits and metrics, and
// tracked for Shutdown (1001) and admins (Connections, Disconnect). It gives the connection its
// id (req.ConnID).
func (s *Server) ServeSingle(ctx context.Context, ws *websocket.Conn, kind Kind, req OpenRequest) {
	req.ConnID = NewConnID()
	sc := newSingle(ctx, s.cfg, s.m, ws, kind)
	e := newSingleEntry(sc, kind, req)
	if !s.track(e) {
		refuseShutdown(ws, s.cfg.WriteTimeout)
		return
	}
	defer s.untrack(e)
	sc.serve(req)
}

// single is one plain WebSocket serving one kind, on the socket engine: one implicit channel,
// whose messages are the WebSocket's messages. It is also that kind's Channel.
type single struct {
	socket
	kind Kind

	inSig      chan struct{}
	inSpace    chan struct{}
	space      chan struct{}
	runnerDone chan struct{}

	// Guarded by socket.mu:
	out      []Message
	outBytes int
	in       []Message
	inBytes  int
	finished *CloseMsg // the kind ended: close after the queue drains
}

func newSingle(parent context.Context, cfg Config, m *serverMetrics, ws *websocket.Conn, k Kind) *single {
	sc := &single{
		kind:  k,
		inSig: make(chan struct{}, 1), inSpace: make(chan struct{}, 1),
		space: make(chan struct{}, 1), runnerDone: make(chan struct{}),
	}
	sc.init(parent, cfg, m, ws, sc)
	return sc
}

func (sc *single) serve(req OpenRequest) {
	sc.socket.serve(func() { go sc.run(req) })
	<-sc.runnerDone
}

func (sc *single) run(req OpenRequest) {
	defer close(sc.runnerDone)
	r, err := safeOpen(sc.ctx, sc.kind, req)
	if err != nil {
		sc.failWith(coded(AsError(err)))
		return
	}
	g := sc.m.channels.WithLabelValues(sc.kind.Name())
	g.Inc()
	err = safeRun(sc.ctx, r, sc)
	g.Dec()
	sc.CloseWithError(err)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// receive implements protocol: one message for the kind. There is no credit on a plain
// WebSocket, so when the kind has Window bytes unread the reader waits, and TCP pushes back.
func (sc *single) receive(typ int, b []byte, _ io.Reader) error {
	if len(b) > sc.cfg.MaxFrameBytes {
		return &closeError{code: websocket.CloseMessageTooBig, refusal: CodeFrameTooLarge}
	}
	mt := Binary
	if typ == websocket.TextMessage {
		mt = Text
	}
	for {
		sc.mu.Lock()
		if sc.closing {
			sc.mu.Unlock()
			return nil
		}
		if sc.inBytes == 0 || sc.inBytes+len(b) <= sc.cfg.Window {
			sc.in = append(sc.in, Message{Type: mt, Data: b})
			sc.inBytes += len(b)
			sc.mu.Unlock()
			signal(sc.inSig)
			return nil
		}
		sc.mu.Unlock()
		select {
		case <-sc.inSpace:
		case <-sc.ctx.Done():
		}
	}
}

// fillLocked implements protocol: queued messages in order, one WebSocket message each (stock
// clients such as y-websocket need one message per frame); once the kind has ended and its queue
// is empty, the close.
func (sc *single) fillLocked(b *batch) {
	if len(sc.out) == 0 && sc.finished != nil {
		if f := sc.finished; f.Code == "" {
			sc.failLocked(CloseNormal, "")
		} else {
			sc.failLocked(CloseCode(f.Code), closeReason(f.Code, f.Message))
		}
		return
	}
	k := 0
	for k < len(sc.out) && !b.full() {
		m := sc.out[k]
		k++
		sc.outBytes -= int(cost(len(m.Data)))
		op := byte(websocket.BinaryMessage)
		if m.Type == Text {
			op = websocket.TextMessage
		}
		b.add(op, nil, m.Data)
	}
	clear(sc.out[:k])
	switch {
	case k < len(sc.out):
		sc.out = sc.out[k:]
	case cap(sc.out) > maxBatchFrames:
		// A burst grew the queue: let it go rather than keep it on an idle connection.
		sc.out = nil
	default:
		// Refill from the start, so a steady trickle of messages does not allocate.
		sc.out = sc.out[:0]
	}
	if k > 0 {
		signal(sc.space)
	}
}

// pingLocked implements protocol: a WebSocket ping, which every client answers by itself.
func (sc *single) pingLocked(b *batch) { b.addPing() }

// Recv implements Channel.
func (sc *single) Recv(ctx context.Context) (Message, error) {
	for {
		sc.mu.Lock()
		if len(sc.in) > 0 {
			m := sc.in[0]
			sc.in[0] = Message{}
			sc.in = sc.in[1:]
			sc.inBytes -= len(m.Data)
			sc.mu.Unlock()
			signal(sc.inSpace)
			return m, nil
		}
		ended, peer := sc.readEnded, sc.peerClosed
		closed := sc.closing || sc.finished != nil
		sc.mu.Unlock()
		if ended && peer {
			return Message{}, io.EOF
		}
		if closed {
			return Message{}, ErrClosed
		}
		select {
		case <-sc.inSig:
		case <-sc.ctx.Done():
			sc.mu.Lock()
			n := len(sc.in)
			sc.mu.Unlock()
			if n == 0 {
				if ctx.Err() != nil {
					return Message{}, ctx.Err()
				}
				return Message{}, ErrClosed
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Send implements Channel.
func (sc *single) Send(ctx context.Context, m Message) error {
	for {
		ok, err := sc.enqueue(m)
		if ok || err != nil {
			return err
		}
		select {
		case <-sc.space:
		case <-sc.ctx.Done():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TrySend implements Channel.
func (sc *single) TrySend(m Message) bool {
	ok, _ := sc.enqueue(m)
	return ok
}

func (sc *single) enqueue(m Message) (bool, error) {
	if m.Type != Binary && m.Type != Text {
		return false, errors.New("mux: bad message type")
	}
	sc.mu.Lock()
	if sc.closing || sc.finished != nil {
		sc.mu.Unlock()
		return false, ErrClosed
	}
	n := int(cost(len(m.Data)))
	if sc.outBytes > 0 && sc.outBytes+n > sc.cfg.SendQueueBytes {
		sc.mu.Unlock()
		return false, nil
	}
	sc.out = append(sc.out, m)
	sc.outBytes += n
	if sc.outBytes < sc.cfg.SendQueueBytes {
		signal(sc.space)
	}
	sc.wakeLocked()
	sc.mu.Unlock()
	return true, nil
}

// CloseWithError implements Channel: the queue drains, then the socket closes with err's code.
func (sc *single) CloseWithError(err error) {
	sc.mu.Lock()
	if sc.finished == nil && !sc.closing {
		sc.finished = closeMsgFor(0, err)
		sc.wakeLocked()
	}
	sc.mu.Unlock()
	// The kind is done with the socket; nothing it still waits on should hold it up.
	signal(sc.inSig)
}

// CloseConn implements Channel.
func (sc *single) CloseConn(code int, reason string) { sc.fail(code, closeReason(reason, "")) }
