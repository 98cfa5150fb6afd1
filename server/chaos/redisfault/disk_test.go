//go:build chaos

package redisfault

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

// Recordings on a full disk: --recordings-dir is a 1 MiB tmpfs. Filled, /api/readyz says
// recordings are degraded and a new shell is refused with code unavailable and the reason (not
// run unrecorded); rooms on the same replica go on; the server does not crash. Freed, shells
// start again; a disk that fills during a session leaves the session running and its end in the
// audit trail says the recording is incomplete.
func TestRecordingsOnAFullDisk(t *testing.T) {
	rp := chaostest.NewReport(t, "recordings disk full: readyz degraded, new shells refused with 1013 and the reason, a running session goes on and its audit says the recording is incomplete, rooms unaffected, no crash; freed: ready and recording again")
	cp := controlplane.Shared(t)
	dir := tmpfs(t, "1m")
	rg := chaostest.NewRig(t, chaostest.Cluster{Kubeconfig: cp.Kubeconfig(), REST: cp.RESTConfig()})
	y := rg.Replica("a", "--recordings-dir", dir)
	admin := y.SignIn(t, "root", true)
	alice := y.SignIn(t, "alice", false)
	pod := url.Values{"namespace": {"demo"}, "pod": {rg.RunningPod(t, "demo", "web")}}

	waitReady := func(want bool, began time.Time) time.Duration {
		t.Helper()
		for {
			r, ok := ready(y)
			if ok && r.checkOK("recordings") == want {
				return time.Since(began)
			}
			if time.Since(began) > 30*time.Second {
				t.Fatalf("/api/readyz did not say recordings ok=%v within 30 s: %+v", want, r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady(true, time.Now())

	// A session that records normally.
	sh := chaostest.OpenShell(t, y.Server, alice, pod)
	waitSession(t, sh)
	keys(t, sh, "echo before-$((6*7))\r")
	sh.WaitOutput(t, "before-42")

	// The disk fills during the session: it goes on, unrecorded from there.
	fill := filepath.Join(dir, "filler")
	filled := time.Now()
	fillDisk(t, fill)
	detect := waitReady(false, filled)
	keys(t, sh, "i=0; while [ $i -lt 800 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo after-$((6*7))\r")
	sh.WaitOutput(t, "after-42")
	keys(t, sh, "exit 0\r")
	waitClosed(t, sh)
	var detail string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if detail = lastExecDetail(t, y, admin); strings.Contains(detail, "recording incomplete: no space left on device") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session's end in the audit trail does not say the recording is incomplete: %q", detail)
		}
	}

	// A new session on the full disk is refused, with a code and the reason.
	refused := chaostest.OpenShell(t, y.Server, alice, pod)
	code, reason := waitClosed(t, refused)
	if code != 1013 || !strings.Contains(reason, "cannot be recorded") || !strings.Contains(reason, "no space left on device") {
		t.Fatalf("a shell on a full disk ended with %d %q, want 1013 (unavailable) saying it cannot be recorded", code, reason)
	}

	// Rooms on the same replica are unaffected.
	w := startWorkload(t, []*replica{y}, []string{"disk-full-room"}, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	v := w.verify(t, rg)
	if v.accepted != v.written {
		t.Errorf("rooms refused writes while the recordings disk was full: %d of %d accepted", v.accepted, v.written)
	}
	alive(t, y)

	// Space again: ready, and shells record again.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	back := waitReady(true, time.Now())
	again := chaostest.OpenShell(t, y.Server, alice, pod)
	waitSession(t, again)
	keys(t, again, "echo again-$((6*7))\r")
	again.WaitOutput(t, "again-42")
	keys(t, again, "exit 0\r")
	waitClosed(t, again)
	rp.Set("readyz_degraded_after", "%s", ms(detect))
	rp.Set("readyz_ok_after_freed", "%s", ms(back))
	rp.Set("refusal_code", "%d", code)
	rp.Set("refusal", "%q", reason)
	rp.Set("audit", "%q", detail)
	rp.Set("room_writes", "%d", v.written)
	rp.Set("room_accepted", "%d", v.accepted)
}

// tmpfs mounts a tmpfs of size on a new directory until the test ends (needs root, as `make
// chaos` runs).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs (run the chaos tests as root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes zeros to path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// waitSession waits for the shell's session message.
func waitSession(t *testing.T, sh *chaostest.Term) {
	t.Helper()
	sh.Wait(t, "the session", 30*time.Second, func() bool { return sh.Find("session") != nil })
}

func keys(t *testing.T, sh *chaostest.Term, k string) {
	t.Helper()
	if err := sh.Keys(k); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// waitClosed waits for the server to end the socket and returns its close code and reason.
func waitClosed(t *testing.T, sh *chaostest.Term) (int, string) {
	t.Helper()
	sh.Wait(t, "the shell socket to close", 30*time.Second, func() bool { _, _, closed := sh.CloseCode(); return closed })
	code, reason, _ := sh.CloseCode()
	return code, reason
}

// lastExecDetail returns the detail of the newest finished exec entry of the audit trail.
func lastExecDetail(t *testing.T, y *replica, admin string) string {
	t.Helper()
	var list struct {
		Entries []struct {
			Detail     string     `json:"detail"`
			FinishedAt *time.Time `json:"finishedAt"`
		} `json:"entries"`
	}
	chaostest.MustCall(t, y.Server, http.MethodGet, admin, "/api/admin/audit?verb=exec", "", http.StatusOK, &list)
	var newest string
	var at time.Time
	for _, e := range list.Entries {
		if e.FinishedAt != nil && e.FinishedAt.After(at) {
			newest, at = e.Detail, *e.FinishedAt
		}
	}
	return newest
}
