package mux_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/mux"
)

// splitFrames cuts fuzz input into frames: a length byte, then that many bytes, repeatedly.
func splitFrames(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinFrames(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = append(append(out, byte(len(f))), f...)
	}
	return out
}

// FuzzServerFrames feeds arbitrary frame sequences to a live connection. Whatever arrives, the
// server must either keep answering pings on that connection or close it with a coded close
// frame, and it must keep serving other connections.
func FuzzServerFrames(f *testing.F) {
	open := mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 1, Kind: "ping", Credit: 100})
	f.Add(joinFrames(open, append(mux.AppendHeader(nil, 1, byte(mux.Text)), "hi"...), mux.ControlFrame(mux.OpClose, mux.CloseMsg{Channel: 1})))
	f.Add(joinFrames(open, mux.ControlFrame(mux.OpCredit, mux.CreditMsg{Channel: 1, Bytes: 5}), append(mux.AppendHeader(nil, 1, byte(mux.Binary)), make([]byte, 200)...)))
	f.Add(joinFrames(open, open, mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 2, Kind: "script", Params: mux.Params{"do": {"send:5"}}})))
	f.Add(joinFrames(mux.ControlFrame(mux.OpOpen, mux.OpenMsg{Channel: 3, Kind: "hold", Params: mux.Params{"openDelay": {"10ms"}}}), mux.ControlFrame(mux.OpClose, mux.CloseMsg{Channel: 3}), []byte{3, 2, 1}))
	f.Add([]byte{2, 0, mux.OpOpen, 1, 0x80})
	f.Add(joinFrames(mux.ControlFrame(mux.OpError, mux.ErrorMsg{Code: "x"}), mux.ControlFrame(mux.OpPong, nil)))

	h := newHarness(f, mux.DefaultConfig())
	f.Fuzz(func(t *testing.T, in []byte) {
		d := websocket.Dialer{Subprotocols: []string{mux.Subprotocol}, HandshakeTimeout: 5 * time.Second}
		c, _, err := d.Dial(h.url, http.Header{"Authorization": {"Bearer " + h.token("fuzz")}})
		if err != nil {
			t.Fatalf("the server stopped accepting connections: %v", err)
		}
		defer c.Close()
		for _, fr := range splitFrames(in) {
			if err := c.WriteMessage(websocket.BinaryMessage, fr); err != nil {
				break // closed by the server: checked below
			}
		}
		probe := []byte("probe")
		_ = c.WriteMessage(websocket.BinaryMessage, mux.ControlFrame(mux.OpPing, probe))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("connection ended without a close frame: %v", err)
				}
				code := mux.CodeForClose(ce.Code)
				if code == "" || code == mux.CodeInternal || !strings.HasPrefix(ce.Text, code+": ") {
					t.Fatalf("close %d %q is not a coded close", ce.Code, ce.Text)
				}
				return
			}
			fr, err := mux.DecodeFrame(b)
			if err != nil {
				t.Fatalf("server sent an undecodable frame % x: %v", b, err)
			}
			if fr.Channel == 0 && fr.Type == mux.OpPong && string(fr.Payload) == string(probe) {
				return
			}
			if fr.Channel == 0 && fr.Type == mux.OpError {
				var m mux.ErrorMsg
				if err := mux.DecodeControl(fr.Payload, &m); err != nil || m.Code == mux.CodeInternal {
					t.Fatalf("notice %s: %v", fr.Payload, err)
				}
			}
		}
	})
}
