// Package muxclient is the Go client of Yard's multiplexer (docs/protocol.md): it dials /ws,
// opens channels of any kind, honours the byte credit the server grants (Send waits for it),
// grants credit as the caller receives (a channel the caller does not read stops its sender, and
// only it), and answers the server's pings. Tests, benchmarks and tools use it.
package muxclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/mux"
)

// Options configure Dial.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>"; empty: the URL carries a ?ticket=.
	Token string
	// Header is added to the upgrade request (for example Origin).
	Header http.Header
	// Window is the receive window granted per channel. Default mux.DefaultWindow.
	Window int64
	// WriteTimeout bounds one socket write. Default 10s.
	WriteTimeout time.Duration
	// ReadBufferSize and WriteBufferSize size the socket buffers. Default 4096 each.
	ReadBufferSize, WriteBufferSize int
}

// Conn is a client connection. Its methods are safe for concurrent use.
type Conn struct {
	ws   *websocket.Conn
	opts Options

	wmu sync.Mutex // one writer at a time on the socket

	mu      sync.Mutex
	chans   map[uint32]*Channel
	nextID  uint32
	pings   map[string]chan struct{}
	pingSeq uint64
	err     error // why the connection ended
	notices []mux.ErrorMsg

	done      chan struct{} // closed when the reader has returned
	closeOnce sync.Once
	closeCode int
	closeText string
}

// CloseStatus is the WebSocket close code and reason the server sent (0 if none yet).
func (c *Conn) CloseStatus() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText
}

// Dial connects to a /ws URL ("ws://host/ws", "http://host/ws" also accepted) with a bearer token.
func Dial(ctx context.Context, u, token string) (*Conn, error) {
	return DialOptions(ctx, u, Options{Token: token})
}

// HTTPError is a refused upgrade: the HTTP status and the error envelope's code.
type HTTPError struct {
	Status int
	Code   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("upgrade refused: HTTP %d %s", e.Status, e.Code)
}

// DialOptions connects with o.
func DialOptions(ctx context.Context, u string, o Options) (*Conn, error) {
	if o.Window <= 0 {
		o.Window = mux.DefaultWindow
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 4096
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = 4096
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	switch pu.Scheme {
	case "http":
		pu.Scheme = "ws"
	case "https":
		pu.Scheme = "wss"
	}
	h := http.Header{}
	for k, v := range o.Header {
		h[k] = v
	}
	if o.Token != "" {
		h.Set("Authorization", "Bearer "+o.Token)
	}
	d := websocket.Dialer{
		Subprotocols:    []string{mux.Subprotocol},
		ReadBufferSize:  o.ReadBufferSize,
		WriteBufferSize: o.WriteBufferSize,
		Proxy:           http.ProxyFromEnvironment,
	}
	ws, resp, err := d.DialContext(ctx, pu.String(), h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			var env struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = decodeJSON(resp.Body, &env)
			return nil, &HTTPError{Status: resp.StatusCode, Code: env.Error.Code}
		}
		return nil, err
	}
	if ws.Subprotocol() != mux.Subprotocol {
		_ = ws.Close()
		return nil, fmt.Errorf("muxclient: server selected subprotocol %q, want %q", ws.Subprotocol(), mux.Subprotocol)
	}
	c := &Conn{ws: ws, opts: o, chans: map[uint32]*Channel{}, pings: map[string]chan struct{}{}, done: make(chan struct{})}
	ws.SetCloseHandler(func(code int, text string) error {
		c.mu.Lock()
		c.closeCode, c.closeText = code, text
		c.mu.Unlock()
		c.wmu.Lock()
		defer c.wmu.Unlock()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		return nil
	})
	go c.readLoop()
	return c, nil
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended: a *mux.Error when the server closed it with a coded reason.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Notices returns the error notices (OpError) received so far.
func (c *Conn) Notices() []mux.ErrorMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]mux.ErrorMsg(nil), c.notices...)
}

// Close closes the connection normally (1000) and waits for its reader to stop.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
		_ = c.ws.Close()
	})
	<-c.done
	return nil
}

// Ping sends a control ping and waits for the pong, returning the round trip.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	c.pingSeq++
	key := fmt.Sprint(c.pingSeq)
	got := make(chan struct{})
	c.pings[key] = got
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pings, key)
		c.mu.Unlock()
	}()
	start := time.Now()
	if err := c.writeFrame(mux.ControlFrame(mux.OpPing, []byte(key))); err != nil {
		return 0, err
	}
	select {
	case <-got:
		return time.Since(start), nil
	case <-c.done:
		return 0, c.connErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// WriteRaw writes bytes as one binary WebSocket message, bypassing every check (tests use it to
// play a misbehaving client).
func (c *Conn) WriteRaw(b []byte) error { return c.writeFrame(b) }

func (c *Conn) writeFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *Conn) connErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrConnClosed
}

