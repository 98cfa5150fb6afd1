package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/yardhq/yard/e2e/controlplane"
)

// TestMain lets `up` start this test binary as its detached supervisor (`<binary> run -dir D`).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		main()
		return
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func recordedPids(t *testing.T, dir string) []int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	files = append(files, pidFile(dir))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.Fields(string(b))[0])
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestUpTwiceThenDown(t *testing.T) {
	if err := controlplane.CheckBinaries(controlplane.BinDir()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() { _ = down(&bytes.Buffer{}, dir) })

	var out bytes.Buffer
	if err := up(&out, dir, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if !strings.Contains(out.String(), "kubeconfig: "+kc) {
		t.Fatalf("up did not print the kubeconfig path:\n%s", out.String())
	}
	if _, err := os.Stat(kc); err != nil {
		t.Fatal(err)
	}
	pids := recordedPids(t, dir)
	if len(pids) != 6 {
		t.Fatalf("recorded pids %v, want 5 processes and the supervisor", pids)
	}

	out.Reset()
	if err := up(&out, dir, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already running") {
		t.Fatalf("second up: %q, want it to say the cluster already runs", out.String())
	}
	if got := recordedPids(t, dir); fmt.Sprint(got) != fmt.Sprint(pids) {
		t.Fatalf("second up changed the processes: %v then %v", pids, got)
	}

	out.Reset()
	if err := down(&out, dir); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if controlplane.ProcessAlive(pid) {
			t.Errorf("pid %d still runs after down", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state %s still exists after down: %v", dir, err)
	}
}
