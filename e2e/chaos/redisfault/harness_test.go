//go:build chaos

package redisfault

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/e2e/controlplane"
)

// yardBin is bin/yard built from this checkout once for the whole run (TestMain).
var yardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "yard-chaos-redis-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	yardBin = filepath.Join(dir, "yard")
	build := exec.Command("go", "build", "-o", yardBin, "./server/cmd/yard")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./server/cmd/yard: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := controlplane.Run(m) // stops the shared control plane if a test started it
	_ = os.RemoveAll(dir)
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// redisServer is one redis-server this package runs and hurts: stopped with SIGTERM or SIGKILL
// and started again on the same port and directory, or frozen with SIGSTOP.
type redisServer struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

const redisBinary = "redis-server"

// startRedis runs redis-server with the append-only file fsynced on every write (what Yard
// documents for rooms: docs/sync.md) on a free loopback port.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath(redisBinary); err != nil {
		t.Fatalf("redis-server not found (%v); install it with: make deps (or: apt-get install -y redis-server)", err)
	}
	r := &redisServer{dir: t.TempDir(), port: freePort(t)}
	r.launch(t)
	t.Cleanup(func() { r.stop(t, syscall.SIGKILL) })
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }
func (r *redisServer) url() string  { return "redis://" + r.addr() + "/0" }

// launch starts the server and waits until it answers PING (after loading its data).
func (r *redisServer) launch(t *testing.T) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(redisBinary,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--protected-mode", "no", "--logfile", filepath.Join(r.dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if redisPing(r.addr(), time.Second) == nil {
				r.cmd, r.done = cmd, done
				return
			}
			select {
			case <-done:
				deadline = time.Time{}
			case <-time.After(20 * time.Millisecond):
			}
		}
		_ = cmd.Process.Kill()
		<-done
		if attempt == 50 {
			b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			t.Fatalf("redis-server on %s did not start; log: %s", r.addr(), tail(string(b)))
		}
		time.Sleep(100 * time.Millisecond) // the port may still be held by the previous process
	}
}

// stop ends the server with sig (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits.
func (r *redisServer) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a frozen server must run to end
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd, r.done = nil, nil
}

// signal sends sig (SIGSTOP freezes the server: connections hang; SIGCONT resumes it).
func (r *redisServer) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// redisPing succeeds once the server answers PING (a server still loading its data answers
// LOADING).
func redisPing(addr string, timeout time.Duration) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: timeout, ReadTimeout: timeout})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// replica is one `yard serve` process.
type replica struct {
	name    string
	url     string
	logPath string
	exited  chan struct{}
}

// jwtSecret is shared by the replicas so a token from one is good on the others.
const jwtSecret = "chaos-secret-chaos-secret-chaos-0123"

// startReplica runs bin/yard with dev login against redisURL on a free port, without any cluster
// (unless args name one), and waits until /api/healthz answers. Its log goes to a file, shown
// when the test fails.
func startReplica(t *testing.T, name, redisURL string, args ...string) *replica {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	all := append([]string{"serve", "--listen", addr, "--log-format", "json", "--dev-auth",
		"--redis-url", redisURL, "--replica-id", name, "--static-dir", t.TempDir()}, args...)
	if !slices.Contains(args, "--recordings-dir") {
		all = append(all, "--recordings-dir", t.TempDir())
	}
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(yardBin, all...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "YARD_JWT_SECRET="+jwtSecret,
		// No cluster: the room scenarios need none, and a machine's kubeconfig must not count.
		"KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replica{name: name, url: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(p.logs()))
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p.alive(t)
		if resp, err := http.Get(p.url + "/api/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer /api/healthz within 60 s:\n%s", name, tail(p.logs()))
		}
	}
}

func (p *replica) logs() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// alive fails the test when the process has exited (crashed).
func (p *replica) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited:\n%s", p.name, tail(p.logs()))
	default:
	}
}

// signIn returns a dev-login token for name.
func (p *replica) signIn(t *testing.T, name string, admin bool) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"admin":%v}`, name, admin)
	resp, err := http.Post(p.url+"/api/auth/dev-login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("dev login %s on %s: %d %v", name, p.name, resp.StatusCode, err)
	}
	return tok.Token
}

// readiness is one answer of /api/readyz.
type readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
}

// ready asks /api/readyz; ok is false when the request itself failed.
func (p *replica) ready(ctx context.Context) (readiness, bool) {
	var r readiness
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/api/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, false
	}
	defer resp.Body.Close()
	return r, json.NewDecoder(resp.Body).Decode(&r) == nil
}

// checkOK reports whether the named check was ok in r (a missing check is not).
func (r readiness) checkOK(name string) bool {
	c, ok := r.Checks[name]
	return ok && c.OK
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string) string {
	if len(s) > 6000 {
		return s[len(s)-6000:]
	}
	return s
}
