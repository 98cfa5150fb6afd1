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

	"github.com/yardhq/yard/server/identity"
)

// maxControlPayload bounds an incoming control frame (open parameters included).
const maxControlPayload = 64 << 10

// maxPingPayload bounds a ping's payload, as WebSocket does for its own pings: pongs are queued,
// and this keeps the control queue's memory small.
const maxPingPayload = 125

// conn is one multiplexed connection.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	user     identity.User
	id       string
	openedAt time.Time
	parent   context.Context
	ctx      context.Context // parent of every channel; cancelled when the connection closes
	cancel   context.CancelFunc

	wake       chan struct{} // the writer has something to do
	writerDone chan struct{}
	runners    sync.WaitGroup
	closingF   atomic.Bool // mirrors closing for the reader's lock-free check

	mu          sync.Mutex
	chans       map[uint32]*channel
	list        []*channel // chans in open order, for the writer's scan
	rr          [PriorityLogs + 1]uint32
	control     [][]byte
	closing     bool
	inBytes     int // client data in the channels' in queues, bounded by MaxInboundBytes
	closeCode   int
	closeReason string
	peerClosed  bool // the peer's close frame was received (gorilla has answered it)
}

func newConn(parent context.Context, s *Server, ws *websocket.Conn, user identity.User) *conn {
	ctx, cancel := context.WithCancel(parent)
	return &conn{
		s: s, ws: ws, user: user, id: NewConnID(), openedAt: time.Now().UTC(), parent: parent, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), writerDone: make(chan struct{}),
		chans: map[uint32]*channel{},
	}
}

func (c *conn) serve() {
	go c.writeLoop()
	stop := context.AfterFunc(c.parent, func() {
		c.fail(CloseGoingAway, closeReason(CodeShuttingDown, "connection context ended"))
	})
	c.readLoop()
	stop()
	c.fail(websocket.CloseAbnormalClosure, "")
	<-c.writerDone
	_ = c.ws.Close()
	c.runners.Wait()
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	c.s.log.Debug("mux: connection closed", "conn", c.id, "user", c.user.ID, "code", code, "reason", reason)
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// fail starts closing the connection: the writer sends a close frame with code and reason
// (unless the peer closed first) and every channel's context ends. The first call wins.
func (c *conn) fail(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closingF.Store(true)
	c.closeCode, c.closeReason = code, reason
	c.mu.Unlock()
	c.cancel()
	c.signal()
}

func (c *conn) failCoded(e *Error) {
	c.s.m.refuse(e.Code)
	c.fail(CloseCode(e.Code), closeReason(e.Code, e.Message))
}

func (c *conn) kill() { _ = c.ws.UnderlyingConn().Close() }

// queueControlLocked queues a control frame; a client that lets too many pile up (it sends pings
// or opens but does not read) is disconnected.
func (c *conn) queueControlLocked(frame []byte) {
	if c.closing {
		return
	}
	if len(c.control) >= c.s.cfg.ControlQueue {
		c.closing = true
		c.closingF.Store(true)
		c.closeCode = CloseCode(CodeSlowConsumer)
		c.closeReason = closeReason(CodeSlowConsumer, "control queue full")
		c.s.m.refuse(CodeSlowConsumer)
		c.cancel() // AfterFuncs run in their own goroutines, so holding c.mu is fine
		c.signal()
		return
	}
	c.control = append(c.control, frame)
	c.signal()
}

// readLoop reads frames until the connection fails; it never waits on a channel.
func (c *conn) readLoop() {
	cfg := c.s.cfg
	hardCap := int64(cfg.MaxFrameBytes) * 4
	for {
		c.extendDeadline()
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		if typ != websocket.BinaryMessage {
			c.failCoded(Errorf(CodeBadFrame, "text WebSocket messages are not part of %s", Subprotocol))
			return
		}
		buf, err := io.ReadAll(io.LimitReader(r, int64(cfg.MaxFrameBytes)+1))
		if err != nil {
			c.readFailed(err)
			return
		}
		c.s.m.framesIn.Inc()
		c.s.m.bytesIn.Add(float64(len(buf)))
		f, derr := DecodeFrame(buf)
		if derr != nil {
			c.failCoded(AsError(derr))
			return
		}
		if len(buf) > cfg.MaxFrameBytes {
			n, err := io.Copy(io.Discard, io.LimitReader(r, hardCap))
			if err != nil {
				c.readFailed(err)
				return
			}
			if n+int64(len(buf)) >= hardCap {
				c.failCoded(Errorf(CodeFrameTooLarge, "frame over %d bytes", hardCap))
				return
			}
			c.frameTooLarge(f)
			continue
		}
		if f.Channel == ControlChannel {
			if e := c.handleControl(f); e != nil {
				c.failCoded(e)
				return
			}
			continue
		}
		c.handleData(f)
	}
}

// extendDeadline pushes the idle deadline out, unless the connection is closing, when the close
// grace set by the writer must stand.
func (c *conn) extendDeadline() {
	if c.closingF.Load() {
		return
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	if c.closingF.Load() {
		// The writer may have set the grace deadline between the check and the set above.
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.CloseGrace))
	}
}

