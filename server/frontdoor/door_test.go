package frontdoor

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHostsAllowlist(t *testing.T) {
	h := NewHosts([]string{"yard.example.com", "Proxy.Internal:8443"})
	for host, want := range map[string]bool{
		"127.0.0.1:8080":         true, // IP addresses cannot be rebound
		"10.1.2.3":               true,
		"[::1]:8080":             true,
		"localhost:8080":         true,
		"LOCALHOST":              true,
		"yard.example.com":       true, // no port in the entry: any port
		"yard.example.com:443":   true,
		"proxy.internal:8443":    true,
		"proxy.internal:9000":    false, // the entry names a port
		"evil.example":           false, // a rebinding name
		"evil.example:8080":      false,
		"localhost.evil.example": false,
		"127.0.0.1.nip.io:8080":  false,
		"":                       false,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Host %q: allowed %v, want %v", host, got, want)
		}
	}
}

// serve runs h behind the door on a real socket with the given bounds.
func serve(t *testing.T, h http.Handler, o Options, so ServerOptions, maxConns int) string {
	t.Helper()
	so.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(Wrap(h, o), so)
	ln, err := Listen("127.0.0.1:0", maxConns)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func bounds() ServerOptions {
	return ServerOptions{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, MaxHeaderBytes: 4096}
}

func ok(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = w.Write([]byte("ok"))
}

// A page on evil.example whose name now resolves to the server (DNS rebinding) sends
// Host: evil.example: it gets 421 with the error envelope, never the app.
func TestMisdirectedHostGets421(t *testing.T) {
	addr := serve(t, http.HandlerFunc(ok), Options{Hosts: NewHosts(nil)}, bounds(), 0)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/me", nil)
	req.Host = "evil.example:" + strings.Split(addr, ":")[1]
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error struct{ Code string } }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusMisdirectedRequest || body.Error.Code != "misdirected_host" {
		t.Fatalf("rebound host: %d %+v", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("the refusal lacks the security headers")
	}
	resp2, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("own address: %d", resp2.StatusCode)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	addr := serve(t, http.HandlerFunc(ok), Options{Hosts: NewHosts(nil)}, bounds(), 0)
	resp, err := http.Get("http://" + addr + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s = %q, want %q in it", h, resp.Header.Get(h), want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows scripts from elsewhere", csp)
	}
}

// A client that announces a body and sends none is cut at the body bound: the handler's read
// fails and the connection closes, instead of both waiting for ever.
func TestSilentBodyIsCut(t *testing.T) {
	handlerDone := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		handlerDone <- err
		http.Error(w, "bad body", http.StatusBadRequest)
	})
	const bound = 500 * time.Millisecond
	addr := serve(t, h, Options{Hosts: NewHosts(nil), BodyTimeout: bound}, bounds(), 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = io.WriteString(c, "POST /api/auth/dev-login HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("the handler read a body that never came")
		}
	case <-time.After(bound + 10*time.Second):
		t.Fatal("the handler still waits for the body")
	}
	// The connection is closed after the answer.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d < bound {
		t.Fatalf("cut after %s, before the bound", d)
	}
}

// Headers trickled a byte at a time (slowloris) are cut at the header bound.
func TestTrickledHeadersAreCut(t *testing.T) {
	so := bounds()
	so.ReadHeaderTimeout = 500 * time.Millisecond
	addr := serve(t, http.HandlerFunc(ok), Options{Hosts: NewHosts(nil)}, so, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
	for i := range len(req) {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			break // the server closed the connection
		}
		if time.Since(start) > 15*time.Second {
			t.Fatal("headers still being read after 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if strings.Contains(string(b), "200 OK") {
		t.Fatalf("trickled request was served after %s", time.Since(start))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cut only after %s", d)
	}
}

// The body bound ends once the body is read: a handler that then streams for longer than the
// bound is not cut (its request context stays alive).
func TestBodyBoundDoesNotCutALongResponse(t *testing.T) {
	const bound = 300 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for range 4 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(bound):
			}
			_, _ = io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
		}
	})
	addr := serve(t, h, Options{Hosts: NewHosts(nil), BodyTimeout: bound}, bounds(), 0)
	resp, err := http.Post("http://"+addr+"/download", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Count(string(b), "tick") != 4 {
		t.Fatalf("stream cut: %q", b)
	}
}

// The listener holds at most maxConns connections; the next client is served only once one
// of them goes.
func TestListenerLimit(t *testing.T) {
	addr := serve(t, http.HandlerFunc(ok), Options{Hosts: NewHosts(nil)}, bounds(), 2)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Make sure both are accepted: one request each, keep-alive keeps them.
	for _, c := range held {
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	third := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/")
		if err != nil {
			third <- -1
			return
		}
		resp.Body.Close()
		third <- resp.StatusCode
	}()
	select {
	case code := <-third:
		t.Fatalf("third connection served (%d) while two are held", code)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	select {
	case code := <-third:
		if code != 200 {
			t.Fatalf("third connection: %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("third connection not served after one was released")
	}
}

func TestOrigins(t *testing.T) {
	o := NewOrigins([]string{"https://App.Example.com"})
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/api/auth/dev-login", nil)
	r.Host = "127.0.0.1:8080"
	for origin, want := range map[string]bool{
		"":                        true, // not a browser
		"http://127.0.0.1:8080":   true,
		"https://app.example.com": true,
		"http://127.0.0.1:9999":   false,
		"https://evil.example":    false,
		"null":                    false,
	} {
		r.Header.Set("Origin", origin)
		if got := o.Allowed(r); got != want {
			t.Errorf("Origin %q: %v, want %v", origin, got, want)
		}
	}
}
