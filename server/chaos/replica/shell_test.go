//go:build chaos

package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yardhq/yard/server/internal/yardtest"
)

// shellEnd bounds how long a participant may be left without output or an end: the session's
// directory entry expires 30 s after its home replica's last refresh, then three heartbeats
// (15 s), with room for a loaded machine.
const shellEnd = 90 * time.Second

// term is a client of /ws/shell: JSON control messages and terminal bytes.
type term struct{ rec *yardtest.Recorder[termMsg] }

type termMsg struct {
	text   map[string]any
	output string
}

func openShell(t *testing.T, r *replica, token string, q url.Values) *term {
	t.Helper()
	conn, resp, err := r.DialWS("/ws/shell", token, q)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		t.Fatalf("shell on %s: %v (HTTP %d)", r.name, err, st)
	}
	rec := yardtest.NewRecorder(conn, func(typ int, b []byte) termMsg {
		if typ != websocket.TextMessage {
			return termMsg{output: string(b)}
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return termMsg{text: m}
	})
	rec.Start()
	t.Cleanup(rec.Close)
	return &term{rec: rec}
}

func (c *term) keys(s string) error {
	return c.rec.Conn.WriteMessage(websocket.BinaryMessage, []byte(s))
}

func (c *term) output() string {
	got, _ := c.rec.Got()
	var b strings.Builder
	for _, m := range got {
		b.WriteString(m.output)
	}
	return b.String()
}

// find returns the first control message of type typ.
func (c *term) find(typ string) map[string]any {
	got, _ := c.rec.Got()
	for _, m := range got {
		if m.text != nil && m.text["type"] == typ {
			return m.text
		}
	}
	return nil
}

// ended reports how the session ended for this client: an exit message (with its reason), a
// close code, or "" while it is still attached.
func (c *term) ended() string {
	if e := c.find("exit"); e != nil {
		return fmt.Sprintf("exit %v: %v", e["code"], e["reason"])
	}
	select {
	case <-c.rec.Done():
	default:
		return ""
	}
	_, err := c.rec.Got()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("closed %d %s", ce.Code, ce.Text)
	}
	return fmt.Sprintf("dropped: %v", err)
}

func (c *term) wait(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	c.rec.Wait(t, what, timeout, func([]termMsg) bool { return cond() }, func([]termMsg) string {
		out := c.output()
		if len(out) > 500 {
			out = out[len(out)-500:]
		}
		return fmt.Sprintf("output %q, end %q", out, c.ended())
	})
}

func waitOutput(t *testing.T, c *term, want string) {
	t.Helper()
	c.wait(t, "output "+want, 30*time.Second, func() bool { return strings.Contains(c.output(), want) })
}

func runningPod(t *testing.T, rg *rig, ns, app string) string {
	t.Helper()
	pods, err := rg.admin().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return p.Name
		}
	}
	t.Fatalf("no running pod app=%s in %s", app, ns)
	return ""
}

// sharedShell starts alice's shell on a and has bob join it from b as an observer.
func sharedShell(t *testing.T, rg *rig, a, b *replica) (owner, joiner *term, id, aliceTok string) {
	aliceTok = yardtest.SignIn(t, a.URL, "alice", false)
	bob := yardtest.SignIn(t, b.URL, "bob", false)
	pod := runningPod(t, rg, "team-a", "web")
	owner = openShell(t, a, aliceTok, url.Values{"namespace": {"team-a"}, "pod": {pod}})
	owner.wait(t, "the session", 30*time.Second, func() bool { return owner.find("session") != nil })
	id = owner.find("session")["id"].(string)
	if err := owner.keys("echo before-$((1+1))\r"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, owner, "before-2")
	joiner = openShell(t, b, bob, url.Values{"session": {id}, "role": {"observer"}})
	waitOutput(t, joiner, "before-2")
	if err := owner.keys("echo live-$((2+2))\r"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, joiner, "live-4")
	return owner, joiner, id, aliceTok
}

// The home of a shared shell is SIGKILLed. The session's exec died with it, so the documented
// outcome is an end with a reason: the participant on the other replica gets an exit naming the
// stopped replica, and the owner reconnecting with the session id is refused with not_found.
// Nothing hangs.
func TestReplicaKilledMidShell(t *testing.T) {
	rp := newReport(t, "a shared shell whose home dies ends with a reason on every replica within 90 s; nothing hangs")
	rg := newRig(t)
	a, b := rg.replica("a"), rg.replica("b")
	owner, joiner, id, alice := sharedShell(t, rg, a, b)
	killed := time.Now()
	a.proc.Kill(t)
	joiner.wait(t, "the joiner's session to end", shellEnd, func() bool { return joiner.ended() != "" })
	rp.set("joiner_ended_after", "%s", seconds(time.Since(killed)))
	rp.set("joiner_end", "%q", joiner.ended())
	if e := joiner.find("exit"); e == nil || e["code"] != float64(-1) || !strings.Contains(fmt.Sprint(e["reason"]), "replica a") {
		t.Fatalf("the joiner's session ended with %q, want an exit naming replica a", joiner.ended())
	}
	owner.wait(t, "the owner's socket to drop", 10*time.Second, func() bool { return owner.ended() != "" })
	back := openShell(t, b, alice, url.Values{"session": {id}, "role": {"driver"}})
	back.wait(t, "the owner's reattach to be answered", 30*time.Second, func() bool { return back.ended() != "" })
	rp.set("owner_reattach", "%q", back.ended())
	if !strings.Contains(back.ended(), "not_found") {
		t.Fatalf("the owner's reattach on b: %q, want not_found", back.ended())
	}
}

// The home of a shared shell is SIGSTOPped for 20 s, then continued. The session lives on: the
// home does not count its own stall as its participants' silence, and the participant on the
// other replica does not give up on a home whose registry entry is renewed again in time. Both
// see what the owner types after the continue; nobody waits forever (bounded by shellEnd).
func TestReplicaStoppedMidShell(t *testing.T) {
	rp := newReport(t, "a shared shell whose home hangs 20 s resumes for the owner and the other replica's participant; nothing hangs")
	rg := newRig(t)
	a, b := rg.replica("a"), rg.replica("b")
	owner, joiner, _, _ := sharedShell(t, rg, a, b)
	a.proc.Stop(t)
	time.Sleep(20 * time.Second)
	a.proc.Continue(t)
	resumed := time.Now()
	_ = owner.keys("echo after-$((3+3))\r")
	for _, c := range []struct {
		who string
		t   *term
	}{{"owner", owner}, {"joiner", joiner}} {
		c.t.wait(t, c.who+" resumes or ends", shellEnd, func() bool {
			return strings.Contains(c.t.output(), "after-6") || c.t.ended() != ""
		})
		outcome := "resumed"
		if !strings.Contains(c.t.output(), "after-6") {
			outcome = c.t.ended()
		}
		rp.set(c.who, "%q after %s", outcome, seconds(time.Since(resumed)))
		if outcome != "resumed" {
			t.Errorf("the %s's session did not resume after the home continued: %s", c.who, outcome)
		}
	}
}
