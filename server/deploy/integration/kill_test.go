package integration

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

var listening = regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+)"`)

const jwtSecret = "deploy-integration-secret"

// A replica SIGKILLed mid-apply holds the room's lock until its lease expires; then the other
// replica's sweep takes the deploy over and ends it as failed with the reason.
func TestKilledReplicaDeployIsEndedByTheOther(t *testing.T) {
	cp := controlplane.Shared(t)
	rd := redistest.Start(t)
	bin := filepath.Join(t.TempDir(), "yard")
	build := exec.Command("go", "build", "-o", bin, "./server/cmd/yard")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./server/cmd/yard: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--dev-auth", "--log-format", "json",
		"--kubeconfig", cp.Kubeconfig(), "--redis-url", rd.URL(), "--write-enabled", "--replica-id", "doomed",
		"--static-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "YARD_JWT_SECRET="+jwtSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	urlCh := make(chan string, 1)
	var logMu sync.Mutex
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urlCh <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			logMu.Lock()
			t.Logf("yard log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	var doomed *yardtest.Server
	select {
	case u := <-urlCh:
		doomed = &yardtest.Server{URL: u}
	case <-exited:
		t.Fatal("yard exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("yard did not listen within 60 s")
	}
	other := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
		cfg.WriteEnabled = true
		cfg.RedisURL = rd.URL()
		cfg.JWTSecret = jwtSecret
		cfg.Rooms.Replica = "survivor"
	})
	alice := yardtest.SignIn(t, doomed.URL, "alice", false)
	room, _ := webApp(t, other, alice, "kill")
	seen(t, doomed, alice, room, "team-a")
	_, d := plan(t, doomed, alice, room, `{}`)
	if st := call(t, doomed, http.MethodPost, alice, "/api/rooms/"+room+"/deploys/"+d.ID+"/apply", "", nil); st != http.StatusAccepted {
		t.Fatalf("apply: %d", st)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	var got deploy.Deploy
	testwait.Until(t, 2*time.Minute, 500*time.Millisecond, "the surviving replica ends the deploy", func() bool {
		got = docDeploy(t, other, alice, room, d.ID)
		return got.State != deploy.StateApplying
	})
	if got.State != deploy.StateFailed || !strings.Contains(got.Message, "replica applying it stopped") {
		t.Fatalf("after the kill: %+v", got)
	}
}
