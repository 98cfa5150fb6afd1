package yardtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServerSignsInAndServesSockets(t *testing.T) {
	t.Setenv("KUBECONFIG", t.TempDir()+"/none")
	s := yardtest.Start(t, func(c *config.Config) { c.Kubeconfig = "" })

	tok := s.SignIn(t, "alice", false)
	resp, body := s.Request(t, http.MethodGet, tok, "/api/me", nil)
	var me struct{ Name string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &me) != nil || me.Name != "alice" {
		t.Fatalf("/api/me: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.Request(t, http.MethodGet, "", "/api/me", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/me without a token: %d", resp.StatusCode)
	}
	if s.Ticket(t, tok) == "" {
		t.Fatal("empty ticket")
	}

	// The room endpoint greets a client with the server's SyncStep1.
	conn, _, err := s.DialWS("/ws/sync/lobby", tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := yardtest.NewRecorder(conn, func(typ int, b []byte) string { return fmt.Sprintf("%d:%x", typ, b) })
	rec.Start()
	got := rec.Wait(t, "the greeting", 10*time.Second, func(ms []string) bool { return len(ms) > 0 }, func(ms []string) string { return fmt.Sprint(ms) })
	if want := fmt.Sprintf("%d:0000", websocket.BinaryMessage); len(got[0]) < len(want) || got[0][:len(want)] != want {
		t.Fatalf("first message %s, want a binary SyncStep1 (00 00 ...)", got[0])
	}
	rec.Close()
	if _, err := rec.Got(); err == nil {
		t.Fatal("closed recorder reports no end of reading")
	}
}
