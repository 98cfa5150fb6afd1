// Package nodetest runs the repository's Node scripts from Go tests, so the crdt packages are
// checked against the real npm yjs, y-protocols and lib0 in the root node_modules. A missing node
// binary or node_modules fails the test with the command that fixes it; it never skips.
package nodetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
