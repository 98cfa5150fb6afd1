package muxclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/yardhq/yard/server/mux"
)

var jsonUnmarshal = json.Unmarshal

// ErrChannelClosed is returned by Send after Close.
var ErrChannelClosed = errors.New("muxclient: channel closed")

// Channel is one open channel. Recv is for one goroutine; Send and Close may be called from any.
type Channel struct {
	c      *Conn
	id     uint32
	kind   string
	window int64

	openedC chan struct{} // closed on opened
	done    chan struct{} // closed when the id is free again (both closes seen, or refused)
	inSig   chan struct{}
	credSig chan struct{}

	mu        sync.Mutex
	in        []mux.Message
	outCredit int64
	consumed  int64
	isOpen    bool
	sentClose bool
	gotClose  bool
	err       error // io.EOF on a normal close by the server, a *mux.Error on a coded one
}

func newChannel(c *Conn, id uint32, kind string, window int64) *Channel {
	return &Channel{c: c, id: id, kind: kind, window: window, openedC: make(chan struct{}), done: make(chan struct{}),
		inSig: make(chan struct{}, 1), credSig: make(chan struct{}, 1)}
}

// Buffered is what was received and not yet taken by Recv.
func (ch *Channel) Buffered() (msgs, bytes int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, m := range ch.in {
		bytes += len(m.Data)
	}
	return len(ch.in), bytes
}

// ID is the channel id on the wire.
func (ch *Channel) ID() uint32 { return ch.id }

// Done is closed once the channel is closed on both sides.
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// Err is why the channel ended: io.EOF for a normal close by the server, a *mux.Error for a
// coded one (a refusal included), ErrChannelClosed if we closed it.
func (ch *Channel) Err() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.err
}

func (ch *Channel) opened(credit int64) {
	ch.mu.Lock()
	if ch.isOpen || ch.sentClose {
		ch.mu.Unlock()
		return
	}
	ch.isOpen = true
	ch.outCredit = credit
	ch.mu.Unlock()
	close(ch.openedC)
}

func (ch *Channel) credit(n int64) {
	ch.mu.Lock()
	ch.outCredit += n
	ch.mu.Unlock()
	select {
	case ch.credSig <- struct{}{}:
	default:
	}
}

func (ch *Channel) deliver(m mux.Message) {
	ch.mu.Lock()
	if ch.gotClose || ch.sentClose {
		ch.mu.Unlock()
		return
	}
	ch.in = append(ch.in, m)
	ch.mu.Unlock()
	select {
	case ch.inSig <- struct{}{}:
	default:
	}
}

// serverClose handles the server's close: a refusal, the end of the channel, or the answer to
// our close.
func (ch *Channel) serverClose(m mux.CloseMsg) {
	ch.mu.Lock()
	if ch.gotClose {
		ch.mu.Unlock()
		return
	}
	ch.gotClose = true
	if ch.err == nil {
		if m.Code != "" {
			ch.err = &mux.Error{Code: m.Code, Message: m.Message}
		} else {
			ch.err = io.EOF
		}
	}
	answer := ch.isOpen && !ch.sentClose
	ch.sentClose = true
	ch.mu.Unlock()
	if answer {
		_ = ch.c.writeFrame(mux.ControlFrame(mux.OpClose, mux.CloseMsg{Channel: ch.id}))
	}
	ch.c.forget(ch)
	ch.finish(nil)
}

func (ch *Channel) finish(connErr error) {
	ch.mu.Lock()
	if ch.err == nil {
		ch.err = connErr
		if ch.err == nil {
			ch.err = ErrConnClosed
		}
	}
	select {
	case <-ch.done:
	default:
		close(ch.done)
	}
	ch.mu.Unlock()
	select {
	case ch.inSig <- struct{}{}:
	default:
	}
	select {
	case ch.credSig <- struct{}{}:
	default:
	}
}

// Recv returns the next message; after the channel closed it returns the messages already
// received and then Err().
func (ch *Channel) Recv(ctx context.Context) (mux.Message, error) {
	for {
		ch.mu.Lock()
		if len(ch.in) > 0 {
			m := ch.in[0]
			ch.in[0] = mux.Message{}
			ch.in = ch.in[1:]
			ch.consumed += cost(len(m.Data))
			var grant int64
			if ch.consumed >= ch.window/2 && !ch.gotClose && !ch.sentClose {
				grant, ch.consumed = ch.consumed, 0
			}
			ch.mu.Unlock()
			if grant > 0 {
				_ = ch.c.writeFrame(mux.ControlFrame(mux.OpCredit, mux.CreditMsg{Channel: ch.id, Bytes: grant}))
			}
			return m, nil
		}
		ch.mu.Unlock()
		select {
		case <-ch.done:
			ch.mu.Lock()
			n := len(ch.in)
			ch.mu.Unlock()
			if n == 0 {
				return mux.Message{}, ch.Err()
			}
		case <-ch.inSig:
		case <-ctx.Done():
			return mux.Message{}, ctx.Err()
		}
	}
}

// Send sends m, waiting while the server has granted no credit.
func (ch *Channel) Send(ctx context.Context, m mux.Message) error {
	for {
		ch.mu.Lock()
		switch {
		case ch.sentClose || ch.gotClose:
			err := ch.err
			ch.mu.Unlock()
			if err == nil {
				err = ErrChannelClosed
			}
			return err
		case ch.outCredit > 0:
			ch.outCredit -= cost(len(m.Data))
			ch.mu.Unlock()
			b := mux.AppendHeader(make([]byte, 0, mux.MaxHeaderLen+len(m.Data)), ch.id, byte(m.Type))
			return ch.c.writeFrame(append(b, m.Data...))
		}
		ch.mu.Unlock()
		select {
		case <-ch.credSig:
		case <-ch.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the channel; Done is closed when the server has answered.
func (ch *Channel) Close() error {
	ch.mu.Lock()
	if ch.sentClose {
		ch.mu.Unlock()
		return nil
	}
	ch.sentClose = true
	if ch.err == nil {
		ch.err = ErrChannelClosed
	}
	ch.in = nil
	ch.mu.Unlock()
	return ch.c.writeFrame(mux.ControlFrame(mux.OpClose, mux.CloseMsg{Channel: ch.id}))
}

func cost(n int) int64 {
	if n == 0 {
		return 1
	}
	return int64(n)
}
