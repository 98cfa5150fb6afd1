package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// The whole server, addressed as a DNS-rebinding page would address it, answers nothing but
// 421: not the app, not the API, not a WebSocket upgrade (even with a valid ticket).
func TestFrontDoorRefusesRebindingAndCrossSiteLogin(t *testing.T) {
	static := t.TempDir()
	if err := os.WriteFile(filepath.Join(static, "index.html"), []byte("<html>app</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = ""
		cfg.StaticDir = static
		cfg.Streams.RecordingsDir = "off"
		cfg.Door.MetricsListen = "127.0.0.1:0"
	})
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	rebound := http.Header{"Host": {"attacker.example:" + port}}

	for _, path := range []string{"/", "/api/healthz", "/api/me"} {
		resp, body := s.Request(t, http.MethodGet, "", path, rebound)
		if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(body), `"misdirected_host"`) {
			t.Errorf("GET %s as attacker.example: %d %s", path, resp.StatusCode, body)
		}
	}
	tok := s.SignIn(t, "alice", false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.DefaultDialer.DialContext(ctx, s.WSURL("/ws?ticket="+s.Ticket(t, tok)), rebound)
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("WebSocket as attacker.example: %v %+v", err, resp)
	}

	// The app and the API carry the security headers.
	for _, path := range []string{"/", "/r/demo", "/api/healthz"} {
		resp, _ := s.Request(t, http.MethodGet, "", path, nil)
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}

	// A cross-site form cannot sign anyone in.
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://attacker.example"}}
	if resp, body := yardtest.Send(t, http.MethodPost, s.URL+"/api/auth/dev-login", "", strings.NewReader(`name=alice`), form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form login: %d %s", resp.StatusCode, body)
	}
	if resp, body := yardtest.Send(t, http.MethodPost, s.URL+"/api/auth/dev-login", "", strings.NewReader(`{"name":"alice"}`), http.Header{"Content-Type": {"text/plain"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login without JSON: %d %s", resp.StatusCode, body)
	}

	// With --metrics-listen, /metrics is there without a token and not on the app's listener.
	if resp, _ := s.Request(t, http.MethodGet, s.SignIn(t, "ada", true), "/metrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main listener with --metrics-listen: %d", resp.StatusCode)
	}
	mresp, err := http.Get("http://" + s.App.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if mresp.StatusCode != 200 || !strings.Contains(string(b), "yard_http_request_duration_seconds") {
		t.Fatalf("metrics listener: %d %.200s", mresp.StatusCode, b)
	}
}

// The configured body bound reaches the server: a sign-in that announces a body and sends none
// is answered and closed at --read-body-timeout instead of holding the connection.
func TestSilentSignInBodyIsCutAtTheBound(t *testing.T) {
	s := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = ""
		cfg.StaticDir = t.TempDir()
		cfg.Streams.RecordingsDir = "off"
		cfg.Door.ReadBodyTimeout = 300 * time.Millisecond
	})
	addr := strings.TrimPrefix(s.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = io.WriteString(c, "POST /api/auth/dev-login HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{")
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection still open after %s: %v", time.Since(start), err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 400") || !strings.Contains(string(b), `"bad_params"`) {
		t.Fatalf("answer %q", b)
	}
}

// Runtime profiles are off by default; --pprof serves them on the metrics listener only, never
// on the app's.
func TestProfilesOnlyOnTheMetricsListenerWhenAsked(t *testing.T) {
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, on := range []bool{false, true} {
		s := yardtest.Start(t, func(cfg *config.Config) {
			cfg.Kubeconfig = ""
			cfg.StaticDir = filepath.Join(t.TempDir(), "none")
			cfg.Streams.RecordingsDir = "off"
			cfg.Door.MetricsListen = "127.0.0.1:0"
			cfg.Door.Pprof = on
		})
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := get("http://" + s.App.MetricsAddr().String() + "/debug/pprof/heap?gc=1"); got != want {
			t.Errorf("--pprof=%v: heap profile on the metrics listener: %d, want %d", on, got, want)
		}
		if resp, _ := s.Request(t, http.MethodGet, s.SignIn(t, "ada", true), "/debug/pprof/heap", nil); resp.StatusCode == http.StatusOK &&
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("--pprof=%v: a profile on the main listener (%s)", on, resp.Header.Get("Content-Type"))
		}
	}
}