func (c *conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		c.mu.Lock()
		c.peerClosed = true
		c.mu.Unlock()
		c.fail(ce.Code, ce.Text)
	case errors.As(err, &ne) && ne.Timeout() && !c.closingF.Load():
		c.failCoded(Errorf(CodeIdleTimeout, "nothing received for %s", c.s.cfg.IdleTimeout))
	default:
		c.fail(websocket.CloseAbnormalClosure, "")
	}
}

func (c *conn) frameTooLarge(f Frame) {
	e := Errorf(CodeFrameTooLarge, "frame over %d bytes", c.s.cfg.MaxFrameBytes)
	c.s.m.refuse(e.Code)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.chans[f.Channel]; ch != nil && f.Channel != ControlChannel {
		ch.abortLocked(e)
		return
	}
	c.queueControlLocked(ControlFrame(OpError, ErrorMsg{Channel: f.Channel, Code: e.Code, Message: e.Message}))
}

func (c *conn) handleData(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.chans[f.Channel]
	if ch == nil {
		c.s.m.refuse(CodeUnknownChannel)
		c.queueControlLocked(ControlFrame(OpError, ErrorMsg{Channel: f.Channel, Code: CodeUnknownChannel, Message: "no such channel"}))
		return
	}
	if ch.gotClose || ch.closeMsg != nil || ch.sentClose || ch.abort != nil {
		return // in flight while the channel closes
	}
	if ch.opening || ch.inCredit <= 0 {
		c.s.m.refuse(CodeFlowControl)
		ch.abortLocked(Errorf(CodeFlowControl, "sent past the channel's credit"))
		return
	}
	if c.inBytes+len(f.Payload) > c.s.cfg.MaxInboundBytes {
		c.s.m.refuse(CodeLimit)
		ch.abortLocked(Errorf(CodeLimit, "over %d bytes of this connection's data wait to be read", c.s.cfg.MaxInboundBytes))
		return
	}
	c.inBytes += len(f.Payload)
	ch.inCredit -= cost(len(f.Payload))
	ch.in = append(ch.in, Message{Type: MessageType(f.Type), Data: f.Payload})
	select {
	case ch.inSig <- struct{}{}:
	default:
	}
}

func (c *conn) handleControl(f Frame) *Error {
	if f.Type != OpPing && f.Type != OpPong && len(f.Payload) > maxControlPayload {
		return Errorf(CodeBadFrame, "control message over %d bytes", maxControlPayload)
	}
	switch f.Type {
	case OpPing:
		if len(f.Payload) > maxPingPayload {
			return Errorf(CodeBadFrame, "ping payload over %d bytes", maxPingPayload)
		}
		c.mu.Lock()
		c.queueControlLocked(ControlFrame(OpPong, f.Payload))
		c.mu.Unlock()
	case OpPong:
		// Receiving anything already pushed the idle deadline out.
	case OpOpen:
		var m OpenMsg
		if err := decodeOffStack(f.Payload, &m); err != nil {
			return AsError(err)
		}
		return c.open(m)
	case OpClose:
		var m CloseMsg
		if err := decodeOffStack(f.Payload, &m); err != nil {
			return AsError(err)
		}
		c.clientClose(m)
	case OpCredit:
		var m CreditMsg
		if err := decodeOffStack(f.Payload, &m); err != nil {
			return AsError(err)
		}
		if m.Bytes <= 0 || m.Bytes > 1<<40 {
			return Errorf(CodeBadFrame, "credit %d out of range", m.Bytes)
		}
		c.mu.Lock()
		if ch := c.chans[m.Channel]; ch != nil && !ch.opening {
			ch.outCredit = min(ch.outCredit+m.Bytes, 1<<42)
			c.signal()
		}
		c.mu.Unlock()
	case OpError:
		var m ErrorMsg
		if err := decodeOffStack(f.Payload, &m); err != nil {
			return AsError(err)
		}
		c.s.log.Debug("mux: client reported an error", "conn", c.id, "channel", m.Channel, "code", m.Code)
	default: // OpOpened
		return Errorf(CodeBadFrame, "control operation %d is server-to-client only", f.Type)
	}
	return nil
}

