package mux_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

func TestPingChannelEchoesKeepingTypes(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	ch := h.open(c, "ping", nil)
	ctx := ctx5(t)
	for _, m := range []mux.Message{{Type: mux.Text, Data: []byte(`{"t":1}`)}, {Type: mux.Binary, Data: []byte{0, 1, 2, 255}}, {Type: mux.Binary, Data: []byte{}}} {
		if err := ch.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := ch.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != m.Type || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("echo %v %q, want %v %q", got.Type, got.Data, m.Type, m.Data)
		}
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("control ping: %v", err)
	}
}

func TestManyChannelsOpenedAndClosed(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	ctx := ctx5(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := range 25 {
				ch, err := c.Open(ctx, "ping", nil)
				if err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf("w%d-%d", w, i)
				if err := ch.Send(ctx, mux.Message{Type: mux.Text, Data: []byte(want)}); err != nil {
					errs <- err
					return
				}
				got, err := ch.Recv(ctx)
				if err != nil || string(got.Data) != want {
					errs <- fmt.Errorf("echo %q, %w; want %q", got.Data, err, want)
					return
				}
				if err := ch.Close(); err != nil {
					errs <- err
					return
				}
				select {
				case <-ch.Done():
				case <-ctx.Done():
					errs <- fmt.Errorf("close of channel %d not answered", ch.ID())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "the ping gauge to return to 0", func() bool {
		return h.metric("yard_mux_channels", "kind", "ping") == 0
	})
	// 400 opens, each answered: every id was freed, so the limit of 64 was never reached.
	if n := testutil.ToFloat64(h.metrics.Refusals.WithLabelValues(mux.CodeChannelLimit)); n != 0 {
		t.Fatalf("%v channel_limit refusals", n)
	}
}

// A channel that floods while its reader is stalled must not delay pings on the same socket,
// and must never make the client buffer more than the credit it granted.
func TestFloodWithStalledReaderDoesNotStopPings(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	ctx := ctx5(t)
	flood := h.open(c, "flood", url.Values{"size": {"16384"}})
	p := h.open(c, "ping", nil)
	// Let the flood fill the client's window.
	waitFor(t, "the flood to fill the window", func() bool {
		_, n := flood.Buffered()
		return n >= mux.DefaultWindow
	})
	for i := range 50 {
		start := time.Now()
		want := []byte(fmt.Sprint(i))
		if err := p.Send(ctx, mux.Message{Type: mux.Binary, Data: want}); err != nil {
			t.Fatal(err)
		}
		got, err := p.Recv(ctx)
		if err != nil || !bytes.Equal(got.Data, want) {
			t.Fatalf("ping %d: %q %v", i, got.Data, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("ping %d took %s behind a stalled flood", i, d)
		}
		if _, err := c.Ping(ctx); err != nil {
			t.Fatalf("control ping %d: %v", i, err)
		}
	}
	// The server respected the credit: the client holds at most its window plus one message.
	if _, n := flood.Buffered(); n > mux.DefaultWindow+16384 {
		t.Fatalf("client buffered %d bytes of a %d-byte window", n, mux.DefaultWindow)
	}
	// Reading resumes the flood: credit flows back.
	before := h.metric("yard_mux_bytes_total", "direction", "out")
	for range 200 {
		if _, err := flood.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after := h.metric("yard_mux_bytes_total", "direction", "out"); after-before < 100*16384 {
		t.Fatalf("flood did not resume after reading: %v bytes out", after-before)
	}
}

// TrySend never waits: with the client not reading, the kind sees refusals and keeps running.
func TestTrySendRefusesWhenFull(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	floodDrops.Store(0)
	h.open(c, "flood", url.Values{"size": {"4096"}, "try": {"1"}})
	waitFor(t, "TrySend to refuse", func() bool { return floodDrops.Load() > 10 })
	if _, err := c.Ping(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusals(t *testing.T) {
	cfg := mux.DefaultConfig()
	cfg.MaxChannels = 3
	h := newHarness(t, cfg)
	c := h.dial()
	ctx := ctx5(t)
	if _, err := c.Open(ctx, "nope", nil); errCode(err) != mux.CodeUnknownKind {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := c.Open(ctx, "deny", nil); errCode(err) != mux.CodeForbidden {
		t.Fatalf("denied open: %v", err)
	}
	if _, err := c.Open(ctx, "flood", url.Values{"size": {"x"}}); errCode(err) != mux.CodeBadParams {
		t.Fatalf("bad params: %v", err)
	}
	for range 3 {
		h.open(c, "hold", nil)
	}
	if _, err := c.Open(ctx, "ping", nil); errCode(err) != mux.CodeChannelLimit {
		t.Fatalf("over the channel limit: %v", err)
	}
	for code, want := range map[string]float64{mux.CodeUnknownKind: 1, mux.CodeForbidden: 1, mux.CodeBadParams: 1, mux.CodeChannelLimit: 1} {
		if got := testutil.ToFloat64(h.metrics.Refusals.WithLabelValues(code)); got != want {
			t.Errorf("refusals{%s} = %v, want %v", code, got, want)
		}
	}
	// The connection is still fine.
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestChannelEnds(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	ctx := ctx5(t)

	t.Run("data then normal close", func(t *testing.T) {
		ch := h.open(c, "script", url.Values{"do": {"send:100"}})
		for i := range 100 {
			m, err := ch.Recv(ctx)
			if err != nil || string(m.Data) != fmt.Sprint(i) || m.Type != mux.Text {
				t.Fatalf("message %d: %q %v %v", i, m.Data, m.Type, err)
			}
		}
		if _, err := ch.Recv(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last message: %v, want EOF", err)
		}
	})
	t.Run("coded close", func(t *testing.T) {
		ch := h.open(c, "script", url.Values{"do": {"fail"}})
		if _, err := ch.Recv(ctx); errCode(err) != mux.CodeNotFound {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("panic is internal and hides the text", func(t *testing.T) {
		ch := h.open(c, "script", url.Values{"do": {"panic"}})
		_, err := ch.Recv(ctx)
		if errCode(err) != mux.CodeInternal || bytes.Contains([]byte(err.Error()), []byte("scripted")) {
			t.Fatalf("got %v", err)
		}
	})
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("kind closes the connection", func(t *testing.T) {
		c2 := h.dial()
		// The kind closes the connection at once; the open may or may not be answered first.
		_, _ = c2.Open(ctx, "script", url.Values{"do": {"closeconn"}})
		select {
		case <-c2.Done():
		case <-ctx.Done():
			t.Fatal("connection not closed")
		}
		if code, _ := c2.CloseStatus(); code != mux.CloseCode(mux.CodeSlowConsumer) {
			t.Fatalf("close code %d", code)
		}
		if errCode(c2.Err()) != mux.CodeSlowConsumer {
			t.Fatalf("conn err %v", c2.Err())
		}
	})
}

func TestGarbageGetsCodedCloseAndServerStaysHealthy(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	cases := map[string]func(*websocket.Conn) error{
		"undecodable header": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		},
		"empty frame":  func(c *websocket.Conn) error { return c.WriteMessage(websocket.BinaryMessage, nil) },
		"text message": func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, []byte("hello")) },
		"bad control json": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte{0, mux.OpOpen, '{'})
		},
		"unknown op": func(c *websocket.Conn) error { return c.WriteMessage(websocket.BinaryMessage, []byte{0, 99}) },
		"opened from client": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpOpened, mux.OpenedMsg{Channel: 1}))
		},
		"open channel 0": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Kind: "ping"}))
		},
		"negative credit": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpCredit, mux.CreditMsg{Channel: 1, Bytes: -5}))
		},
		"huge ping": func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpPing, bytes.Repeat([]byte{1}, 200)))
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			c := h.raw()
			if err := send(c); err != nil {
				t.Fatal(err)
			}
			code, reason := readClose(t, c)
			if code != mux.CloseCode(mux.CodeBadFrame) || !bytes.HasPrefix([]byte(reason), []byte(mux.CodeBadFrame+": ")) {
				t.Fatalf("close %d %q, want %d bad_frame", code, reason, mux.CloseCode(mux.CodeBadFrame))
			}
		})
	}
	t.Run("no subprotocol", func(t *testing.T) {
		c, _, err := websocket.DefaultDialer.Dial(h.url, http.Header{"Authorization": {"Bearer " + h.token("x")}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if code, reason := readClose(t, c); code != mux.CloseCode(mux.CodeBadFrame) || !strings.Contains(reason, "yard.v1") {
			t.Fatalf("close %d %q", code, reason)
		}
	})
	// The server is healthy: a well-behaved client works.
	c := h.dial()
	ch := h.open(c, "ping", nil)
	ctx := ctx5(t)
	if err := ch.Send(ctx, mux.Message{Type: mux.Text, Data: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if m, err := ch.Recv(ctx); err != nil || string(m.Data) != "ok" {
		t.Fatalf("%q %v", m.Data, err)
	}
	if got := testutil.ToFloat64(h.metrics.Refusals.WithLabelValues(mux.CodeBadFrame)); got != float64(len(cases)+1) {
		t.Fatalf("bad_frame refusals %v, want %d", got, len(cases))
	}
}

func TestUnknownChannelIsANotice(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	if err := c.WriteRaw(append(mux.AppendHeader(nil, 77, byte(mux.Text)), "hi"...)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	n := c.Notices()
	if len(n) != 1 || n[0].Channel != 77 || n[0].Code != mux.CodeUnknownChannel {
		t.Fatalf("notices %+v", n)
	}
}

func TestFrameLimits(t *testing.T) {
	cfg := mux.DefaultConfig()
	cfg.MaxFrameBytes = 4096
	h := newHarness(t, cfg)
	ctx := ctx5(t)

	c := h.dial()
	ch := h.open(c, "ping", nil)
	if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: make([]byte, 5000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Recv(ctx); errCode(err) != mux.CodeFrameTooLarge {
		t.Fatalf("oversized frame: %v, want frame_too_large", err)
	}
	// Only that channel closed.
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ch2 := h.open(c, "ping", nil)
	if err := ch2.Send(ctx, mux.Message{Type: mux.Binary, Data: make([]byte, 4000)}); err != nil {
		t.Fatal(err)
	}
	if m, err := ch2.Recv(ctx); err != nil || len(m.Data) != 4000 {
		t.Fatalf("frame under the limit: %d %v", len(m.Data), err)
	}

	// Far over the limit, the connection goes.
	raw := h.raw()
	if err := raw.WriteMessage(websocket.BinaryMessage, append(mux.AppendHeader(nil, 1, byte(mux.Binary)), make([]byte, 5*4096)...)); err != nil {
		t.Fatal(err)
	}
	if code, _ := readClose(t, raw); code != mux.CloseCode(mux.CodeFrameTooLarge) {
		t.Fatalf("close code %d", code)
	}
}

// A client that sends past the credit the server granted gets its channel closed with
// flow_control; the connection survives.
func TestClientPastCreditIsRefused(t *testing.T) {
	cfg := mux.DefaultConfig()
	cfg.Window = 1024
	h := newHarness(t, cfg)
	c := h.dial()
	ch := h.open(c, "hold", nil) // never reads: no credit comes back
	ctx := ctx5(t)
	// Credit is spent while positive: 1000 leaves 24, the next 1000 is still allowed (-976), the
	// third is past the credit.
	for range 3 {
		if err := c.WriteRaw(append(mux.AppendHeader(nil, ch.ID(), byte(mux.Binary)), make([]byte, 1000)...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ch.Recv(ctx); errCode(err) != mux.CodeFlowControl {
		t.Fatalf("got %v, want flow_control", err)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// The client library itself waits for credit instead.
	ch2 := h.open(c, "hold", nil)
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := ch2.Send(sctx, mux.Message{Type: mux.Binary, Data: make([]byte, 1024)}); err != nil {
		t.Fatal(err)
	}
	if err := ch2.Send(sctx, mux.Message{Type: mux.Binary, Data: []byte{1}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send past credit: %v, want to wait", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	cfg := mux.DefaultConfig()
	cfg.PingInterval = 50 * time.Millisecond
	cfg.IdleTimeout = 300 * time.Millisecond
	h := newHarness(t, cfg)
	// A client that answers pings stays.
	live := h.dial()
	// A peer that never answers goes.
	dead := h.raw()
	start := time.Now()
	code, _ := readClose(t, dead)
	if code != mux.CloseCode(mux.CodeIdleTimeout) {
		t.Fatalf("close code %d, want idle_timeout", code)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %s", d)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-live.Done():
		t.Fatalf("live client closed: %v", live.Err())
	default:
	}
	if _, err := live.Ping(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownClosesWith1001AndWaits(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	var conns []*muxclient.Conn
	for range 5 {
		c := h.dial()
		h.open(c, "hold", nil)
		h.open(c, "ping", nil)
		conns = append(conns, c)
	}
	waitFor(t, "hold channels to run", func() bool { return holdRunning.Load() == 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.mux.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Shutdown returned: every connection goroutine and channel runner is gone.
	if n := holdRunning.Load(); n != 0 {
		t.Fatalf("%d runners still running after Shutdown", n)
	}
	for _, c := range conns {
		<-c.Done()
		if code, _ := c.CloseStatus(); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	// New connections are turned away the same way.
	c, err := muxclient.Dial(ctx, h.url, h.token("late"))
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if code, _ := c.CloseStatus(); code != websocket.CloseGoingAway {
		t.Fatalf("late connection: close code %d", code)
	}
}

// Data sent before the open was answered is past the credit: the open is refused with
// flow_control and the id is free again.
func TestDataBeforeOpenedRefusesTheOpen(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	raw := h.raw()
	slowOpen := mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 5, Kind: "hold", Params: mux.Params{"openDelay": {"300ms"}}})
	data := append(mux.AppendHeader(nil, 5, byte(mux.Text)), "too early"...)
	for _, b := range [][]byte{slowOpen, data} {
		if err := raw.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	var closes []mux.CloseMsg
	for len(closes) == 0 {
		_, b, err := raw.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		f, err := mux.DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if f.Channel == 0 && f.Type == mux.OpClose {
			var m mux.CloseMsg
			if err := mux.DecodeControl(f.Payload, &m); err != nil {
				t.Fatal(err)
			}
			closes = append(closes, m)
		}
	}
	if closes[0].Channel != 5 || closes[0].Code != mux.CodeFlowControl {
		t.Fatalf("close %+v", closes[0])
	}
}

// rawControl reads a raw connection until a control frame with op arrives and decodes it into v.
func rawControl(t *testing.T, c *websocket.Conn, op byte, v any) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		f, err := mux.DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if f.Channel == 0 && f.Type == op {
			if err := mux.DecodeControl(f.Payload, v); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

// A client may give up on an open before it is answered: the server answers with a plain close
// and the id is free again.
func TestCloseWhileOpening(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	raw := h.raw()
	send := func(b []byte) {
		if err := raw.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	send(mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 6, Kind: "hold", Params: mux.Params{"openDelay": {"300ms"}}}))
	send(mux.ControlFrame(mux.OpClose, mux.CloseMsg{Channel: 6}))
	var cm mux.CloseMsg
	rawControl(t, raw, mux.OpClose, &cm)
	if cm.Channel != 6 || cm.Code != "" {
		t.Fatalf("close %+v, want a plain close of 6", cm)
	}
	send(mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 6, Kind: "ping"}))
	var om mux.OpenedMsg
	rawControl(t, raw, mux.OpOpened, &om)
	if om.Channel != 6 || om.Credit != int64(mux.DefaultWindow) {
		t.Fatalf("opened %+v", om)
	}
}

// Frames of every WebSocket length encoding (7-bit, 16-bit, 64-bit) and their edges survive
// the batched writer.
func TestEchoAcrossWebSocketLengthEncodings(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	c := h.dial()
	ch := h.open(c, "ping", nil)
	ctx := ctx5(t)
	// Channel 1's header is 2 bytes, so a payload of n is a WebSocket payload of n+2.
	sizes := []int{0, 1, 122, 123, 124, 125, 65532, 65533, 65534, 65535, 200000}
	for _, n := range sizes {
		data := bytes.Repeat([]byte{byte(n)}, n)
		if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range sizes {
		m, err := ch.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Data, bytes.Repeat([]byte{byte(n)}, n)) {
			t.Fatalf("echo of %d bytes came back as %d bytes", n, len(m.Data))
		}
	}
}