// ErrConnClosed is returned once the connection has ended without a coded reason.
var ErrConnClosed = errors.New("muxclient: connection closed")

func (c *Conn) readLoop() {
	defer close(c.done)
	err := c.read()
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		if code := mux.CodeForClose(c.closeCode); code != "" && c.closeCode != websocket.CloseNormalClosure {
			c.err = &mux.Error{Code: code, Message: strings.TrimPrefix(c.closeText, code+": ")}
		}
	}
	chans := c.chans
	c.chans = map[uint32]*Channel{}
	connErr := c.err
	c.mu.Unlock()
	for _, ch := range chans {
		ch.finish(connErr)
	}
	_ = c.ws.Close()
}

func (c *Conn) read() error {
	for {
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Errorf("muxclient: closed by the server: %d %s: %w", ce.Code, ce.Text, ErrConnClosed)
			}
			return err
		}
		if typ != websocket.BinaryMessage {
			return fmt.Errorf("muxclient: text WebSocket message from the server")
		}
		f, err := mux.DecodeFrame(b)
		if err != nil {
			return err
		}
		if f.Channel != mux.ControlChannel {
			if ch := c.channel(f.Channel); ch != nil {
				ch.deliver(mux.Message{Type: mux.MessageType(f.Type), Data: f.Payload})
			}
			continue
		}
		if err := c.control(f); err != nil {
			return err
		}
	}
}

// channel is the open channel id, or nil.
func (c *Conn) channel(id uint32) *Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chans[id]
}

func (c *Conn) control(f mux.Frame) error {
	switch f.Type {
	case mux.OpPing:
		return c.writeFrame(mux.ControlFrame(mux.OpPong, f.Payload))
	case mux.OpPong:
		c.mu.Lock()
		if got, ok := c.pings[string(f.Payload)]; ok {
			close(got)
			delete(c.pings, string(f.Payload))
		}
		c.mu.Unlock()
	case mux.OpOpened:
		var m mux.OpenedMsg
		if err := mux.DecodeControl(f.Payload, &m); err != nil {
			return err
		}
		if ch := c.channel(m.Channel); ch != nil {
			ch.opened(m.Credit)
		}
	case mux.OpCredit:
		var m mux.CreditMsg
		if err := mux.DecodeControl(f.Payload, &m); err != nil {
			return err
		}
		if ch := c.channel(m.Channel); ch != nil {
			ch.credit(m.Bytes)
		}
	case mux.OpClose:
		var m mux.CloseMsg
		if err := mux.DecodeControl(f.Payload, &m); err != nil {
			return err
		}
		if ch := c.channel(m.Channel); ch != nil {
			ch.serverClose(m)
		}
	case mux.OpError:
		var m mux.ErrorMsg
		if err := mux.DecodeControl(f.Payload, &m); err != nil {
			return err
		}
		c.mu.Lock()
		c.notices = append(c.notices, m)
		c.mu.Unlock()
	default:
		return fmt.Errorf("muxclient: unexpected control operation %d", f.Type)
	}
	return nil
}

// Open opens a channel of kind with params and waits until the server accepts or refuses it
// (a refusal is a *mux.Error).
func (c *Conn) Open(ctx context.Context, kind string, params url.Values) (*Channel, error) {
	return c.OpenWith(ctx, kind, params, OpenOptions{})
}

// OpenOptions tune one channel.
type OpenOptions struct {
	// Window is this channel's receive window (default: the connection's). A bulk channel with
	// a small window leaves less of its data queued in the socket ahead of other channels'.
	Window int64
}

// OpenWith is Open with per-channel options.
func (c *Conn) OpenWith(ctx context.Context, kind string, params url.Values, o OpenOptions) (*Channel, error) {
	window := o.Window
	if window <= 0 {
		window = c.opts.Window
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, c.connErr()
	default:
	}
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, busy := c.chans[c.nextID]; !busy {
			break
		}
	}
	ch := newChannel(c, c.nextID, kind, window)
	c.chans[ch.id] = ch
	c.mu.Unlock()
	msg := mux.OpenMsg{Channel: ch.id, Kind: kind, Params: mux.Params(params), Credit: window}
	if err := c.writeFrame(mux.ControlFrame(mux.OpOpen, msg)); err != nil {
		c.forget(ch)
		return nil, err
	}
	select {
	case <-ch.openedC:
		return ch, nil
	case <-ch.done:
		select {
		case <-ch.openedC:
			// Opened, and already ended (a short channel): its messages are still to be read.
			return ch, nil
		default:
		}
		return nil, ch.Err()
	case <-ctx.Done():
		_ = ch.Close()
		return nil, ctx.Err()
	}
}

func (c *Conn) forget(ch *Channel) {
	c.mu.Lock()
	if c.chans[ch.id] == ch {
		delete(c.chans, ch.id)
	}
	c.mu.Unlock()
}

func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return err
	}
	return jsonUnmarshal(b, v)
}
