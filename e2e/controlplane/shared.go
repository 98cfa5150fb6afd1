package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Shared waits for a control plane to come up.
const StartTimeout = 3 * time.Minute

var shared struct {
	once sync.Once
	mu   sync.Mutex
	cp   *ControlPlane
	err  error
}

// sharedBase holds one directory per test binary's control plane; each records its owner's
// pid so a later run can kill what a crashed test binary left behind.
func sharedBase() string { return filepath.Join(os.TempDir(), "yard-controlplane") }

// Shared returns the test binary's control plane (Demo content), starting it on first use in a
// fresh temporary directory on random ports. It fails t, naming `make cluster-bins`, when the
// binaries are missing. Use Main in TestMain so it is stopped when the tests end.
func Shared(t testing.TB) *ControlPlane {
	t.Helper()
	shared.once.Do(func() {
		base := sharedBase()
		if err := os.MkdirAll(base, 0o755); err != nil {
			shared.err = err
			return
		}
		sweepAbandoned(base)
		dir, err := os.MkdirTemp(base, "run-")
		if err != nil {
			shared.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		cp, err := Start(ctx, dir, Options{Demo: true})
		shared.mu.Lock()
		shared.cp, shared.err = cp, err
		shared.mu.Unlock()
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	})
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.err != nil {
		t.Fatalf("local control plane: %v", shared.err)
	}
	if shared.cp == nil {
		t.Fatalf("local control plane: already stopped")
	}
	return shared.cp
}

// sweepAbandoned stops the control planes of test binaries that died without Main's cleanup.
func sweepAbandoned(base string) {
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		dir := filepath.Join(base, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil && ProcessAlive(pid) {
				continue
			}
		} else if st, serr := e.Info(); serr == nil && time.Since(st.ModTime()) < time.Minute {
			continue // being set up right now
		}
		_ = KillStale(dir)
		_ = os.RemoveAll(dir)
	}
}

func stopShared() error {
	shared.mu.Lock()
	cp := shared.cp
	shared.cp = nil
	shared.mu.Unlock()
	if cp == nil {
		return nil
	}
	err := cp.Stop()
	_ = os.RemoveAll(cp.Dir())
	return err
}

// Main runs the tests, then stops the shared control plane (if one was started) and exits
// with the tests' code. An interrupt (SIGINT, SIGTERM) also stops it before exiting.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain that checks more after the control plane is
// stopped (goroutine leaks, say). A failure to stop turns a passing code into 1.
func Run(m *testing.M) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case s := <-sig:
			_ = stopShared()
			fmt.Fprintf(os.Stderr, "controlplane: stopped on %v\n", s)
			os.Exit(2)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	wg.Wait()
	signal.Stop(sig)
	if err := stopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
