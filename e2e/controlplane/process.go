package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one control-plane binary running in its own process group.
type process struct {
	name    string
	path    string
	args    []string
	env     []string
	logFile string
	pidFile string

	mu   sync.Mutex // guards cmd and done, which a restart replaces
	cmd  *exec.Cmd
	done chan struct{} // closed by the goroutine that waits for the process
}

// start launches the process, logging to logs/<name>.log and recording its pid in
// pids/<name>.pid ("<pid> <binary path>") for Stop and for the next Start's sweep.
func startProcess(dir, name, path string, args, env []string) (*process, error) {
	p := &process{
		name: name, path: path, args: args, env: env,
		logFile: filepath.Join(dir, "logs", name+".log"),
		pidFile: filepath.Join(dir, "pids", name+".pid"),
	}
	return p, p.start()
}

func (p *process) start() error {
	for _, d := range []string{filepath.Dir(p.logFile), filepath.Dir(p.pidFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("controlplane: %w", err)
		}
	}
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), p.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("controlplane: start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	rec := strconv.Itoa(cmd.Process.Pid) + " " + p.path + "\n"
	if err := os.WriteFile(p.pidFile, []byte(rec), 0o644); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	return nil
}

// pid is the running process's pid, 0 when it is stopped.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) exited() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
	}
	// The group may outlive its leader (children); kill whatever remains of it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("controlplane: %s (pid %d) did not exit", p.name, pid)
	}
	_ = os.Remove(p.pidFile)
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
	return nil
}

// tail returns the end of the process log, for error messages.
func (p *process) tail() string {
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// KillStale kills what a previous control plane in dir left running: every process recorded in
// dir/pids whose command line still names the recorded binary (a reused pid is left alone), and
// every exec sandbox process started for dir. Safe to call when nothing runs.
func KillStale(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(dir, "pids"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "pids", e.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid <= 1 {
			continue
		}
		if processPath(pid) == f[1] {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pids = append(pids, pid)
		}
		_ = os.Remove(filepath.Join(dir, "pids", e.Name()))
	}
	for _, pid := range SandboxProcesses(dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		pids = append(pids, pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for ProcessAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// processPath is argv[0] of a live process, "" when it is gone (or a zombie).
func processPath(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return ""
	}
	return string(bytes.SplitN(b, []byte{0}, 2)[0])
}

// ProcessAlive reports whether pid is a live process (a zombie is not: it has exited).
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// State is the field after the parenthesised command name; Z is a zombie (already dead).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// sandboxEnv marks exec sandbox processes with the control plane they belong to.
const sandboxEnv = "YARD_CONTROLPLANE"

// SandboxProcesses lists the live processes that `kubectl exec` started in the control plane
// at dir (they run in sessions of their own, outside the KWOK process group).
func SandboxProcesses(dir string) []int {
	want := []byte(sandboxEnv + "=" + dir)
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if bytes.Equal(kv, want) {
				if ProcessAlive(pid) {
					out = append(out, pid)
				}
				break
			}
		}
	}
	return out
}
