package mux

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/identity"
)

// maxControlPayload bounds an incoming control frame (open parameters included).
const maxControlPayload = 64 << 10

// maxPingPayload bounds a ping's payload, as WebSocket does for its own pings: pongs are queued,
// and this keeps the control queue's memory small.
const maxPingPayload = 125

// conn is one multiplexed connection: the frames, the control channel and the channels, on the
// socket engine.
type conn struct {
	socket
	s        *Server
	user     identity.User
	id       string
	openedAt time.Time
	runners  sync.WaitGroup

	// Guarded by socket.mu:
	chans   map[uint32]*channel
	list    []*channel // chans in open order, for the writer's scan
	rr      [PriorityLogs + 1]uint32
	control [][]byte
	inBytes int // client data in the channels' in queues, bounded by MaxInboundBytes
}

func newConn(parent context.Context, s *Server, ws *websocket.Conn, user identity.User) *conn {
	c := &conn{s: s, user: user, id: NewConnID(), openedAt: time.Now().UTC(), chans: map[uint32]*channel{}}
	c.init(parent, s.cfg, s.m, ws, c)
	return c
}

func (c *conn) serve() {
	c.socket.serve(nil)
	c.runners.Wait()
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	c.s.log.Debug("mux: connection closed", "conn", c.id, "user", c.user.ID, "code", code, "reason", reason)
}

// queueControlLocked queues a control frame; a client that lets too many pile up (it sends pings
// or opens but does not read) is disconnected.
func (c *conn) queueControlLocked(frame []byte) {
	if c.closing {
		return
	}
	if len(c.control) >= c.s.cfg.ControlQueue {
		c.s.m.refuse(CodeSlowConsumer)
		c.failLocked(CloseCode(CodeSlowConsumer), closeReason(CodeSlowConsumer, "control queue full"))
		return
	}
	c.control = append(c.control, frame)
	c.wakeLocked()
}

// receive implements protocol: one frame. It never waits on a channel: what a client may send is
// bounded by the credit the server granted, so the frame can always be queued.
func (c *conn) receive(typ int, buf []byte, rest io.Reader) error {
	if typ != websocket.BinaryMessage {
		return coded(Errorf(CodeBadFrame, "text WebSocket messages are not part of %s", Subprotocol))
	}
	f, derr := DecodeFrame(buf)
	if derr != nil {
		return coded(AsError(derr))
	}
	if len(buf) > c.s.cfg.MaxFrameBytes {
		hardCap := int64(c.s.cfg.MaxFrameBytes) * 4
		n, err := io.Copy(io.Discard, io.LimitReader(rest, hardCap))
		if err != nil {
			return err
		}
		if n+int64(len(buf)) >= hardCap {
			return coded(Errorf(CodeFrameTooLarge, "frame over %d bytes", hardCap))
		}
		c.frameTooLarge(f)
		return nil
	}
	if f.Channel == ControlChannel {
		if e := c.handleControl(f); e != nil {
			return coded(e)
		}
		return nil
	}
	c.handleData(f)
	return nil
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
			c.wakeLocked()
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
	c.wakeLocked()
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

// fillLocked implements protocol: control frames first, then data by priority.
func (c *conn) fillLocked(b *batch) {
	for !b.full() {
		it, ok := c.nextLocked()
		if !ok {
			return
		}
		if it.frame != nil {
			b.add(websocket.BinaryMessage, nil, it.frame)
			continue
		}
		var mh [MaxHeaderLen]byte
		b.add(websocket.BinaryMessage, AppendHeader(mh[:0], it.ch, byte(it.msg.Type)), it.msg.Data)
	}
}

// pingLocked implements protocol: a ping on channel 0, ahead of everything else.
func (c *conn) pingLocked(b *batch) {
	b.add(websocket.BinaryMessage, nil, ControlFrame(OpPing, nil))
	b.ping = true
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
