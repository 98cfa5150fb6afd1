// Package e2e_test runs Yard replicas (bin/yard subprocesses) on a real redis-server with stock
// y-websocket Node clients, and checks what a user of shared rooms relies on: convergence across
// replicas, nothing lost when a replica or Redis dies, awareness across replicas, read-only
// users, malformed input, and the multiplexer's sync channel next to /ws/sync.
package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// repoRoot is where node_modules and the server's sources are.
var repoRoot, _ = filepath.Abs("../../..")

var (
	buildOnce sync.Once
	yardBin   string
	buildErr  error
)

// binary builds bin/yard once per test binary.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "yard-sync-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		yardBin = filepath.Join(dir, "yard")
		cmd := exec.Command("go", "build", "-o", yardBin, "./server/cmd/yard")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./server/cmd/yard: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return yardBin
}

func TestMain(m *testing.M) {
	code := redistest.Run(m)
	if yardBin != "" {
		_ = os.RemoveAll(filepath.Dir(yardBin))
	}
	os.Exit(code)
}

const jwtSecret = "sync-e2e-secret-0123456789"

// replica is one `yard serve` process.
type replica struct {
	name string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	done chan struct{}
	logs *bytes.Buffer
	mu   *sync.Mutex
}

var listening = regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+)"`)

func startReplica(t *testing.T, name string, rs redistest.Target, extra ...string) *replica {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--dev-auth", "--log-format", "json",
		"--replica-id", name, "--room-grace", "2s", "--room-compact-every", "100",
		"--static-dir", filepath.Join(t.TempDir(), "none"), "--audit-file", filepath.Join(t.TempDir(), "audit.jsonl")}, extra...)
	if rs.URL != "" {
		args = append(args, "--redis-url", rs.URL)
	}
	if rs.Cluster {
		args = append(args, "--redis-cluster")
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "YARD_JWT_SECRET="+jwtSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan struct{}), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.logs.WriteString(line + "\n")
			r.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case urlCh <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(r.done)
	}()
	select {
	case r.url = <-urlCh:
	case <-r.done:
		t.Fatalf("replica %s exited:\n%s", name, r.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s did not listen:\n%s", name, r.log())
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("replica %s log:\n%s", name, r.log())
		}
	})
	return r
}

func (r *replica) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

func (r *replica) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// kill is a crash: SIGKILL, no shutdown of any kind.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

func (r *replica) ws() string { return yardtest.WSURL(r.url, "/ws/sync") }

func (r *replica) login(t *testing.T, name string, admin bool) string {
	t.Helper()
	return yardtest.SignIn(t, r.url, name, admin)
}

func (r *replica) get(t *testing.T, token, path string, v any) int {
	t.Helper()
	resp, b := yardtest.Request(t, http.MethodGet, r.url+path, token, nil)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// driver is the Node process hosting y-websocket clients (server/room/integration/testdata/driver.mjs).
type driver struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	seq   int
	mu    sync.Mutex
	stder *bytes.Buffer
}

func startDriver(t *testing.T) *driver {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found: install Node.js 20 (apt-get install -y nodejs) and run npm ci in %s", repoRoot)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "y-websocket")); err != nil {
		t.Fatalf("node_modules/y-websocket missing: run `npm ci` in %s", repoRoot)
	}
	cmd := exec.Command("node", "server/room/integration/testdata/driver.mjs")
	cmd.Dir = repoRoot
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	d := &driver{t: t, cmd: cmd, in: in, stder: &bytes.Buffer{}}
	cmd.Stderr = d.stder
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.out = bufio.NewScanner(out)
	d.out.Buffer(make([]byte, 16<<20), 16<<20)
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("driver stderr:\n%s", d.stder.String())
		}
	})
	return d
}

// call runs one driver command and returns its reply; an error reply fails the test.
func (d *driver) call(op string, args map[string]any) map[string]any {
	d.t.Helper()
	res := d.try(op, args)
	if ok, _ := res["ok"].(bool); !ok {
		d.t.Fatalf("driver %s %v: %v", op, args, res["error"])
	}
	return res
}

func (d *driver) try(op string, args map[string]any) map[string]any {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	cmd := map[string]any{"seq": d.seq, "op": op}
	for k, v := range args {
		cmd[k] = v
	}
	b, _ := json.Marshal(cmd)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("driver: %v", err)
	}
	lines := make(chan string, 1)
	go func() {
		if d.out.Scan() {
			lines <- d.out.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			d.t.Fatalf("driver exited: %s", d.stder.String())
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			d.t.Fatalf("driver said %q", line)
		}
		return res
	case <-time.After(90 * time.Second):
		d.t.Fatalf("driver %s: no answer", op)
	}
	return nil
}

func (d *driver) connect(id string, r *replica, room, token, version string) {
	d.t.Helper()
	d.call("connect", map[string]any{"id": id, "base": r.ws(), "room": room, "token": token, "version": version})
}

func (d *driver) json(id string) map[string]any {
	d.t.Helper()
	j, _ := d.call("json", map[string]any{"id": id})["json"].(map[string]any)
	return j
}

func canon(v any) string {
	b, _ := json.Marshal(v) // encoding/json sorts map keys
	return string(b)
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, timeout, 100*time.Millisecond, what, cond)
}

func startRedis(t *testing.T) *redistest.Server { return redistest.Start(t) }

// noRedis is a replica on its own, with the in-memory backend.
var noRedis redistest.Target

var _ = context.Background