func (c *conn) open(m OpenMsg) *Error {
	if m.Channel == ControlChannel {
		return Errorf(CodeBadFrame, "open of channel 0")
	}
	if m.Credit < 0 || m.Credit > 1<<40 {
		return Errorf(CodeBadFrame, "credit %d out of range", m.Credit)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	refuse := func(e *Error) *Error {
		c.s.m.refuse(e.Code)
		c.queueControlLocked(ControlFrame(OpClose, CloseMsg{Channel: m.Channel, Code: e.Code, Message: e.Message}))
		return nil
	}
	if _, busy := c.chans[m.Channel]; busy {
		// Not a refusal (a close would name the channel that is open): a notice.
		c.s.m.refuse(CodeBadFrame)
		c.queueControlLocked(ControlFrame(OpError, ErrorMsg{Channel: m.Channel, Code: CodeBadFrame, Message: "channel id in use"}))
		return nil
	}
	if len(c.chans) >= c.s.cfg.MaxChannels {
		return refuse(Errorf(CodeChannelLimit, "at most %d channels per connection", c.s.cfg.MaxChannels))
	}
	k, ok := c.s.kinds.Lookup(m.Kind)
	if !ok {
		return refuse(Errorf(CodeUnknownKind, "no channel kind %q", m.Kind))
	}
	credit := m.Credit
	if credit == 0 {
		credit = DefaultWindow
	}
	ch := newChannel(c, m.Channel, k, credit)
	c.chans[ch.id] = ch
	c.list = append(c.list, ch)
	req := OpenRequest{User: c.user, Params: nonNil(m.Params), ConnID: c.id}
	ch.desc = describe(k, req)
	c.runners.Add(1)
	go ch.run(k, req)
	return nil
}

func nonNil(p Params) map[string][]string {
	if p == nil {
		return map[string][]string{}
	}
	return p
}

// clientClose handles the client's close of a channel (a request, or the answer to ours).
func (c *conn) clientClose(m CloseMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.chans[m.Channel]
	if ch == nil || ch.gotClose {
		return // a late close for a refused or already closed channel
	}
	ch.gotClose = true
	ch.dropQueueLocked()
	ch.cancel()
	if ch.sentClose {
		c.freeLocked(ch)
	}
	c.signal()
}

func (c *conn) freeLocked(ch *channel) {
	if c.chans[ch.id] != ch {
		return
	}
	c.s.changed()
	delete(c.chans, ch.id)
	for i, x := range c.list {
		if x == ch {
			c.list = append(c.list[:i], c.list[i+1:]...)
			break
		}
	}
}

// writeItem is one frame for the writer: a prebuilt control frame or a data message.
type writeItem struct {
	frame []byte
	ch    uint32
	msg   Message
}

// nextLocked pops what the writer sends next: control first, then data by priority.
func (c *conn) nextLocked() (writeItem, bool) {
	if len(c.control) > 0 {
		f := c.control[0]
		c.control[0] = nil
		c.control = c.control[1:]
		if len(c.control) == 0 {
			c.control = nil
		}
		return writeItem{frame: f}, true
	}
	for p := PriorityShell; p <= PriorityLogs; p++ {
		var best, first *channel
		for _, ch := range c.list {
			if ch.prio != p || !ch.readyLocked() {
				continue
			}
			if first == nil || ch.id < first.id {
				first = ch
			}
			if ch.id > c.rr[p] && (best == nil || ch.id < best.id) {
				best = ch
			}
		}
		if best == nil {
			best = first
		}
		if best != nil {
			c.rr[p] = best.id
			return best.popLocked(), true
		}
	}
	return writeItem{}, false
}

// A batch is what the writer hands the kernel in one writev: up to maxBatchFrames frames or
// maxBatchBytes, picked in priority order like single frames are. Batching saves a system call
// per frame under load; the bytes bound keeps a batch of bulk frames from delaying an urgent
// frame that arrives meanwhile by more than about one large frame would.
const (
	maxBatchFrames = 64
	maxBatchBytes  = 16 << 10
	maxWSHeader    = 10
)

type batch struct {
	items []writeItem
	hdrs  []byte
	bufs  net.Buffers
}

// batchPool keeps idle connections from holding batch buffers.
var batchPool = sync.Pool{New: func() any {
	return &batch{
		items: make([]writeItem, 0, maxBatchFrames),
		hdrs:  make([]byte, 0, maxBatchFrames*(maxWSHeader+MaxHeaderLen)),
		bufs:  make(net.Buffers, 0, 2*maxBatchFrames),
	}
}}

func (b *batch) reset() {
	clear(b.items)
	b.items = b.items[:0]
	b.hdrs = b.hdrs[:0]
	clear(b.bufs[:cap(b.bufs)])
	b.bufs = b.bufs[:0]
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.s.cfg.PingInterval)
	defer ping.Stop()
	for {
		c.mu.Lock()
		if c.closing {
			code, reason, peer := c.closeCode, c.closeReason, c.peerClosed
			c.mu.Unlock()
			c.writeClose(code, reason, peer)
			return
		}
		b := batchPool.Get().(*batch)
		size := 0
		for len(b.items) < maxBatchFrames && size < maxBatchBytes {
			it, ok := c.nextLocked()
			if !ok {
				break
			}
			b.items = append(b.items, it)
			size += len(it.frame) + len(it.msg.Data)
		}
		c.mu.Unlock()
		if len(b.items) == 0 {
			batchPool.Put(b)
			select {
			case <-c.wake:
			case <-ping.C:
				c.mu.Lock()
				c.queueControlLocked(ControlFrame(OpPing, nil))
				c.mu.Unlock()
			}
			continue
		}
		err := c.writeBatch(b)
		b.reset()
		batchPool.Put(b)
		if err != nil {
			c.fail(websocket.CloseAbnormalClosure, "")
		}
	}
}

