package mux_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/mux"
)

func (h *harness) single(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	u := strings.TrimSuffix(h.url, "/ws") + "/ws/single/" + path
	c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + h.token("alice")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestServeSingle(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	t.Run("echo keeps message types", func(t *testing.T) {
		c := h.single(t, "script?do=echo")
		for _, m := range []struct {
			typ  int
			data string
		}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, "\x00\x01"}} {
			if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			typ, b, err := c.ReadMessage()
			if err != nil || typ != m.typ || string(b) != m.data {
				t.Fatalf("got %d %q %v, want %d %q", typ, b, err, m.typ, m.data)
			}
		}
	})
	t.Run("a burst arrives whole, in order, one message per frame", func(t *testing.T) {
		// The writer puts many queued messages in one write; each must still be its own frame
		// of its own type, with every header length form (7-bit, 16-bit, 64-bit).
		c := h.single(t, "script?do=echo")
		sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000, 3, 16 << 10, 0, 2}
		type msg struct {
			typ  int
			data []byte
		}
		var want []msg
		for round := range 20 {
			for i, n := range sizes {
				typ := websocket.BinaryMessage
				if (round+i)%3 == 0 {
					typ = websocket.TextMessage
				}
				b := []byte(strings.Repeat(string(rune('a'+(round+i)%26)), n))
				want = append(want, msg{typ, b})
			}
		}
		errc := make(chan error, 1)
		go func() {
			for _, m := range want {
				if err := c.WriteMessage(m.typ, m.data); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		for i, w := range want {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			typ, b, err := c.ReadMessage()
			if err != nil || typ != w.typ || string(b) != string(w.data) {
				t.Fatalf("message %d: type %d len %d err %v, want type %d len %d", i, typ, len(b), err, w.typ, len(w.data))
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a ping is answered in order with messages", func(t *testing.T) {
		c := h.single(t, "script?do=echo")
		pong := make(chan string, 1)
		c.SetPongHandler(func(d string) error { pong <- d; return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.BinaryMessage, []byte("after")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := c.ReadMessage(); err != nil || string(b) != "after" {
			t.Fatalf("got %q %v", b, err)
		}
		select {
		case d := <-pong:
			if d != "p1" {
				t.Fatalf("pong %q", d)
			}
		default:
			t.Fatal("no pong before the echo")
		}
	})
	t.Run("messages then a normal close", func(t *testing.T) {
		c := h.single(t, "script?do=send:3")
		for i := range 3 {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			typ, b, err := c.ReadMessage()
			if err != nil || typ != websocket.TextMessage || string(b) != string(rune('0'+i)) {
				t.Fatalf("message %d: %d %q %v", i, typ, b, err)
			}
		}
		if code, _ := readClose(t, c); code != websocket.CloseNormalClosure {
			t.Fatalf("close code %d", code)
		}
	})
	t.Run("refused open is a coded close", func(t *testing.T) {
		c := h.single(t, "deny")
		code, reason := readClose(t, c)
		if code != mux.CloseCode(mux.CodeForbidden) || reason != "forbidden: not for you" {
			t.Fatalf("close %d %q", code, reason)
		}
	})
	t.Run("coded end", func(t *testing.T) {
		c := h.single(t, "script?do=fail")
		if code, reason := readClose(t, c); code != mux.CloseCode(mux.CodeNotFound) || !strings.HasPrefix(reason, "not_found: ") {
			t.Fatalf("close %d %q", code, reason)
		}
	})
	t.Run("shutdown is 1001", func(t *testing.T) {
		c := h.single(t, "hold")
		waitFor(t, "the hold kind to run", func() bool { return holdRunning.Load() == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.mux.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if code, _ := readClose(t, c); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d", code)
		}
		if n := holdRunning.Load(); n != 0 {
			t.Fatalf("%d runners left", n)
		}
	})
}
