package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
)

const testSecret = "0123456789abcdef0123"

type apiFixture struct {
	srv      *httptest.Server
	verifier *auth.Verifier
	logs     *bytes.Buffer
}

func newAPI(t *testing.T, devAuth bool, checks []Check, static http.Handler) *apiFixture {
	t.Helper()
	v, err := auth.NewVerifier(auth.Options{Secret: []byte(testSecret), TokenTTL: time.Hour, AdminGroup: "yard-admins"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	h := New(Deps{
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: metrics.New(), Verifier: v,
		Tickets: auth.NewMemoryTickets(nil), DevAuth: devAuth, Checks: checks, Static: static,
		OpenAPI: OpenAPISpec, MetricsForAdmins: true,
		APIs: []Mounter{MountFunc(func(r chi.Router) {
			r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
			r.With(RequireAdmin).Get("/admin/ping", func(w http.ResponseWriter, _ *http.Request) {
				httpjson.WriteJSON(w, http.StatusOK, "pong")
			})
		})},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiFixture{srv: srv, verifier: v, logs: logs}
}

func do(t *testing.T, method, url, token string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestDevLoginTicketRefreshAndMe(t *testing.T) {
	f := newAPI(t, true, nil, nil)
	resp, body := do(t, "POST", f.srv.URL+"/api/auth/dev-login", "", map[string]any{"name": "carol", "groups": []string{"yard-admins"}})
	if resp.StatusCode != 200 {
		t.Fatalf("dev-login %d %v", resp.StatusCode, body)
	}
	tok := body["token"].(string)
	if u := body["user"].(map[string]any); u["name"] != "carol" || u["admin"] != true {
		t.Fatalf("user %v: want carol, admin through yard-admins", u)
	}
	if strings.Contains(f.logs.String(), tok) {
		t.Fatal("the token was logged")
	}

	resp, body = do(t, "POST", f.srv.URL+"/api/ws-ticket", tok, nil)
	if resp.StatusCode != 200 || body["ticket"] == "" || body["expiresAt"] == nil {
		t.Fatalf("ws-ticket %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", f.srv.URL+"/api/auth/refresh", tok, nil)
	if resp.StatusCode != 200 || body["token"] == tok {
		t.Fatalf("refresh %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", f.srv.URL+"/api/me", body["token"].(string), nil)
	if resp.StatusCode != 200 || body["name"] != "carol" {
		t.Fatalf("me %d %v", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", f.srv.URL+"/api/admin/ping", tok, nil); resp.StatusCode != 200 {
		t.Fatalf("admin route for an admin: %d %v", resp.StatusCode, body)
	}
}

func TestDevLoginRefusals(t *testing.T) {
	f := newAPI(t, true, nil, nil)
	for _, body := range []any{
		map[string]any{"name": ""},
		map[string]any{"name": "a b"},
		map[string]any{"name": "x", "groups": []string{"system:masters"}},
		map[string]any{"name": "x", "extra": 1},
		"not an object",
	} {
		resp, out := do(t, "POST", f.srv.URL+"/api/auth/dev-login", "", body)
		if resp.StatusCode != 400 || errCode(out) == "" {
			t.Errorf("%v: %d %v", body, resp.StatusCode, out)
		}
	}
	off := newAPI(t, false, nil, nil)
	// Without --dev-auth the route does not exist: like every unknown /api path it asks for a
	// bearer token first, so route existence is not revealed.
	if resp, out := do(t, "POST", off.srv.URL+"/api/auth/dev-login", "", map[string]any{"name": "x"}); resp.StatusCode != 401 {
		t.Fatalf("dev-login without --dev-auth: %d %v", resp.StatusCode, out)
	}
}

func TestAuthAndErrorEnvelope(t *testing.T) {
	f := newAPI(t, false, nil, nil)
	resp, out := do(t, "POST", f.srv.URL+"/api/ws-ticket", "", nil)
	if resp.StatusCode != 401 || errCode(out) != auth.CodeMissing || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %v", resp.StatusCode, out)
	}
	tok, _, _ := f.verifier.Issue(identity.User{ID: "bob", Name: "bob"})
	if resp, out := do(t, "GET", f.srv.URL+"/api/admin/ping", tok, nil); resp.StatusCode != 403 || errCode(out) != "forbidden" {
		t.Fatalf("admin route for a non-admin: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, "GET", f.srv.URL+"/api/boom", tok, nil)
	if resp.StatusCode != 500 || errCode(out) != "internal" {
		t.Fatalf("panic: %d %v", resp.StatusCode, out)
	}
	if !strings.Contains(f.logs.String(), "handler panicked") {
		t.Fatal("the panic was not logged")
	}
	if resp, out := do(t, "GET", f.srv.URL+"/api/nope", tok, nil); resp.StatusCode != 404 || errCode(out) != "not_found" {
		t.Fatalf("unknown route: %d %v", resp.StatusCode, out)
	}
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	f := newAPI(t, false, nil, nil)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/healthz", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(RequestIDHeader); got != "abc-123" {
		t.Fatalf("echoed %q", got)
	}
	req.Header.Set(RequestIDHeader, "bad id with spaces")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if got := resp.Header.Get(RequestIDHeader); got == "" || strings.Contains(got, " ") {
		t.Fatalf("made %q", got)
	}
}

func TestReadyzReportsEachDependency(t *testing.T) {
	healthy := Check{Name: "redis", Check: func(context.Context) error { return nil }}
	broken := Check{Name: "cluster:dev", Check: func(context.Context) error { return errors.New("connection refused") }}
	f := newAPI(t, false, []Check{healthy}, nil)
	if resp, out := do(t, "GET", f.srv.URL+"/api/readyz", "", nil); resp.StatusCode != 200 || out["status"] != "ok" {
		t.Fatalf("healthy: %d %v", resp.StatusCode, out)
	}
	f = newAPI(t, false, []Check{healthy, broken}, nil)
	failing := func(token string) map[string]any {
		t.Helper()
		resp, out := do(t, "GET", f.srv.URL+"/api/readyz", token, nil)
		checks, _ := out["checks"].(map[string]any)
		c, _ := checks["cluster:dev"].(map[string]any)
		if resp.StatusCode != 503 || out["status"] != "unavailable" || c["ok"] != false {
			t.Fatalf("broken: %d %v", resp.StatusCode, out)
		}
		return c
	}
	// The reason can name hosts and addresses: anyone may ask which check fails, only an admin
	// reads why.
	if c := failing(""); c["error"] != nil {
		t.Fatalf("an anonymous request was told why: %v", c)
	}
	user, _, _ := f.verifier.Issue(identity.User{ID: "bob", Name: "bob"})
	if c := failing(user); c["error"] != nil {
		t.Fatalf("a non-admin was told why: %v", c)
	}
	admin, _, _ := f.verifier.Issue(identity.User{ID: "ada", Name: "ada", Groups: []string{"yard-admins"}})
	if c, _ := failing(admin)["error"].(string); !strings.Contains(c, "refused") {
		t.Fatalf("an admin was not told why: %q", c)
	}
	// The operator reads it in the log: once when the check starts failing, not on every poll.
	if n := strings.Count(f.logs.String(), `msg="readiness check failing" check=cluster:dev err="connection refused"`); n != 1 {
		t.Fatalf("the failing check was logged %d times:\n%s", n, f.logs.String())
	}
}

// /metrics on the main listener is for admins: it tells the world which rooms, users' counts
// and clusters the server has (--metrics-listen serves it elsewhere without a token).
func TestMetricsAndOpenAPI(t *testing.T) {
	f := newAPI(t, false, nil, nil)
	do(t, "GET", f.srv.URL+"/api/healthz", "", nil)
	if resp, out := do(t, "GET", f.srv.URL+"/metrics", "", nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous /metrics: %d %v", resp.StatusCode, out)
	}
	user, _, _ := f.verifier.Issue(identity.User{ID: "bob", Name: "bob"})
	if resp, out := do(t, "GET", f.srv.URL+"/metrics", user, nil); resp.StatusCode != 403 {
		t.Fatalf("/metrics for a non-admin: %d %v", resp.StatusCode, out)
	}
	admin, _, _ := f.verifier.Issue(identity.User{ID: "ada", Name: "ada", Groups: []string{"yard-admins"}})
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`yard_http_request_duration_seconds_count{code="200",method="GET",route="/api/healthz"}`, "go_goroutines", "go_gc_heap_live_bytes", "process_resident_memory_bytes"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, err = http.Get(f.srv.URL + "/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(b, []byte("openapi: 3")) {
		t.Fatalf("openapi.yaml starts %q", b[:min(len(b), 20)])
	}
}

func TestStaticServesAppWithFallback(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html>app</html>"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "assets", "a-123.js"), []byte("js"), 0o644))
	f := newAPI(t, false, nil, Static(dir))
	get := func(p string) (int, string, http.Header) {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := get("/r/my-room"); code != 200 || body != "<html>app</html>" {
		t.Fatalf("client route: %d %q", code, body)
	}
	if code, body, h := get("/assets/a-123.js"); code != 200 || body != "js" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset: %d %q %v", code, body, h)
	}
	if code, _, _ := get("/api/unknown"); code != 401 {
		t.Fatalf("unknown API path fell back to the app: %d", code)
	}
	if _, body, _ := get("/../../etc/passwd"); strings.Contains(body, "root:") {
		t.Fatal("path traversal served a file outside the app")
	}
}
