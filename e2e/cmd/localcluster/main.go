// Command localcluster runs the local control plane in the background for `make cluster`:
//
//	localcluster up   [-dir .yard/cluster]   start it detached (or say it already runs)
//	localcluster down [-dir .yard/cluster]   stop every process it started and remove its state
//	localcluster run  [-dir .yard/cluster]   run it in the foreground (what `up` detaches)
//
// `run` is the supervisor: it owns the control plane's processes and its log generator, and
// stops them on SIGTERM or SIGINT. Its pid is in <dir>/localcluster.pid.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".yard/cluster", "state directory (kubeconfig, certificates, logs)")
	timeout := fs.Duration("timeout", 4*time.Minute, "how long `up` waits for the control plane")
	_ = fs.Parse(os.Args[2:])
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "up":
		err = up(os.Stdout, abs, *timeout)
	case "down":
		err = down(os.Stdout, abs)
	case "run":
		err = run(abs)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: localcluster up|down|run [-dir DIR]")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "localcluster:", err)
	os.Exit(1)
}

func pidFile(dir string) string   { return filepath.Join(dir, "localcluster.pid") }
func readyFile(dir string) string { return filepath.Join(dir, "ready") }
func logFile(dir string) string   { return filepath.Join(dir, "localcluster.log") }

// supervisor returns the pid of a live supervisor for dir, or 0.
func supervisor(dir string) int {
	b, err := os.ReadFile(pidFile(dir))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "localcluster") {
		return 0
	}
	return pid
}

func up(w io.Writer, dir string, timeout time.Duration) error {
	if pid := supervisor(dir); pid != 0 {
		if _, err := os.Stat(readyFile(dir)); err == nil {
			fmt.Fprintf(w, "local cluster already running (pid %d)\nkubeconfig: %s\n", pid, filepath.Join(dir, "kubeconfig"))
			return nil
		}
		return fmt.Errorf("a local cluster is already starting (pid %d); see %s", pid, logFile(dir))
	}
	if err := controlplane.CheckBinaries(controlplane.BinDir()); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(readyFile(dir))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logFile(dir), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, "run", "-dir", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A session of its own: the supervisor outlives this command and the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	for {
		if _, err := os.Stat(readyFile(dir)); err == nil {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logFile(dir))
			return fmt.Errorf("the control plane did not start (%w):\n%s", err, b)
		case <-deadline:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			return fmt.Errorf("the control plane was not ready after %s; see %s", timeout, logFile(dir))
		case <-time.After(200 * time.Millisecond):
		}
	}
	kc := filepath.Join(dir, "kubeconfig")
	fmt.Fprintf(w, "local cluster ready in %.1fs (supervisor pid %d, log %s)\n", time.Since(start).Seconds(), cmd.Process.Pid, logFile(dir))
	fmt.Fprintf(w, "kubeconfig: %s\n  export KUBECONFIG=%s\n  kubectl get pods -A\n", kc, kc)
	fmt.Fprintln(w, "stop it with: make cluster-down")
	return nil
}

func run(dir string) error {
	if pid := supervisor(dir); pid != 0 && pid != os.Getpid() {
		return fmt.Errorf("a local cluster already runs in %s (pid %d)", dir, pid)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(pidFile(dir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile(dir))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	started := time.Now()
	cp, err := controlplane.Start(startCtx, dir, controlplane.Options{Demo: true})
	if err != nil {
		return err
	}
	fmt.Printf("control plane ready in %.1fs: pids %v, ports %v\n", time.Since(started).Seconds(), cp.Pids(), cp.Ports())
	if err := os.WriteFile(readyFile(dir), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		_ = cp.Stop()
		return err
	}
	<-ctx.Done()
	fmt.Println("stopping")
	_ = os.Remove(readyFile(dir))
	return cp.Stop()
}

func down(w io.Writer, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(w, "no local cluster state in", dir)
		return nil
	}
	if pid := supervisor(dir); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(45 * time.Second)
		for controlplane.ProcessAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if controlplane.ProcessAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Whatever the supervisor did not stop (it may have been killed) is killed by pid here.
	if err := controlplane.KillStale(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	fmt.Fprintln(w, "local cluster stopped; removed", dir)
	return nil
}
