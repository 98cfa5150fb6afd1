package httpjson

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestErrorEnvelope(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, http.StatusForbidden, "forbidden", "admins only")
	if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
	if got, want := strings.TrimSpace(w.Body.String()), `{"error":{"code":"forbidden","message":"admins only"}}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct{ Name string }
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"Name":"alice"}`, true},
		{`{"Name":"alice","extra":1}`, false}, // unknown fields are refused
		{`{"Name":`, false},
		{`{"Name":"` + strings.Repeat("a", 100) + `"}`, false}, // over the limit
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		if got := DecodeJSON(w, r, 64, &v); got != tc.ok {
			t.Fatalf("%.30s: ok %v, want %v", tc.body, got, tc.ok)
		}
		if !tc.ok && (w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"code":"bad_params"`)) {
			t.Fatalf("%.30s: refused with %d %s", tc.body, w.Code, w.Body.String())
		}
	}
}
