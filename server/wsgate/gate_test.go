package wsgate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	srv      *httptest.Server
	verifier *auth.Verifier
	tickets  *auth.MemoryTickets
	metrics  *metrics.Set
	release  chan struct{}
}

// newFixture serves a gate whose connections echo the user's name and then wait for release.
func newFixture(t *testing.T, perUser, global int) *fixture {
	t.Helper()
	v, err := auth.NewVerifier(auth.Options{Secret: []byte("0123456789abcdef0123"), TokenTTL: time.Hour, AdminGroup: "yard-admins"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{verifier: v, tickets: auth.NewMemoryTickets(nil), metrics: metrics.New(), release: make(chan struct{})}
	g := New(Options{
		Verifier: v, Tickets: f.tickets, AllowedOrigins: []string{"https://yard.example"},
		MaxConnsPerUser: perUser, MaxConns: global, Metrics: f.metrics,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	f.srv = httptest.NewServer(g.Handler("test", "yard.v1", func(ctx context.Context, c *websocket.Conn, u identity.User, _ *http.Request) {
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte(u.Name))
		select {
		case <-f.release:
		case <-ctx.Done():
		}
	}))
	t.Cleanup(func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
		f.srv.Close()
	})
	return f
}

func (f *fixture) token(t *testing.T, name string) string {
	tok, _, err := f.verifier.Issue(identity.User{ID: name, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) url(query string) string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/" + query
}

// dial returns the connection (nil when refused) and the HTTP status and error code of a refusal.
func dial(t *testing.T, url string, h http.Header, protocols ...string) (*websocket.Conn, int, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: protocols}
	c, resp, err := d.Dial(url, h)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		return c, resp.StatusCode, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return nil, resp.StatusCode, body.Error.Code
}

func readName(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCredentials(t *testing.T) {
	f := newFixture(t, 10, 100)
	tok := f.token(t, "alice")

	t.Run("bearer header", func(t *testing.T) {
		c, _, _ := dial(t, f.url(""), http.Header{"Authorization": {"Bearer " + tok}})
		if c == nil || readName(t, c) != "alice" {
			t.Fatal("bearer header not accepted")
		}
	})
	t.Run("subprotocol token, never echoed", func(t *testing.T) {
		c, _, _ := dial(t, f.url(""), nil, "yard.v1", BearerProtocolPrefix+tok)
		if c == nil {
			t.Fatal("refused")
		}
		if c.Subprotocol() != "yard.v1" {
			t.Fatalf("selected subprotocol %q", c.Subprotocol())
		}
		if readName(t, c) != "alice" {
			t.Fatal("wrong user")
		}
	})
	t.Run("ticket once", func(t *testing.T) {
		tk, _, err := f.tickets.Issue(context.Background(), identity.User{ID: "bob", Name: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		c, _, _ := dial(t, f.url("?ticket="+tk), nil)
		if c == nil || readName(t, c) != "bob" {
			t.Fatal("ticket not accepted")
		}
		c2, status, code := dial(t, f.url("?ticket="+tk), nil)
		if c2 != nil || status != http.StatusUnauthorized || code != auth.CodeTicketInvalid {
			t.Fatalf("reused ticket: status %d code %q", status, code)
		}
	})
	t.Run("none", func(t *testing.T) {
		_, status, code := dial(t, f.url(""), nil)
		if status != http.StatusUnauthorized || code != auth.CodeMissing {
			t.Fatalf("status %d code %q", status, code)
		}
	})
	t.Run("forged", func(t *testing.T) {
		_, status, code := dial(t, f.url(""), http.Header{"Authorization": {"Bearer " + tok[:len(tok)-3] + "AAA"}})
		if status != http.StatusUnauthorized || code != auth.CodeInvalid {
			t.Fatalf("status %d code %q", status, code)
		}
	})
}

func TestOrigin(t *testing.T) {
	f := newFixture(t, 10, 100)
	h := func(origin string) http.Header {
		return http.Header{"Authorization": {"Bearer " + f.token(t, "alice")}, "Origin": {origin}}
	}
	if c, status, _ := dial(t, f.url(""), h(f.srv.URL)); c == nil {
		t.Fatalf("own origin refused: %d", status)
	}
	if c, status, _ := dial(t, f.url(""), h("https://yard.example")); c == nil {
		t.Fatalf("allowlisted origin refused: %d", status)
	}
	c, status, code := dial(t, f.url(""), h("https://evil.example"))
	if c != nil || status != http.StatusForbidden || code != "forbidden_origin" {
		t.Fatalf("foreign origin: status %d code %q", status, code)
	}
	if got := testutil.ToFloat64(f.metrics.Refusals.WithLabelValues("forbidden_origin")); got != 1 {
		t.Fatalf("refusal metric %v", got)
	}
}

func TestConnectionLimits(t *testing.T) {
	f := newFixture(t, 2, 3)
	hdr := func(name string) http.Header { return http.Header{"Authorization": {"Bearer " + f.token(t, name)}} }
	var open []*websocket.Conn
	for range 2 {
		c, status, _ := dial(t, f.url(""), hdr("alice"))
		if c == nil {
			t.Fatalf("alice refused under the limit: %d", status)
		}
		readName(t, c)
		open = append(open, c)
	}
	if _, status, code := dial(t, f.url(""), hdr("alice")); status != http.StatusTooManyRequests || code != "conn_limit_user" {
		t.Fatalf("per-user limit: status %d code %q", status, code)
	}
	c, _, _ := dial(t, f.url(""), hdr("bob"))
	if c == nil {
		t.Fatal("bob refused under the global limit")
	}
	readName(t, c)
	if _, status, code := dial(t, f.url(""), hdr("carol")); status != http.StatusTooManyRequests || code != "conn_limit_global" {
		t.Fatalf("global limit: status %d code %q", status, code)
	}
	// Slots come back when connections end.
	close(f.release)
	for _, c := range append(open, c) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, status, _ := dial(t, f.url(""), hdr("carol"))
		if c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots not released: %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPlainHTTPIsRefused(t *testing.T) {
	f := newFixture(t, 1, 1)
	resp, err := http.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
