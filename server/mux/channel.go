package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// ErrClosed is returned by Send and Recv once the channel or its connection is closed from the
// server side.
var ErrClosed = errors.New("mux: channel closed")

// channel is one open channel of a conn. Every field below the immutable ones is guarded by c.mu.
type channel struct {
	c      *conn
	id     uint32
	kind   string
	desc   string // what the channel serves, for admins (Describer)
	prio   Priority
	window int64 // the credit we grant the client, in bytes
	ctx    context.Context
	cancel context.CancelFunc
	inSig  chan struct{} // cap 1: a message arrived for Recv, or the channel closed
	space  chan struct{} // cap 1: the send queue shrank

	opening    bool // Open has not returned yet
	runnerDone bool
	gotClose   bool      // the client's close arrived
	sentClose  bool      // our close was written (or queued on the control queue)
	closeMsg   *CloseMsg // our close, queued behind the data
	abort      *Error    // the client broke the protocol while the channel was opening

	out      []Message
	outBytes int
	// outCredit is what the client still lets us send; a message goes out while it is positive.
	outCredit int64

	in       []Message
	inCredit int64 // what the client may still send
	consumed int64 // bytes received by the kind since the last grant
}

func newChannel(c *conn, id uint32, k Kind, credit int64) *channel {
	ctx, cancel := context.WithCancel(c.ctx)
	return &channel{
		c: c, id: id, kind: k.Name(), prio: k.Priority(), window: int64(c.s.cfg.Window),
		ctx: ctx, cancel: cancel, inSig: make(chan struct{}, 1), space: make(chan struct{}, 1),
		opening: true, outCredit: credit, inCredit: int64(c.s.cfg.Window),
	}
}

// run opens and then serves the channel; it is the channel's goroutine.
func (ch *channel) run(k Kind, req OpenRequest) {
	c := ch.c
	defer c.runners.Done()
	defer ch.cancel()
	r, err := safeOpen(ch.ctx, k, req)
	c.mu.Lock()
	switch {
	case ch.gotClose:
		// The client gave up on the open: a plain close answers it.
		err = context.Canceled
	case ch.abort != nil:
		err = ch.abort
	case err == nil && c.closing:
		err = Errorf(CodeShuttingDown, "closed while opening")
	}
	if err != nil {
		msg := CloseMsg{Channel: ch.id}
		if !ch.gotClose {
			e := AsError(err)
			if e.Code == CodeInternal {
				c.s.log.Error("mux: open failed", "kind", ch.kind, "conn", c.id, "err", err)
			}
			c.s.m.refuse(e.Code)
			msg.Code, msg.Message = e.Code, e.Message
		}
		// A close answering an open frees the id on both sides at once.
		ch.runnerDone, ch.sentClose = true, true
		c.freeLocked(ch)
		c.queueControlLocked(ControlFrame(OpClose, msg))
		c.mu.Unlock()
		return
	}
	ch.opening = false
	c.s.changed()
	c.queueControlLocked(ControlFrame(OpOpened, OpenedMsg{Channel: ch.id, Credit: ch.window}))
	c.mu.Unlock()

	gauge := c.s.m.channels.WithLabelValues(ch.kind)
	gauge.Inc()
	err = safeRun(ch.ctx, r, ch)
	gauge.Dec()
	if err != nil && AsError(err).Code == CodeInternal {
		c.s.log.Error("mux: channel failed", "kind", ch.kind, "conn", c.id, "err", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	ch.runnerDone = true
	// What the kind never read leaves the connection's budget with it.
	for _, m := range ch.in {
		c.inBytes -= len(m.Data)
	}
	ch.in = nil
	switch {
	case ch.sentClose || ch.closeMsg != nil:
		// CloseWithError already said how the channel ends.
	case ch.gotClose:
		// The client asked; this answers it.
		ch.sentClose = true
		c.queueControlLocked(ControlFrame(OpClose, CloseMsg{Channel: ch.id}))
	default:
		ch.closeMsg = closeMsgFor(ch.id, err)
		c.wakeLocked()
	}
	if ch.sentClose && ch.gotClose {
		c.freeLocked(ch)
	}
}

func safeOpen(ctx context.Context, k Kind, req OpenRequest) (r Runner, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kind %s: open panicked: %v\n%s", k.Name(), p, debug.Stack())
		}
	}()
	return k.Open(ctx, req)
}

func safeRun(ctx context.Context, r Runner, ch Channel) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("channel panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return r.Run(ctx, ch)
}

func closeMsgFor(id uint32, err error) *CloseMsg {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) || errors.Is(err, io.EOF) {
		return &CloseMsg{Channel: id}
	}
	e := AsError(err)
	return &CloseMsg{Channel: id, Code: e.Code, Message: e.Message}
}

// readyLocked reports whether the writer can send something of this channel now.
func (ch *channel) readyLocked() bool {
	if len(ch.out) > 0 {
		return ch.outCredit > 0
	}
	return ch.closeMsg != nil && !ch.sentClose
}

