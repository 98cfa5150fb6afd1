package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// /api/readyz reports whether a new shell recording can be written, and only when sessions are
// recorded.
func TestReadyzReportsRecordings(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	checks := func(dir string) (int, map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}) {
		t.Helper()
		s := yardtest.Start(t, func(c *config.Config) {
			c.Kubeconfig = ""
			c.StaticDir = filepath.Join(t.TempDir(), "none")
			c.Streams.RecordingsDir = dir
		})
		resp, body := s.Request(t, http.MethodGet, s.SignIn(t, "root", true), "/api/readyz", nil)
		var r struct {
			Checks map[string]struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("/api/readyz: %d %s", resp.StatusCode, body)
		}
		return resp.StatusCode, r.Checks
	}

	code, cs := checks(t.TempDir())
	if code != http.StatusOK || !cs["recordings"].OK {
		t.Fatalf("writable recordings directory: %d %+v", code, cs)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, cs = checks(notDir)
	if code != http.StatusServiceUnavailable || cs["recordings"].OK || cs["recordings"].Error == "" {
		t.Fatalf("unusable recordings directory: %d %+v", code, cs)
	}
	_, cs = checks("off")
	if _, ok := cs["recordings"]; ok {
		t.Fatal("recording off, yet readyz checks recordings")
	}
}
