package chaostest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/internal/yardtest"
)

// Term is a client of /ws/shell: JSON control messages and terminal bytes.
type Term struct{ rec *yardtest.Recorder[termMsg] }

type termMsg struct {
	text   map[string]any
	output string
}

// OpenShell opens /ws/shell on s as token with q (a new session: namespace and pod; joining
// one: session and role); the socket closes when the test ends.
func OpenShell(t testing.TB, s *yardtest.Server, token string, q url.Values) *Term {
	t.Helper()
	conn, resp, err := s.DialWS("/ws/shell", token, q)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		t.Fatalf("shell on %s: %v (HTTP %d)", s.URL, err, st)
	}
	rec := yardtest.NewRecorder(conn, func(typ int, b []byte) termMsg {
		if typ != websocket.TextMessage {
			return termMsg{output: string(b)}
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return termMsg{text: m}
	})
	rec.Start()
	t.Cleanup(rec.Close)
	return &Term{rec: rec}
}

// Keys types s into the terminal.
func (c *Term) Keys(s string) error {
	return c.rec.Conn.WriteMessage(websocket.BinaryMessage, []byte(s))
}

// Output is every terminal byte received so far.
func (c *Term) Output() string {
	got, _ := c.rec.Got()
	var b strings.Builder
	for _, m := range got {
		b.WriteString(m.output)
	}
	return b.String()
}

// Find returns the first control message of type typ.
func (c *Term) Find(typ string) map[string]any {
	got, _ := c.rec.Got()
	for _, m := range got {
		if m.text != nil && m.text["type"] == typ {
			return m.text
		}
	}
	return nil
}

// Ended reports how the session ended for this client: an exit message (with its reason), a
// close code, or "" while it is still attached.
func (c *Term) Ended() string {
	if e := c.Find("exit"); e != nil {
		return fmt.Sprintf("exit %v: %v", e["code"], e["reason"])
	}
	code, text, closed := c.CloseCode()
	switch {
	case !closed:
		return ""
	case code == 0:
		return "dropped: " + text
	}
	return fmt.Sprintf("closed %d %s", code, text)
}

// CloseCode is the code and reason the server closed the socket with; closed is false while
// the socket is open. A socket that ended without a close frame gives code 0 and the error.
func (c *Term) CloseCode() (code int, reason string, closed bool) {
	select {
	case <-c.rec.Done():
	default:
		return 0, "", false
	}
	_, err := c.rec.Got()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text, true
	}
	return 0, fmt.Sprint(err), true
}

// Wait waits until cond holds, failing the test after timeout with the output's tail.
func (c *Term) Wait(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	c.rec.Wait(t, what, timeout, func([]termMsg) bool { return cond() }, func([]termMsg) string {
		out := c.Output()
		if len(out) > 500 {
			out = out[len(out)-500:]
		}
		return fmt.Sprintf("output %q, end %q", out, c.Ended())
	})
}

// WaitOutput waits up to 30 s for want in the output.
func (c *Term) WaitOutput(t testing.TB, want string) {
	t.Helper()
	c.Wait(t, "output "+want, 30*time.Second, func() bool { return strings.Contains(c.Output(), want) })
}

// Close closes the socket and waits for its reader.
func (c *Term) Close() { c.rec.Close() }
