// Package redistest runs a real redis-server for tests: one per call to Start,
// on a free loopback port, with its data in the test's temporary directory and
// the append-only file fsynced on every write, so a Restart (even after Kill)
// keeps everything Redis acknowledged. Faults are signals: Kill (a crash),
// Terminate (a clean shutdown), Freeze and Thaw (a server that hangs). Tests
// that need Redis fail, never skip, when the binary is missing.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the redis-server the tests run; the Debian package installs it here.
const Binary = "/usr/bin/redis-server"

// CLI is the redis-cli that creates clusters; the same package installs it.
const CLI = "/usr/bin/redis-cli"

// InstallHint is the exact command that provides Binary and CLI.
const InstallHint = "make deps (or: sudo apt-get install -y redis-server)"

// Server is one running (or killed) redis-server owned by a test.
type Server struct {
	dir   string
	port  int
	extra []string // more redis-server arguments (cluster mode)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches redis-server and waits until it answers PING. The server is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("redis-server not found at %s (%v); install it with: %s", Binary, err, InstallHint)
	}
	s := &Server{dir: t.TempDir()}
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// start launches the server on a free port, trying a few in case another process takes the
// port between picking and binding it.
func (s *Server) start() error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("pick a port: %w", err)
		}
		s.port = port
		if lastErr = s.launch(); lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("start redis-server: %w", lastErr)
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is a redis:// URL for the server, usable as --redis-url.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Target is the server as a test target.
func (s *Server) Target() Target { return Target{URL: s.URL()} }

// Dir is the server's data directory (appendonly files live under it).
func (s *Server) Dir() string { return s.dir }

// Kill sends SIGKILL and waits for the process to exit: a crash, not a
// shutdown. With appendfsync always, acknowledged writes survive it.
func (s *Server) Kill() { s.end(syscall.SIGKILL) }

// Terminate sends SIGTERM and waits for the process to exit: a clean shutdown,
// which Redis ends by flushing its append-only file. A frozen server is
// continued first, or it could not act on the signal; one still running after
// 30 s is killed. Restart starts it again.
func (s *Server) Terminate() { s.end(syscall.SIGTERM) }

// end stops the process with sig and waits for it.
func (s *Server) end(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Freeze sends SIGSTOP: the server keeps its connections and port but answers
// nothing, as behind a network partition, until Thaw.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Thaw sends SIGCONT to a frozen server, which then answers what waited.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		t.Fatalf("redistest: %v to a server that is not running", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Restart kills the server (if it runs: after Kill or Terminate it does not)
// and starts it again on the same port with the same data directory, waiting
// until it has loaded its data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	var err error
	// The old listener's port is normally free at once; retry briefly in case
	// the kernel is still releasing it.
	for i := 0; i < 50; i++ {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
}

func (s *Server) launch() error {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--dir", s.dir,
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	args = append(args, s.extra...)
	cmd := exec.Command(Binary, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", Binary, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		if err := ping(ctx, s.Addr()); err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited early; log: %s", tail(filepath.Join(s.dir, "redis.log")))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server did not answer PING on %s; log: %s", s.Addr(), tail(filepath.Join(s.dir, "redis.log")))
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// ping succeeds only once the server has finished loading its data (a
// loading server answers -LOADING).
func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
