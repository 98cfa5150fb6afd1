//go:build chaos

package replica

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// shellEnd bounds how long a participant may be left without output or an end: the session's
// directory entry expires 30 s after its home replica's last refresh, then three heartbeats
// (15 s), with room for a loaded machine.
const shellEnd = 90 * time.Second

// sharedShell starts alice's shell on a and has bob join it from b as an observer.
func sharedShell(t *testing.T, rg *rig, a, b *replica) (owner, joiner *chaostest.Term, id, aliceTok string) {
	aliceTok = yardtest.SignIn(t, a.URL, "alice", false)
	bob := yardtest.SignIn(t, b.URL, "bob", false)
	pod := rg.RunningPod(t, "team-a", "web")
	owner = chaostest.OpenShell(t, a.Server, aliceTok, url.Values{"namespace": {"team-a"}, "pod": {pod}})
	owner.Wait(t, "the session", 30*time.Second, func() bool { return owner.Find("session") != nil })
	id = owner.Find("session")["id"].(string)
	if err := owner.Keys("echo before-$((1+1))\r"); err != nil {
		t.Fatal(err)
	}
	owner.WaitOutput(t, "before-2")
	joiner = chaostest.OpenShell(t, b.Server, bob, url.Values{"session": {id}, "role": {"observer"}})
	joiner.WaitOutput(t, "before-2")
	if err := owner.Keys("echo live-$((2+2))\r"); err != nil {
		t.Fatal(err)
	}
	joiner.WaitOutput(t, "live-4")
	return owner, joiner, id, aliceTok
}

// The home of a shared shell is SIGKILLed. The session's exec died with it, so the documented
// outcome is an end with a reason: the participant on the other replica gets an exit naming the
// stopped replica, and the owner reconnecting with the session id is refused with not_found.
// Nothing hangs.
func TestReplicaKilledMidShell(t *testing.T) {
	rp := chaostest.NewReport(t, "a shared shell whose home dies ends with a reason on every replica within 90 s; nothing hangs")
	rg := newRig(t)
	a, b := rg.Replica("a"), rg.Replica("b")
	owner, joiner, id, alice := sharedShell(t, rg, a, b)
	killed := time.Now()
	a.Proc.Kill(t)
	joiner.Wait(t, "the joiner's session to end", shellEnd, func() bool { return joiner.Ended() != "" })
	rp.Set("joiner_ended_after", "%s", chaostest.Seconds(time.Since(killed)))
	rp.Set("joiner_end", "%q", joiner.Ended())
	if e := joiner.Find("exit"); e == nil || e["code"] != float64(-1) || !strings.Contains(fmt.Sprint(e["reason"]), "replica a") {
		t.Fatalf("the joiner's session ended with %q, want an exit naming replica a", joiner.Ended())
	}
	owner.Wait(t, "the owner's socket to drop", 10*time.Second, func() bool { return owner.Ended() != "" })
	back := chaostest.OpenShell(t, b.Server, alice, url.Values{"session": {id}, "role": {"driver"}})
	back.Wait(t, "the owner's reattach to be answered", 30*time.Second, func() bool { return back.Ended() != "" })
	rp.Set("owner_reattach", "%q", back.Ended())
	if !strings.Contains(back.Ended(), "not_found") {
		t.Fatalf("the owner's reattach on b: %q, want not_found", back.Ended())
	}
}

// The home of a shared shell is SIGSTOPped for 20 s, then continued. The session lives on: the
// home does not count its own stall as its participants' silence, and the participant on the
// other replica does not give up on a home whose registry entry is renewed again in time. Both
// see what the owner types after the continue; nobody waits forever (bounded by shellEnd).
func TestReplicaStoppedMidShell(t *testing.T) {
	rp := chaostest.NewReport(t, "a shared shell whose home hangs 20 s resumes for the owner and the other replica's participant; nothing hangs")
	rg := newRig(t)
	a, b := rg.Replica("a"), rg.Replica("b")
	owner, joiner, _, _ := sharedShell(t, rg, a, b)
	a.Proc.Stop(t)
	time.Sleep(20 * time.Second)
	a.Proc.Continue(t)
	resumed := time.Now()
	_ = owner.Keys("echo after-$((3+3))\r")
	for _, c := range []struct {
		who string
		t   *chaostest.Term
	}{{"owner", owner}, {"joiner", joiner}} {
		c.t.Wait(t, c.who+" resumes or ends", shellEnd, func() bool {
			return strings.Contains(c.t.Output(), "after-6") || c.t.Ended() != ""
		})
		outcome := "resumed"
		if !strings.Contains(c.t.Output(), "after-6") {
			outcome = c.t.Ended()
		}
		rp.Set(c.who, "%q after %s", outcome, chaostest.Seconds(time.Since(resumed)))
		if outcome != "resumed" {
			t.Errorf("the %s's session did not resume after the home continued: %s", c.who, outcome)
		}
	}
}
