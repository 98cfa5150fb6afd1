package yardtest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a `yard` binary running as its own process, for tests that kill a replica.
type Process struct {
	URL string // http://host:port, the address it listens on
	// MetricsURL is http://host:port/metrics with --metrics-listen (empty without).
	MetricsURL string
	cmd        *exec.Cmd
	exited     chan struct{}
}

var (
	listening        = regexp.MustCompile(`"url":"(http://[0-9.]+:\d+)"`)
	metricsListening = regexp.MustCompile(`"url":"(http://[0-9.]+:\d+/metrics)"`)
)

// BuildBinary builds ./server/cmd/yard from root (the repository's top directory, relative to
// the test's package) into a temporary directory and returns its path.
func BuildBinary(t testing.TB, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "yard")
	build := exec.Command("go", "build", "-o", bin, "./server/cmd/yard")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./server/cmd/yard: %v\n%s", err, out)
	}
	return bin
}

// StartProcess runs bin with "serve --listen 127.0.0.1:0 --log-format json" and args, with env
// added to the test's environment, and waits until it listens. It is killed when the test ends;
// its log is shown when the test failed.
func StartProcess(t testing.TB, bin string, env []string, args ...string) *Process {
	t.Helper()
	return StartCommand(t, []string{bin}, env, args...)
}

// StartCommand is StartProcess of a command line that ends with the binary and execs it in
// place, such as `ip netns exec <ns> <bin>` (a later --listen in args overrides the loopback one).
func StartCommand(t testing.TB, command []string, env []string, args ...string) *Process {
	t.Helper()
	argv := append(append(command[1:len(command):len(command)], "serve", "--listen", "127.0.0.1:0", "--log-format", "json"), args...)
	cmd := exec.Command(command[0], argv...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	urlCh := make(chan string, 1)
	var logMu sync.Mutex
	var logs strings.Builder
	var metricsURL string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			if m := metricsListening.FindStringSubmatch(sc.Text()); m != nil {
				metricsURL = m[1] // logged before the main listener's line
			}
			logMu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlCh <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			logMu.Lock()
			t.Logf("yard log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	select {
	case p.URL = <-urlCh:
		logMu.Lock()
		p.MetricsURL = metricsURL
		logMu.Unlock()
	case <-p.exited:
		t.Fatal("yard exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("yard did not listen within 60 s")
	}
	return p
}

// PID is the process's id, for reading its resource use from /proc.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process still runs: false once it exited, killed or crashed.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("yard survived SIGKILL")
	}
}

// Stop sends SIGSTOP: the replica hangs (its sockets stay open, nothing answers) until Continue.
func (p *Process) Stop(t testing.TB) { p.signal(t, syscall.SIGSTOP) }

// Continue sends SIGCONT to a stopped replica.
func (p *Process) Continue(t testing.TB) { p.signal(t, syscall.SIGCONT) }

func (p *Process) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
}
