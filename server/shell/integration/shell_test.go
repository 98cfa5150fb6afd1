package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/redistest"
)

const slow = 30 * time.Second

func shellQuery(ns, pod, container string, cmd ...string) url.Values {
	q := url.Values{"namespace": {ns}, "pod": {pod}}
	if container != "" {
		q.Set("container", container)
	}
	for _, a := range cmd {
		q.Add("command", a)
	}
	return q
}

func exitCode(t *testing.T, c *client) float64 {
	t.Helper()
	m := c.waitType(t, "exit", slow, nil)
	return m["code"].(float64)
}

func TestShellEchoExitCodeAndResize(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")

	c := s.open(t, "/ws/shell", alice, shellQuery("demo", pod.Name, ""), true)
	sess := c.waitType(t, "session", slow, nil)
	if sess["role"] != "driver" || sess["id"] == "" {
		t.Fatalf("session message %v", sess)
	}
	c.sendText(t, `{"type":"resize","cols":101,"rows":37}`)
	c.sendKeys(t, "echo hello-$((40+2))\r")
	c.waitTerminal(t, "hello-42", slow)
	c.waitFor(t, "the new size", slow, func(_ []map[string]any, term string) bool {
		if strings.Contains(term, "37 101") {
			return true
		}
		c.sendKeys(t, "stty size\r")
		time.Sleep(200 * time.Millisecond)
		return false
	})
	c.sendKeys(t, "exit 3\r")
	if code := exitCode(t, c); code != 3 {
		t.Fatalf("exit code %v, want 3", code)
	}

	// An explicit command; its exit code comes back too.
	e := s.open(t, "/ws/shell", alice, shellQuery("demo", pod.Name, "", "sh", "-c", "echo explicit; exit 7"), true)
	e.waitTerminal(t, "explicit", slow)
	if code := exitCode(t, e); code != 7 {
		t.Fatalf("exit code %v, want 7", code)
	}
}

func TestShellFallsBackToSh(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	c := s.open(t, "/ws/shell", alice, shellQuery("demo", "minimal", controlplane.NoBashContainer), true)
	c.waitType(t, "session", slow, nil)
	c.sendKeys(t, "echo shell=$0\r")
	c.waitTerminal(t, "shell=sh", slow)
	if _, term, _ := c.state(); strings.Contains(term, "not found") {
		t.Fatalf("the failed bash attempt showed: %q", term)
	}
	c.sendKeys(t, "exit\r")
	if code := exitCode(t, c); code != 0 {
		t.Fatalf("exit code %v", code)
	}
}

func TestShellOnMissingTargets(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")
	for _, q := range []url.Values{shellQuery("demo", "no-such-pod", ""), shellQuery("demo", pod.Name, "no-such-container")} {
		c := s.open(t, "/ws/shell", alice, q, true)
		if ce := c.waitClosed(t, slow); !strings.HasPrefix(ce.Text, "not_found") {
			t.Fatalf("%s: close %d %q", q.Encode(), ce.Code, ce.Text)
		}
	}
}

func TestBobCannotExecInDemo(t *testing.T) {
	s := start(t, nil)
	bob := s.login(t, "bob", false)
	pod := s.podOf(t, "demo", "web")
	c := s.open(t, "/ws/shell", bob, shellQuery("demo", pod.Name, ""), true)
	ce := c.waitClosed(t, slow)
	if !strings.HasPrefix(ce.Text, "forbidden") {
		t.Fatalf("bob's exec in demo: close %d %q", ce.Code, ce.Text)
	}
}

