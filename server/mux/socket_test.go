package mux_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/mux"
)

// The multiplexed and the single-purpose endpoints run on one socket engine; these tests hold
// both to the same deadlines, keep-alive and close handshake. Each peer is a raw WebSocket that
// reads only when the test says so.

type endpoint struct {
	name string
	user string // whom the peer signs in as
	// flood connects a peer to a kind that sends 16 KiB messages for as long as it may.
	flood func(t *testing.T, h *harness) *websocket.Conn
	// idle connects a peer to a kind that sends nothing.
	idle func(t *testing.T, h *harness) *websocket.Conn
	// breakIt sends what ends the connection with closeCode (MaxFrameBytes is 4096).
	breakIt   func(c *websocket.Conn) error
	closeCode int
}

var endpoints = []endpoint{
	{
		name: "multiplexed", user: "mallory",
		flood: func(t *testing.T, h *harness) *websocket.Conn {
			c := h.raw()
			// A window far larger than the socket's buffers: only TCP stops the writer.
			open := mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 1, Kind: "flood", Params: mux.Params{"size": {"16384"}}, Credit: 1 << 40})
			if err := c.WriteMessage(websocket.BinaryMessage, open); err != nil {
				t.Fatal(err)
			}
			return c
		},
		idle: func(t *testing.T, h *harness) *websocket.Conn { return h.raw() },
		breakIt: func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, []byte{0, 99}) // no such control operation
		},
		closeCode: mux.CloseCode(mux.CodeBadFrame),
	},
	{
		name: "single-purpose", user: "alice",
		flood: func(t *testing.T, h *harness) *websocket.Conn { return h.single(t, "flood?size=16384") },
		idle:  func(t *testing.T, h *harness) *websocket.Conn { return h.single(t, "hold") },
		breakIt: func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, make([]byte, 5000))
		},
		closeCode: websocket.CloseMessageTooBig,
	},
}

func connected(h *harness, user string) bool { return len(connsOf(h, user)) > 0 }

// waitStalled waits until the server has written for a while and stopped: the peer's receive
// buffer and the server's send buffer are full, and the writer is blocked in a write.
func waitStalled(t *testing.T, h *harness) {
	t.Helper()
	last, still := -1.0, 0
	waitFor(t, "the writer to stall", func() bool {
		n := h.metric("yard_mux_bytes_total", "direction", "out")
		if n > 1<<20 && n == last {
			still++
		} else {
			still = 0
		}
		last = n
		return still >= 20 // 200 ms without a byte out
	})
}

// A peer that stops reading holds the writer for at most WriteTimeout; then the connection is
// dropped and its kind ends.
func TestStalledReaderIsDroppedAfterWriteTimeout(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			cfg := mux.DefaultConfig()
			cfg.WriteTimeout = 500 * time.Millisecond
			cfg.CloseGrace = 200 * time.Millisecond
			h := newHarness(t, cfg)
			ep.flood(t, h)
			waitStalled(t, h)
			waitFor(t, "the stalled connection to be dropped", func() bool { return !connected(h, ep.user) })
			waitFor(t, "the flood kind to end", func() bool { return h.metric("yard_mux_channels", "kind", "flood") == 0 })
		})
	}
}

// A WebSocket ping from the peer while the writer is blocked on it must not cut the write short:
// the answer's deadline is WriteTimeout, not the one second gorilla would give it.
func TestPeerPingDoesNotShortenTheWriteDeadline(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			cfg := mux.DefaultConfig()
			cfg.CloseGrace = 200 * time.Millisecond
			h := newHarness(t, cfg)
			c := ep.flood(t, h)
			waitStalled(t, h)
			if err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(5*time.Second)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2500 * time.Millisecond) // one second deadline + grace, and then some
			if !connected(h, ep.user) {
				t.Fatal("the connection was dropped while the peer was only slow")
			}
			// Reading again: the flood goes on and the ping is answered.
			pong := make(chan struct{})
			c.SetPongHandler(func(string) error {
				close(pong)
				return nil
			})
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					t.Fatalf("reading after the stall: %v", err)
				}
				select {
				case <-pong:
					return
				default:
				}
			}
		})
	}
}

// Any frame is activity: a peer that sends only WebSocket pings (and reads nothing) stays.
func TestPeerPingsKeepTheConnection(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			cfg := mux.DefaultConfig()
			cfg.PingInterval = 50 * time.Millisecond
			cfg.IdleTimeout = 400 * time.Millisecond
			h := newHarness(t, cfg)
			c := ep.idle(t, h)
			waitFor(t, "the connection to be tracked", func() bool { return connected(h, ep.user) })
			for range 30 { // 1.5 s, almost four idle timeouts
				if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !connected(h, ep.user) {
				t.Fatal("a peer that pings was closed as idle")
			}
		})
	}
}

// After a protocol error the server sends its close frame and reads on (discarding) until the
// peer's close: what the peer had in flight neither reaches a kind nor resets the connection, so
// the peer gets the close frame.
func TestCloseHandshakeAfterAProtocolError(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			cfg := mux.DefaultConfig()
			cfg.MaxFrameBytes = 4096
			cfg.CloseGrace = 10 * time.Second
			h := newHarness(t, cfg)
			c := ep.idle(t, h)
			if err := ep.breakIt(c); err != nil {
				t.Fatal(err)
			}
			// Far more than the socket buffers hold: had the server dropped TCP at once, these
			// writes would fail on the reset.
			junk := bytes.Repeat([]byte{0}, 64<<10)
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			for i := range 400 {
				if err := c.WriteMessage(websocket.BinaryMessage, junk); err != nil {
					t.Fatalf("write %d after the error: %v", i, err)
				}
			}
			code, _ := readClose(t, c)
			if code != ep.closeCode {
				t.Fatalf("close code %d, want %d", code, ep.closeCode)
			}
			// gorilla answered the close, so the server ends its side long before the grace.
			waitFor(t, "the connection to end", func() bool { return !connected(h, ep.user) })
		})
	}
}

// The server pings a quiet peer every PingInterval, each endpoint in its own way (a ping on
// channel 0, a WebSocket ping), and a peer that answers stays past the idle timeout.
func TestServerPingsAQuietPeer(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			cfg := mux.DefaultConfig()
			cfg.PingInterval = 50 * time.Millisecond
			cfg.IdleTimeout = time.Second
			h := newHarness(t, cfg)
			c := ep.idle(t, h)
			pings := 0
			c.SetPingHandler(func(d string) error {
				pings++
				return c.WriteControl(websocket.PongMessage, []byte(d), time.Now().Add(5*time.Second))
			})
			deadline := time.Now().Add(2500 * time.Millisecond) // two and a half idle timeouts
			_ = c.SetReadDeadline(deadline)
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					if time.Now().Before(deadline.Add(-100 * time.Millisecond)) {
						t.Fatalf("connection ended after %d pings: %v", pings, err)
					}
					break
				}
				f, err := mux.DecodeFrame(b)
				if err != nil || f.Channel != 0 || f.Type != mux.OpPing {
					t.Fatalf("unexpected frame % x (%v)", b, err)
				}
				pings++
				if err := c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpPong, f.Payload)); err != nil {
					t.Fatal(err)
				}
			}
			if pings < 5 {
				t.Fatalf("%d pings in 2.5 s at a 50 ms interval", pings)
			}
			if !connected(h, ep.user) {
				t.Fatal("a peer that answers pings was closed as idle")
			}
		})
	}
}
