// Package yardtest runs the whole Yard server (the composition root, with dev login) in the test
// process on a free loopback port, and signs users in, takes WebSocket tickets and dials sockets
// against it, so integration suites exercise the real wiring instead of assembling their own.
package yardtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/app"
	"github.com/yardhq/yard/server/config"
)

// Server is a running app.App.
type Server struct {
	URL    string // http://127.0.0.1:port
	App    *app.App
	Config config.Config // as started, after the modifier ran
}

// Start runs the server with dev login on 127.0.0.1:0 until the test ends. mutate, when not
// nil, adjusts the default config first. Warnings and errors are logged to the test's output;
// a failed shutdown fails the test.
func Start(t testing.TB, mutate func(*config.Config)) *Server {
	t.Helper()
	return StartLogged(t, mutate, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// StartLogged is Start with the server logging to log (tests that check what the server logs).
func StartLogged(t testing.TB, mutate func(*config.Config), log *slog.Logger) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DevAuth = true
	cfg.Audit.File = filepath.Join(t.TempDir(), "audit.jsonl") // not the package directory's .yard
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		// Shutdown runs once: when the test already shut the server down this returns nil.
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Server{URL: "http://" + addr.String(), App: a, Config: cfg}
}

// SignIn returns the bearer token of the dev-login user name.
func (s *Server) SignIn(t testing.TB, name string, admin bool) string {
	t.Helper()
	return SignIn(t, s.URL, name, admin)
}

// Metrics returns the text of /metrics, read as an admin (the main listener serves it to
// admins only).
func (s *Server) Metrics(t testing.TB) string {
	t.Helper()
	resp, b := s.Request(t, http.MethodGet, s.SignIn(t, "metrics-reader", true), "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// Ticket returns a single-use WebSocket ticket for token.
func (s *Server) Ticket(t testing.TB, token string) string {
	t.Helper()
	var tk struct{ Ticket string }
	postJSON(t, s.URL+"/api/ws-ticket", token, `{}`, &tk)
	if tk.Ticket == "" {
		t.Fatal("ws-ticket: no ticket in the answer")
	}
	return tk.Ticket
}

// Request runs method on the server's path as token (anonymous when empty) with header, and
// returns the response with its body read.
func (s *Server) Request(t testing.TB, method, token, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return Request(t, method, s.URL+path, token, header)
}

// WSURL is the ws:// address of path on the server.
func (s *Server) WSURL(path string) string { return WSURL(s.URL, path) }

// DialWS opens a WebSocket to path?query with token as a bearer header. The response is
// returned with a failed handshake so callers can check its status.
func (s *Server) DialWS(path, token string, query url.Values) (*websocket.Conn, *http.Response, error) {
	u := s.WSURL(path)
	if query != nil {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.DefaultDialer.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + token}})
}

// WSURL turns base (http://host:port) into the ws:// address of path.
func WSURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// SignIn returns the bearer token of the dev-login user name on the server at base (which may be
// another process).
func SignIn(t testing.TB, base, name string, admin bool) string {
	t.Helper()
	var tok struct{ Token string }
	postJSON(t, base+"/api/auth/dev-login", "", fmt.Sprintf(`{"name":%q,"admin":%v}`, name, admin), &tok)
	if tok.Token == "" {
		t.Fatalf("dev login %s: no token in the answer", name)
	}
	return tok.Token
}

// Request runs method url as token (anonymous when empty) with header, and returns the response
// with its body read.
func Request(t testing.TB, method, url, token string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return send(t, method, url, token, nil, header)
}

// postJSON posts body as token and decodes a 200 answer into out; anything else fails the test.
func postJSON(t testing.TB, url, token, body string, out any) {
	t.Helper()
	resp, b := send(t, http.MethodPost, url, token, strings.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
}

// Send runs method url with body as token (anonymous when empty) with header, and returns the
// response with its body read. A "Host" entry in header addresses the request to that host name
// (as a browser does for the name in its address bar).
func Send(t testing.TB, method, url, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	return send(t, method, url, token, body, header)
}

func send(t testing.TB, method, url, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A body cut short shows in what the caller asserts about it.
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