// Two replicas share one Redis. Alice starts a shell in team-a on replica 1; bob (who may exec
// in team-a) joins from replica 2, sees what came before and then live output, cannot type until
// alice hands him the keyboard, then can. Carol, who may not exec there, is refused even with
// the id. The recording replays the output; the audit trail lists who joined.
func TestSharedTerminalAcrossReplicas(t *testing.T) {
	rds := redistest.Start(t)
	withRedis := func(c *config.Config) {
		c.RedisURL = rds.URL()
		c.JWTSecret = "replicas-share-this-secret" // a token from one replica works on the other
	}
	s1, s2 := start(t, withRedis), start(t, withRedis)
	alice := s1.login(t, "alice", false)
	bob := s2.login(t, "bob", false)
	carol := s2.login(t, "carol", false)
	pod := s1.podOf(t, "team-a", "web")

	owner := s1.open(t, "/ws/shell", alice, shellQuery("team-a", pod.Name, ""), true)
	id := owner.waitType(t, "session", slow, nil)["id"].(string)
	owner.sendKeys(t, "echo before-$((1+1))\r")
	owner.waitTerminal(t, "before-2", slow)

	joiner := s2.open(t, "/ws/shell", bob, url.Values{"session": {id}, "role": {"observer"}}, true)
	if m := joiner.waitType(t, "session", slow, nil); m["role"] != "observer" {
		t.Fatalf("bob joined as %v", m["role"])
	}
	joiner.waitTerminal(t, "before-2", slow) // the scrollback
	owner.waitType(t, "participants", slow, func(m map[string]any) bool { return strings.Contains(fmt.Sprint(m["list"]), "bob") })
	owner.sendKeys(t, "echo live-$((2+2))\r")
	joiner.waitTerminal(t, "live-4", slow)

	joiner.sendKeys(t, "echo bob-$((3+3))\r")
	joiner.waitType(t, "error", slow, func(m map[string]any) bool { return m["code"] == "forbidden" })
	owner.sendKeys(t, "echo marker-$((5+5))\r")
	owner.waitTerminal(t, "marker-10", slow)
	if _, term, _ := owner.state(); strings.Contains(term, "bob-6") {
		t.Fatal("an observer's keys reached the shell")
	}

	joiner.sendText(t, `{"type":"request-driver"}`)
	owner.waitType(t, "driver-request", slow, func(m map[string]any) bool { return m["user"] == "bob" })
	owner.sendText(t, `{"type":"grant-driver","user":"bob"}`)
	joiner.waitType(t, "session", slow, func(m map[string]any) bool { return m["role"] == "driver" })
	joiner.sendKeys(t, "echo bob-$((3+4))\r")
	owner.waitTerminal(t, "bob-7", slow)
	joiner.waitTerminal(t, "bob-7", slow)

	// Knowing the id is not enough.
	cc, resp, err := s2.dial("/ws/shell", carol, url.Values{"session": {id}})
	if err == nil {
		cc.startReading()
		t.Cleanup(cc.close)
		ce := cc.waitClosed(t, slow)
		if !strings.HasPrefix(ce.Text, "forbidden") {
			t.Fatalf("carol joining: close %d %q", ce.Code, ce.Text)
		}
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol joining: %v", err)
	}

	// The admin API sees the session from either replica.
	root := s2.login(t, "root", true)
	resp2, body := s2.do(t, http.MethodGet, root, "/api/admin/sessions/")
	if resp2.StatusCode != http.StatusOK || !strings.Contains(string(body), id) {
		t.Fatalf("admin sessions: %d %s", resp2.StatusCode, body)
	}
	if r, _ := s2.do(t, http.MethodGet, bob, "/api/admin/sessions/"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("non-admin listing sessions: %d", r.StatusCode)
	}

	joiner.sendText(t, `{"type":"grant-driver","user":"bob"}`) // not the owner: refused
	joiner.waitType(t, "error", slow, func(m map[string]any) bool { return strings.Contains(fmt.Sprint(m["message"]), "owner") })
	owner.sendText(t, `{"type":"grant-driver","user":"alice"}`)
	owner.waitType(t, "participants", slow, func(m map[string]any) bool { return m["driver"] == "alice" })
	time.Sleep(200 * time.Millisecond)
	owner.sendKeys(t, "exit 5\r")
	for _, c := range []*client{owner, joiner} {
		if code := exitCode(t, c); code != 5 {
			t.Fatalf("exit code %v", code)
		}
	}

	// The recording (on the home replica) replays the output, and holds no input events.
	var cast []byte
	deadline := time.Now().Add(slow)
	for {
		r, b := s1.do(t, http.MethodGet, root, "/api/admin/sessions/"+id+"/recording")
		if r.StatusCode == http.StatusOK {
			cast = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording: %d %s", r.StatusCode, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recLines := strings.Split(strings.TrimSpace(string(cast)), "\n")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(recLines[0]), &hdr); err != nil || hdr["version"] != float64(2) {
		t.Fatalf("asciicast header %q", recLines[0])
	}
	var replay strings.Builder
	for _, l := range recLines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("asciicast event %q", l)
		}
		if ev[1] != "o" && ev[1] != "r" {
			t.Fatalf("recorded event type %v", ev[1])
		}
		if ev[1] == "o" {
			replay.WriteString(ev[2].(string))
		}
	}
	for _, want := range []string{"before-2", "live-4", "bob-7"} {
		if !strings.Contains(replay.String(), want) {
			t.Fatalf("the recording lacks %q: %q", want, replay.String())
		}
	}
	// The audit trail (one stream for both replicas) has the exec attempt, complete with its
	// exit, and who joined and who handed over the keyboard; carol's join is there, refused.
	deadline = time.Now().Add(slow)
	for {
		_, body = s2.do(t, http.MethodGet, root, "/api/admin/audit?verb=exec")
		var l struct{ Entries []audit.Entry }
		_ = json.Unmarshal(body, &l)
		var got []string
		for _, e := range l.Entries {
			got = append(got, e.User+" "+e.Result+" "+strings.TrimPrefix(e.Detail, "session "+id+": "))
		}
		missing := ""
		for _, want := range []string{"alice ok start a shell; exit 5", "bob ok join as observer", "alice ok grant the keyboard to bob",
			"carol refused join session " + id + ": "} {
			found := false
			for _, g := range got {
				found = found || strings.HasPrefix(g, want)
			}
			if !found {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trail lacks %q: %q", missing, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSessionLimitAndAdminEnd(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Streams.MaxShellsPerUser = 1 })
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")
	first := s.open(t, "/ws/shell", alice, shellQuery("demo", pod.Name, ""), true)
	id := first.waitType(t, "session", slow, nil)["id"].(string)
	second := s.open(t, "/ws/shell", alice, shellQuery("demo", pod.Name, ""), true)
	if ce := second.waitClosed(t, slow); !strings.HasPrefix(ce.Text, "limit") {
		t.Fatalf("second shell over the limit: close %d %q", ce.Code, ce.Text)
	}
	root := s.login(t, "root", true)
	if r, b := s.do(t, http.MethodDelete, root, "/api/admin/sessions/"+id); r.StatusCode != http.StatusNoContent {
		t.Fatalf("admin end: %d %s", r.StatusCode, b)
	}
	m := first.waitType(t, "exit", slow, nil)
	if !strings.Contains(fmt.Sprint(m["reason"]), "root") {
		t.Fatalf("exit %v", m)
	}
	if r, _ := s.do(t, http.MethodDelete, root, "/api/admin/sessions/"+id); r.StatusCode != http.StatusNotFound {
		t.Fatalf("ending an ended session: %d", r.StatusCode)
	}
}

// A lost connection leaves the session running; reconnecting with its id reattaches and shows
// what was on the screen.
func TestReconnectReattaches(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice", false)
	pod := s.podOf(t, "demo", "web")
	c := s.open(t, "/ws/shell", alice, shellQuery("demo", pod.Name, ""), true)
	id := c.waitType(t, "session", slow, nil)["id"].(string)
	c.sendKeys(t, "X=kept-$((6*7)); echo $X\r")
	c.waitTerminal(t, "kept-42", slow)
	_ = c.conn.Close() // no close frame: the connection is just gone

	r := s.open(t, "/ws/shell", alice, url.Values{"session": {id}, "role": {"driver"}}, true)
	if m := r.waitType(t, "session", slow, nil); m["role"] != "driver" {
		t.Fatalf("reattached as %v", m["role"])
	}
	r.waitTerminal(t, "kept-42", slow)
	r.sendKeys(t, "echo again-$X\r")
	r.waitTerminal(t, "again-kept-42", slow)
	r.sendKeys(t, "exit\r")
	exitCode(t, r)
}
