package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
)

// post sends body as-is with the given headers and returns the status and error code.
func post(t *testing.T, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, errCode(out)
}

// signOld returns a valid token whose session began 25 hours ago (past the 24 h default).
func signOld(t *testing.T) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "iss": "yard", "auth_time": now.Add(-25 * time.Hour).Unix(),
		"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A page on another site cannot sign its visitor in: a cross-site form posts no JSON, and a
// fetch with JSON carries the other site's Origin. A client without Origin (curl) must send JSON.
func TestDevLoginRefusesCrossSiteAndForms(t *testing.T) {
	f := newAPI(t, true, nil, nil)
	url := f.srv.URL + "/api/auth/dev-login"
	own := "http://" + strings.TrimPrefix(f.srv.URL, "http://")
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name   string
		body   string
		header http.Header
		status int
		code   string
	}{
		{"curl with JSON", `{"name":"alice"}`, jsonCT, 200, ""},
		{"JSON with a charset", `{"name":"alice"}`, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, 200, ""},
		{"own origin", `{"name":"alice"}`, http.Header{"Content-Type": {"application/json"}, "Origin": {own}}, 200, ""},
		{"cross-site form", `name=alice`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://evil.example"}}, 403, errcode.Forbidden},
		{"cross-site JSON fetch", `{"name":"alice"}`, http.Header{"Content-Type": {"application/json"}, "Origin": {"https://evil.example"}}, 403, errcode.Forbidden},
		{"cross-site text/plain JSON", `{"name":"alice"}`, http.Header{"Content-Type": {"text/plain"}, "Origin": {"https://evil.example"}}, 403, errcode.Forbidden},
		{"null origin (sandboxed frame)", `{"name":"alice"}`, http.Header{"Content-Type": {"application/json"}, "Origin": {"null"}}, 403, errcode.Forbidden},
		{"form without origin", `name=alice`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 400, errcode.BadParams},
		{"text/plain without origin", `{"name":"alice"}`, http.Header{"Content-Type": {"text/plain"}}, 400, errcode.BadParams},
		{"no content type", `{"name":"alice"}`, nil, 400, errcode.BadParams},
	}
	for _, tc := range cases {
		status, code := post(t, url, tc.body, tc.header)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, code, tc.status, tc.code)
		}
	}
}

// Dev login's admin flag becomes membership of the admin group, decided when the token is
// verified; the token itself carries no admin claim a refresh could copy.
func TestDevLoginAdminIsAGroup(t *testing.T) {
	f := newAPI(t, true, nil, nil)
	resp, body := do(t, "POST", f.srv.URL+"/api/auth/dev-login", "", map[string]any{"name": "ada", "admin": true})
	if resp.StatusCode != 200 {
		t.Fatalf("dev-login %d %v", resp.StatusCode, body)
	}
	u := body["user"].(map[string]any)
	if u["admin"] != true || !strings.Contains(strings.Join(anyStrings(u["groups"]), ","), "yard-admins") {
		t.Fatalf("user %v: want admin through the yard-admins group", u)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// Refresh answers 401 with a code for a session past --session-max; it issues for the session of
// the presented token, not for whatever the request context says.
func TestRefreshRefusesAnEndedSession(t *testing.T) {
	f := newAPI(t, true, nil, nil)
	old := signOld(t)
	resp, body := do(t, "POST", f.srv.URL+"/api/auth/refresh", old, nil)
	if resp.StatusCode != 401 || errCode(body) != auth.CodeSessionOver {
		t.Fatalf("refresh of a 25-hour session: %d %v", resp.StatusCode, body)
	}
}

// Tickets are capped per user: a script minting them gets 429 limit.
func TestTicketsPerUserLimit(t *testing.T) {
	f := newAPI(t, false, nil, nil)
	tok, _, _ := f.verifier.Issue(identity.User{ID: "mallory", Name: "mallory"})
	for i := range auth.MaxTicketsPerUser {
		if resp, out := do(t, "POST", f.srv.URL+"/api/ws-ticket", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("ticket %d: %d %v", i, resp.StatusCode, out)
		}
	}
	resp, out := do(t, "POST", f.srv.URL+"/api/ws-ticket", tok, nil)
	if resp.StatusCode != http.StatusTooManyRequests || errCode(out) != errcode.Limit {
		t.Fatalf("ticket %d: %d %v", auth.MaxTicketsPerUser+1, resp.StatusCode, out)
	}
}
