package mux

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

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

// single is one plain WebSocket serving one kind. It is also that kind's Channel.
type single struct {
	ws     *websocket.Conn
	cfg    Config
	m      *serverMetrics
	kind   Kind
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc

	inSig      chan struct{}
	inSpace    chan struct{}
	space      chan struct{}
	writerDone chan struct{}
	runnerDone chan struct{}

	pingTimer     *time.Timer
	writeDeadline time.Time // the socket's; used by one writer at a time

	mu          sync.Mutex
	writing     bool // a writer goroutine runs; after the close it stays set, so none starts again
	pingDue     bool
	out         []Message
	outBytes    int
	in          []Message
	inBytes     int
	finished    *CloseMsg // the kind ended: close after the queue drains
	closing     bool
	closeCode   int
	closeReason string
	peerClosed  bool
	readEnded   bool
}

func newSingle(parent context.Context, cfg Config, m *serverMetrics, ws *websocket.Conn, k Kind) *single {
	ctx, cancel := context.WithCancel(parent)
	return &single{
		ws: ws, cfg: cfg, m: m, kind: k, parent: parent, ctx: ctx, cancel: cancel,
		inSig: make(chan struct{}, 1), inSpace: make(chan struct{}, 1),
		space: make(chan struct{}, 1), writerDone: make(chan struct{}), runnerDone: make(chan struct{}),
	}
}

func (sc *single) serve(req OpenRequest) {
	sc.ws.SetReadLimit(int64(sc.cfg.MaxFrameBytes))
	sc.ws.SetPongHandler(func(string) error {
		sc.extendDeadline()
		return nil
	})
	// gorilla's own answer to a ping moves the socket's write deadline to one second away; with
	// WriteTimeout, every deadline set on the socket is at least the one writeBatch remembers.
	sc.ws.SetPingHandler(func(data string) error {
		err := sc.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(sc.cfg.WriteTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
			return nil
		}
		return err
	})
	sc.pingTimer = time.AfterFunc(sc.cfg.PingInterval, func() {
		sc.mu.Lock()
		sc.pingDue = true
		sc.mu.Unlock()
		sc.kick()
	})
	go sc.run(req)
	stop := context.AfterFunc(sc.parent, func() {
		sc.fail(CloseGoingAway, closeReason(CodeShuttingDown, "connection context ended"))
	})
	sc.readLoop()
	stop()
	sc.fail(websocket.CloseAbnormalClosure, "")
	<-sc.writerDone
	_ = sc.ws.Close()
	<-sc.runnerDone
}

func (sc *single) run(req OpenRequest) {
	defer close(sc.runnerDone)
	r, err := safeOpen(sc.ctx, sc.kind, req)
	if err != nil {
		e := AsError(err)
		sc.m.refuse(e.Code)
		sc.fail(CloseCode(e.Code), closeReason(e.Code, e.Message))
		return
	}
	g := sc.m.channels.WithLabelValues(sc.kind.Name())
	g.Inc()
	err = safeRun(sc.ctx, r, sc)
	g.Dec()
	sc.CloseWithError(err)
}

func (sc *single) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (sc *single) fail(code int, reason string) {
	sc.mu.Lock()
	if sc.closing {
		sc.mu.Unlock()
		return
	}
	sc.closing, sc.closeCode, sc.closeReason = true, code, reason
	sc.mu.Unlock()
	sc.cancel()
	sc.kick()
}

// kick starts the writer when there is something to write and none runs. The writer is a
// goroutine only while it has work: an idle connection (most sync clients, most of the time)
// then holds two goroutines instead of three, and their stacks are most of what it costs.
func (sc *single) kick() {
	sc.mu.Lock()
	start := !sc.writing && (len(sc.out) > 0 || sc.closing || sc.finished != nil || sc.pingDue)
	if start {
		sc.writing = true
	}
	sc.mu.Unlock()
	if start {
		go sc.writeLoop()
	}
}

func (sc *single) kill() { _ = sc.ws.UnderlyingConn().Close() }

func (sc *single) extendDeadline() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.closing {
		_ = sc.ws.SetReadDeadline(time.Now().Add(sc.cfg.IdleTimeout))
	}
}

func (sc *single) readLoop() {
	for {
		sc.extendDeadline()
		typ, b, err := sc.ws.ReadMessage()
		if err != nil {
			sc.readFailed(err)
			return
		}
		sc.m.framesIn.Inc()
		sc.m.bytesIn.Add(float64(len(b)))
		mt := Binary
		if typ == websocket.TextMessage {
			mt = Text
		}
		for {
			sc.mu.Lock()
			if sc.closing {
				sc.mu.Unlock()
				return
			}
			if sc.inBytes == 0 || sc.inBytes+len(b) <= sc.cfg.Window {
				sc.in = append(sc.in, Message{Type: mt, Data: b})
				sc.inBytes += len(b)
				sc.mu.Unlock()
				sc.signal(sc.inSig)
				break
			}
			sc.mu.Unlock()
			select {
			case <-sc.inSpace:
			case <-sc.ctx.Done():
			}
		}
	}
}

