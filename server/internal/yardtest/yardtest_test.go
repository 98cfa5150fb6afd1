package yardtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/crdt"
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

// A person knows when its copy is synced, hears others' edits as broadcasts, and counts what
// the server refused, with the reason.
func TestPersonSyncsHearsBroadcastsAndCountsRefusals(t *testing.T) {
	t.Setenv("KUBECONFIG", t.TempDir()+"/none")
	s := yardtest.Start(t, func(c *config.Config) { c.Kubeconfig = ""; c.Rooms.MaxMessageBytes = 1024 })
	alice := s.Join(t, s.SignIn(t, "alice", false), "lobby")
	bob := s.Join(t, s.SignIn(t, "bob", false), "lobby")
	for _, p := range []*yardtest.Person{alice, bob} {
		select {
		case <-p.Synced():
		case <-time.After(10 * time.Second):
			t.Fatal("no sync step 2 within 10 s")
		}
	}
	heard := make(chan string, 10)
	bob.OnBroadcast(func(doc *crdt.Doc) {
		if v, ok := doc.GetMap("m").Get("k"); ok {
			heard <- fmt.Sprint(v)
		}
	})
	alice.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) { _ = doc.GetMap("m").Set(tx, "k", "v") })
	select {
	case v := <-heard:
		if v != "v" {
			t.Fatalf("bob heard k=%q, want v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob heard no broadcast of alice's edit within 10 s")
	}

	alice.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) {
		_ = doc.GetMap("m").Set(tx, "big", strings.Repeat("x", 4096))
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, reason := alice.Refusals()
		if n == 1 && strings.Contains(reason, "larger than the limit") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusals %d (%q), want 1 saying the message is larger than the limit", n, reason)
		}
	}
}

// Running follows the process: true while it runs, false once it was killed. The process is a
// stand-in that prints what StartProcess waits for, then sleeps.
func TestProcessRunningUntilKilled(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "yard")
	script := "#!/bin/sh\necho '{\"msg\":\"listening\",\"url\":\"http://127.0.0.1:9\"}' >&2\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := yardtest.StartProcess(t, bin, nil)
	if p.URL != "http://127.0.0.1:9" || !p.Running() {
		t.Fatalf("URL %q, running %v; want the printed URL, running", p.URL, p.Running())
	}
	p.Kill(t)
	if p.Running() {
		t.Fatal("running after Kill")
	}
}
