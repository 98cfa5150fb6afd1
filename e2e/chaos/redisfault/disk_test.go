//go:build chaos

package redisfault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/e2e/controlplane"
)

// Recordings on a full disk: --recordings-dir is a 1 MiB tmpfs. Filled, /api/readyz says
// recordings are degraded and a new shell is refused with code unavailable and the reason (not
// run unrecorded); rooms on the same replica go on; the server does not crash. Freed, shells
// start again; a disk that fills during a session leaves the session running and its end in the
// audit trail says the recording is incomplete.
func TestRecordingsOnAFullDisk(t *testing.T) {
	cp := controlplane.Shared(t)
	dir := tmpfs(t, "1m")
	rd := startRedis(t)
	y := startReplica(t, "a", rd.url(), "--kubeconfig", cp.Kubeconfig(), "--recordings-dir", dir)
	// Only this replica's own dependencies: no cluster from KUBECONFIG.
	admin := y.signIn(t, "root", true)
	alice := y.signIn(t, "alice", false)
	pod := runningPod(t, cp, "demo", "web")

	waitReady := func(want bool, began time.Time) time.Duration {
		t.Helper()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r, ok := y.ready(ctx)
			cancel()
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
	sh := openShell(t, y, alice, pod.Name)
	sh.waitSession(t)
	sh.keys(t, "echo before-$((6*7))\r")
	sh.waitOutput(t, "before-42")

	// The disk fills during the session: it goes on, unrecorded from there.
	fill := filepath.Join(dir, "filler")
	filled := time.Now()
	fillDisk(t, fill)
	detect := waitReady(false, filled)
	sh.keys(t, "i=0; while [ $i -lt 800 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo after-$((6*7))\r")
	sh.waitOutput(t, "after-42")
	sh.keys(t, "exit 0\r")
	sh.waitClosed(t)
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
	refused := openShell(t, y, alice, pod.Name)
	code, reason := refused.waitClosed(t)
	if code != 1013 || !strings.Contains(reason, "cannot be recorded") || !strings.Contains(reason, "no space left on device") {
		t.Fatalf("a shell on a full disk ended with %d %q, want 1013 (unavailable) saying it cannot be recorded", code, reason)
	}

	// Rooms on the same replica are unaffected.
	w := startWorkload(t, []*replica{y}, []string{"disk-full-room"}, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	v := w.verify(t, rd.url())
	if v.accepted != v.written {
		t.Errorf("rooms refused writes while the recordings disk was full: %d of %d accepted", v.accepted, v.written)
	}
	y.alive(t)

	// Space again: ready, and shells record again.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	back := waitReady(true, time.Now())
	again := openShell(t, y, alice, pod.Name)
	again.waitSession(t)
	again.keys(t, "echo again-$((6*7))\r")
	again.waitOutput(t, "again-42")
	again.keys(t, "exit 0\r")
	again.waitClosed(t)
	t.Logf("readyz said recordings degraded %s after the disk filled (polled), ok %s after space was freed; refusal: %d %q; audit: %q; rooms: %d writes, all accepted",
		detect.Round(time.Millisecond), back.Round(time.Millisecond), code, reason, detail, v.written)
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

func runningPod(t *testing.T, cp *controlplane.ControlPlane, ns, app string) *corev1.Pod {
	t.Helper()
	kc, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		pods, err := kc.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			continue
		}
		for i := range pods.Items {
			if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].DeletionTimestamp == nil {
				return &pods.Items[i]
			}
		}
	}
	t.Fatalf("no running pod app=%s in %s", app, ns)
	return nil
}

// shell is a client of /ws/shell: text messages (JSON) and terminal output.
type shell struct {
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	out  strings.Builder
	err  error
	done chan struct{}
}

func openShell(t *testing.T, y *replica, token, pod string) *shell {
	t.Helper()
	q := url.Values{"namespace": {"demo"}, "pod": {pod}}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(y.url, "http")+"/ws/shell?"+q.Encode(),
		http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial /ws/shell: %v (HTTP %d)", err, status)
	}
	s := &shell{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			typ, b, err := conn.ReadMessage()
			s.mu.Lock()
			if err != nil {
				s.err = err
				s.mu.Unlock()
				return
			}
			if typ == websocket.TextMessage {
				var m map[string]any
				if json.Unmarshal(b, &m) == nil {
					s.msgs = append(s.msgs, m)
				}
			} else {
				s.out.Write(b)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	return s
}

func (s *shell) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.mu.Lock()
		ok, err := cond(), s.err
		s.mu.Unlock()
		if ok {
			return
		}
		if err != nil || time.Now().After(deadline) {
			s.mu.Lock()
			out := s.out.String()
			s.mu.Unlock()
			t.Fatalf("waiting for %s: %v; messages %v; output %q", what, err, s.msgs, tail(out))
		}
	}
}

func (s *shell) waitSession(t *testing.T) {
	t.Helper()
	s.wait(t, "the session", func() bool {
		for _, m := range s.msgs {
			if m["type"] == "session" {
				return true
			}
		}
		return false
	})
}

func (s *shell) waitOutput(t *testing.T, want string) {
	t.Helper()
	s.wait(t, "output "+want, func() bool { return strings.Contains(s.out.String(), want) })
}

func (s *shell) keys(t *testing.T, k string) {
	t.Helper()
	if err := s.conn.WriteMessage(websocket.BinaryMessage, []byte(k)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// waitClosed waits for the server to end the socket and returns its close code and reason.
func (s *shell) waitClosed(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the shell socket did not close within 30 s")
	}
	var ce *websocket.CloseError
	if errors.As(s.err, &ce) {
		return ce.Code, ce.Text
	}
	return 0, fmt.Sprint(s.err)
}

// lastExecDetail returns the detail of the newest finished exec entry of the audit trail.
func lastExecDetail(t *testing.T, y *replica, admin string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, y.url+"/api/admin/audit?verb=exec", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var list struct {
		Entries []struct {
			Detail     string     `json:"detail"`
			FinishedAt *time.Time `json:"finishedAt"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	var newest string
	var at time.Time
	for _, e := range list.Entries {
		if e.FinishedAt != nil && e.FinishedAt.After(at) {
			newest, at = e.Detail, *e.FinishedAt
		}
	}
	return newest
}