func (sc *single) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	sc.mu.Lock()
	sc.readEnded = true
	sc.mu.Unlock()
	switch {
	case errors.As(err, &ce):
		sc.mu.Lock()
		sc.peerClosed = true
		sc.mu.Unlock()
		sc.fail(ce.Code, ce.Text)
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent 1009.
		sc.m.refuse(CodeFrameTooLarge)
		sc.mu.Lock()
		sc.peerClosed = true
		sc.mu.Unlock()
		sc.fail(websocket.CloseMessageTooBig, CodeFrameTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		sc.m.refuse(CodeIdleTimeout)
		sc.fail(CloseCode(CodeIdleTimeout), closeReason(CodeIdleTimeout, "nothing received"))
	default:
		sc.fail(websocket.CloseAbnormalClosure, "")
	}
}

// writeLoop writes until the queue is empty, then ends; kick starts it again. The run that
// writes the close frame closes writerDone, which serve waits for.
func (sc *single) writeLoop() {
	for {
		sc.mu.Lock()
		if sc.closing {
			code, reason, peer := sc.closeCode, sc.closeReason, sc.peerClosed
			sc.mu.Unlock()
			sc.pingTimer.Stop()
			if !peer && code != websocket.CloseAbnormalClosure {
				_ = sc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
					time.Now().Add(sc.cfg.WriteTimeout))
			}
			_ = sc.ws.SetReadDeadline(time.Now().Add(sc.cfg.CloseGrace))
			close(sc.writerDone)
			return
		}
		if len(sc.out) == 0 && sc.finished != nil {
			f := sc.finished
			sc.mu.Unlock()
			if f.Code == "" {
				sc.fail(CloseNormal, "")
			} else {
				sc.fail(CloseCode(f.Code), closeReason(f.Code, f.Message))
			}
			continue
		}
		ping := sc.pingDue
		sc.pingDue = false
		b := batchPool.Get().(*batch)
		size, k := 0, 0
		for k < len(sc.out) && len(b.items) < maxBatchFrames && size < maxBatchBytes {
			m := sc.out[k]
			k++
			sc.outBytes -= int(cost(len(m.Data)))
			b.items = append(b.items, writeItem{msg: m})
			size += len(m.Data)
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
		if len(b.items) == 0 && !ping {
			sc.writing = false
			sc.mu.Unlock()
			batchPool.Put(b)
			return
		}
		sc.mu.Unlock()
		if ping {
			_ = sc.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(sc.cfg.WriteTimeout))
			sc.pingTimer.Reset(sc.cfg.PingInterval)
		}
		if len(b.items) == 0 {
			batchPool.Put(b)
			continue
		}
		sc.signal(sc.space)
		err := sc.writeBatch(b)
		b.reset()
		batchPool.Put(b)
		if err != nil {
			sc.fail(websocket.CloseAbnormalClosure, "")
		}
	}
}

// writeBatch writes the batch's messages, one WebSocket frame each (stock clients such as
// y-websocket need one message per frame), in one writev: one system call per turn of the
// writer instead of one per message, which is what a room's fan-out costs most. As in
// conn.writeBatch, this goroutine is the only one writing messages and gorilla's control frames
// are single writes that the descriptor's write lock keeps whole.
func (sc *single) writeBatch(b *batch) error {
	n := 0
	for _, it := range b.items {
		start := len(b.hdrs)
		op := byte(websocket.BinaryMessage)
		if it.msg.Type == Text {
			op = websocket.TextMessage
		}
		b.hdrs = appendWSHeader(b.hdrs, op, len(it.msg.Data))
		b.bufs = append(b.bufs, b.hdrs[start:len(b.hdrs):len(b.hdrs)])
		if len(it.msg.Data) > 0 {
			b.bufs = append(b.bufs, it.msg.Data)
		}
		n += len(it.msg.Data)
	}
	nc := sc.ws.NetConn()
	// Moving the deadline costs a runtime timer update per write; moving it only once it is
	// half spent keeps every write bounded by between WriteTimeout/2 and WriteTimeout.
	if now := time.Now(); sc.writeDeadline.Sub(now) < sc.cfg.WriteTimeout/2 {
		sc.writeDeadline = now.Add(sc.cfg.WriteTimeout)
		_ = nc.SetWriteDeadline(sc.writeDeadline)
	}
	bufs := b.bufs // WriteTo consumes the slice it is called on; keep b.bufs for reuse
	if _, err := bufs.WriteTo(nc); err != nil {
		return err
	}
	sc.m.framesOut.Add(float64(len(b.items)))
	sc.m.bytesOut.Add(float64(n))
	return nil
}

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
			sc.signal(sc.inSpace)
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
		sc.signal(sc.space)
	}
	start := !sc.writing
	sc.writing = true
	sc.mu.Unlock()
	if start {
		go sc.writeLoop()
	}
	return true, nil
}

// CloseWithError implements Channel: the queue drains, then the socket closes with err's code.
func (sc *single) CloseWithError(err error) {
	sc.mu.Lock()
	if sc.finished == nil && !sc.closing {
		sc.finished = closeMsgFor(0, err)
	}
	sc.mu.Unlock()
	sc.kick()
	// The kind is done with the socket; nothing it still waits on should hold it up.
	sc.signal(sc.inSig)
}

// CloseConn implements Channel.
func (sc *single) CloseConn(code int, reason string) { sc.fail(code, closeReason(reason, "")) }
