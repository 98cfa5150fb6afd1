// Package nodetest runs the repository's Node scripts from Go tests, so the crdt packages are
// checked against the real npm yjs, y-protocols and lib0 in the root node_modules. A missing node
// binary or node_modules fails the test with the command that fixes it; it never skips.
package nodetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Packages are the npm packages the scripts import.
var Packages = []string{"yjs", "y-protocols", "lib0"}

// Root returns the repository root: the nearest directory above the working directory holding
// both go.mod and package.json.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "package.json")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no repository root (go.mod + package.json) above the working directory")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Require fails t unless node and the npm packages are installed, and returns the repository
// root.
func Require(t testing.TB) string {
	t.Helper()
	root := Root(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH: install Node.js 20 or newer (make deps), then run: cd %s && npm ci", root)
	}
	for _, p := range Packages {
		if !isFile(filepath.Join(root, "node_modules", p, "package.json")) {
			t.Fatalf("node_modules/%s is missing: run: cd %s && npm ci", p, root)
		}
	}
	return root
}

// Run runs `node script args...` from the repository root with stdin and returns its stdout; a
// failing script fails t with its stderr.
func Run(t testing.TB, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	root := Require(t)
	cmd := exec.CommandContext(t.Context(), "node", append([]string{script}, args...)...)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %v (in %s): %v\n%s", script, args, root, err, stderr.String())
	}
	return stdout.Bytes()
}

// Process is a long-running Node script answering one JSON line per JSON-line request.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr lockedBuffer
}

// lockedBuffer collects stderr while the process runs; failure messages read it concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs `node script args...` from the repository root; the test's cleanup closes its stdin
// and waits for it to exit (killing it after 10 s). Not t.Context: that is cancelled, which kills
// the process, before cleanups run.
func Start(t testing.TB, script string, args ...string) *Process {
	t.Helper()
	root := Require(t)
	p := &Process{t: t}
	p.cmd = exec.Command("node", append([]string{script}, args...)...)
	p.cmd.Dir = root
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	t.Cleanup(func() {
		_ = p.stdin.Close()
		stuck := time.AfterFunc(10*time.Second, func() { _ = p.cmd.Process.Kill() })
		defer stuck.Stop()
		if err := p.cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("node %s exited: %v\n%s", script, err, p.stderr.String())
		}
	})
	return p
}

// Call sends req as one JSON line and decodes the one-line answer into resp.
func (p *Process) Call(req, resp any) {
	p.t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("write to node: %v\n%s", err, p.stderr.String())
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		p.t.Fatalf("read from node: %v\n%s", err, p.stderr.String())
	}
	if err := json.Unmarshal(line, resp); err != nil {
		p.t.Fatalf("node answered %q: %v", line, err)
	}
}