// writeBatch writes the batch's frames as unmasked binary WebSocket messages in one writev.
// Bypassing gorilla's writer is safe because this goroutine is the only one writing messages;
// gorilla's own control frames (close and pong answers) are single writes, which the kernel
// descriptor's write lock keeps whole between our writes.
func (c *conn) writeBatch(b *batch) error {
	n := 0
	for _, it := range b.items {
		start := len(b.hdrs)
		payload := it.frame
		if it.frame == nil {
			var mh [MaxHeaderLen]byte
			h := AppendHeader(mh[:0], it.ch, byte(it.msg.Type))
			b.hdrs = appendWSHeader(b.hdrs, websocket.BinaryMessage, len(h)+len(it.msg.Data))
			b.hdrs = append(b.hdrs, h...)
			payload = it.msg.Data
			n += len(h)
		} else {
			b.hdrs = appendWSHeader(b.hdrs, websocket.BinaryMessage, len(it.frame))
		}
		n += len(payload)
		b.bufs = append(b.bufs, b.hdrs[start:len(b.hdrs):len(b.hdrs)])
		if len(payload) > 0 {
			b.bufs = append(b.bufs, payload)
		}
	}
	nc := c.ws.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	bufs := b.bufs // WriteTo consumes the slice it is called on; keep b.bufs for reuse
	if _, err := bufs.WriteTo(nc); err != nil {
		return err
	}
	c.s.m.framesOut.Add(float64(len(b.items)))
	c.s.m.bytesOut.Add(float64(n))
	return nil
}

// appendWSHeader appends the header of a final, unmasked WebSocket frame of opcode op (gorilla's
// TextMessage or BinaryMessage) carrying n payload bytes (RFC 6455 5.2).
func appendWSHeader(b []byte, op byte, n int) []byte {
	fin := 0x80 | op
	switch {
	case n < 126:
		return append(b, fin, byte(n))
	case n <= 0xffff:
		return append(b, fin, 126, byte(n>>8), byte(n))
	default:
		return append(b, fin, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40),
			byte(uint64(n)>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// writeClose sends the close frame and gives the peer CloseGrace to answer it; the reader ends
// on the answer or the deadline, and only then is the socket closed, so the close frame is never
// lost to a TCP reset.
func (c *conn) writeClose(code int, reason string, peerClosed bool) {
	if !peerClosed && code != websocket.CloseAbnormalClosure {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(c.s.cfg.WriteTimeout))
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.CloseGrace))
}

// decodeOffStack decodes a control message on a short-lived goroutine and waits for it. The
// reflection-driven JSON decoder needs a deep stack; run on the reader it would grow the reader's
// stack (8 to 16 KiB) for the rest of the connection's life, on every connection that ever
// opened a channel. A goroutine's stack is returned to the runtime's pool when it exits, so one
// stack serves all of them.
func decodeOffStack(payload []byte, v any) error {
	done := make(chan error, 1)
	go func() { done <- DecodeControl(payload, v) }()
	return <-done
}