func (ch *channel) popLocked() writeItem {
	c := ch.c
	if len(ch.out) == 0 {
		ch.sentClose = true
		if ch.gotClose {
			c.freeLocked(ch)
		}
		return writeItem{frame: ControlFrame(OpClose, *ch.closeMsg)}
	}
	m := ch.out[0]
	ch.out[0] = Message{}
	ch.out = ch.out[1:]
	if len(ch.out) == 0 {
		ch.out = nil
	}
	ch.outBytes -= int(cost(len(m.Data)))
	ch.outCredit -= cost(len(m.Data))
	select {
	case ch.space <- struct{}{}:
	default:
	}
	return writeItem{ch: ch.id, msg: m}
}

func (ch *channel) dropQueueLocked() {
	ch.out = nil
	ch.outBytes = 0
	select {
	case ch.space <- struct{}{}:
	default:
	}
}

// abortLocked closes the channel at once with e, dropping what it had queued. While the channel
// is opening, the open is refused with e instead.
func (ch *channel) abortLocked(e *Error) {
	if ch.sentClose || ch.closeMsg != nil || ch.abort != nil {
		return
	}
	if ch.opening {
		ch.abort = e
		ch.cancel()
		return
	}
	ch.dropQueueLocked()
	ch.closeMsg = &CloseMsg{Channel: ch.id, Code: e.Code, Message: e.Message}
	ch.cancel()
	ch.c.wakeLocked()
}

func (ch *channel) closedLocked() bool {
	return ch.gotClose || ch.closeMsg != nil || ch.sentClose || ch.c.closing
}

// Recv implements Channel. Messages the client sent before closing are delivered first; then
// Recv returns io.EOF if the client closed the channel, ErrClosed otherwise.
func (ch *channel) Recv(ctx context.Context) (Message, error) {
	c := ch.c
	for {
		c.mu.Lock()
		if len(ch.in) > 0 {
			m := ch.in[0]
			ch.in[0] = Message{}
			ch.in = ch.in[1:]
			if len(ch.in) == 0 {
				ch.in = nil
			}
			c.inBytes -= len(m.Data)
			ch.consumed += cost(len(m.Data))
			if ch.consumed >= ch.window/2 && !ch.closedLocked() {
				ch.inCredit += ch.consumed
				c.queueControlLocked(ControlFrame(OpCredit, CreditMsg{Channel: ch.id, Bytes: ch.consumed}))
				ch.consumed = 0
			}
			c.mu.Unlock()
			return m, nil
		}
		gotClose := ch.gotClose
		closed := ch.closedLocked()
		c.mu.Unlock()
		if gotClose {
			return Message{}, io.EOF
		}
		if closed {
			return Message{}, ErrClosed
		}
		select {
		case <-ch.inSig:
		case <-ch.ctx.Done():
			// Loop once more: messages that arrived before the close are still delivered.
			c.mu.Lock()
			pending := len(ch.in) > 0
			c.mu.Unlock()
			if !pending {
				if ctx.Err() != nil {
					return Message{}, ctx.Err()
				}
				c.mu.Lock()
				gotClose := ch.gotClose
				c.mu.Unlock()
				if gotClose {
					return Message{}, io.EOF
				}
				return Message{}, ErrClosed
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Send implements Channel.
func (ch *channel) Send(ctx context.Context, m Message) error {
	for {
		ok, err := ch.enqueue(m)
		if ok || err != nil {
			return err
		}
		select {
		case <-ch.space:
		case <-ch.ctx.Done():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TrySend implements Channel.
func (ch *channel) TrySend(m Message) bool {
	ok, _ := ch.enqueue(m)
	return ok
}

func (ch *channel) enqueue(m Message) (bool, error) {
	if m.Type != Binary && m.Type != Text {
		return false, fmt.Errorf("mux: message type %d", m.Type)
	}
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.closedLocked() || ch.opening {
		return false, ErrClosed
	}
	n := int(cost(len(m.Data)))
	if ch.outBytes > 0 && ch.outBytes+n > c.s.cfg.SendQueueBytes {
		return false, nil
	}
	ch.out = append(ch.out, m)
	ch.outBytes += n
	if ch.outBytes < c.s.cfg.SendQueueBytes {
		// Room remains: let another waiting sender in.
		select {
		case ch.space <- struct{}{}:
		default:
		}
	}
	if ch.outCredit > 0 {
		c.wakeLocked()
	}
	return true, nil
}

// CloseWithError implements Channel: what is queued is still sent, then the close.
func (ch *channel) CloseWithError(err error) {
	c := ch.c
	c.mu.Lock()
	if ch.sentClose || ch.closeMsg != nil || ch.gotClose || c.closing {
		c.mu.Unlock()
		return
	}
	ch.closeMsg = closeMsgFor(ch.id, err)
	c.wakeLocked()
	c.mu.Unlock()
	ch.cancel()
}

// CloseConn implements Channel.
func (ch *channel) CloseConn(code int, reason string) {
	ch.c.fail(code, closeReason(reason, ""))
}
