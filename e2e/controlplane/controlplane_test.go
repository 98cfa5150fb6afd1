package controlplane_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"go.uber.org/goleak"

	"github.com/yardhq/yard/e2e/controlplane"
)

func TestMain(m *testing.M) {
	code := controlplane.Run(m)
	if code == 0 {
		// Once the control planes are stopped nothing of theirs may still run in this process.
		if err := goleak.Find(goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1")); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// podOf returns a Running pod of a demo Deployment.
func podOf(t *testing.T, c kubernetes.Interface, ns, app string) corev1.Pod {
	t.Helper()
	pods, err := c.CoreV1().Pods(ns).List(ctxFor(t, 30*time.Second), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			return p
		}
	}
	t.Fatalf("no Running pod with app=%s in %s", app, ns)
	return corev1.Pod{}
}

type execResult struct {
	stdout, stderr string
	err            error
}

// execIn runs cmd in a pod through the apiserver like kubectl does (WebSocket, falling back to
// SPDY).
func execIn(ctx context.Context, cfg *rest.Config, ns, pod, container string, cmd []string, tty bool, stdin io.Reader, sizes remotecommand.TerminalSizeQueue, stdout io.Writer) execResult {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return execResult{err: err}
	}
	req := c.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: stdin != nil,
			Stdout: true, Stderr: !tty, TTY: tty}, scheme.ParameterCodec)
	ex, err := newExecutor(cfg, req.URL())
	if err != nil {
		return execResult{err: err}
	}
	var out, errb bytes.Buffer
	var w io.Writer = &out
	if stdout != nil {
		w = io.MultiWriter(&out, stdout)
	}
	opts := remotecommand.StreamOptions{Stdin: stdin, Stdout: w, Tty: tty, TerminalSizeQueue: sizes}
	if !tty {
		opts.Stderr = &errb
	}
	err = ex.StreamWithContext(ctx, opts)
	return execResult{stdout: out.String(), stderr: errb.String(), err: err}
}

func newExecutor(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

func TestMissingBinariesNameTheBuildCommand(t *testing.T) {
	t.Setenv("YARD_CLUSTER_BIN", t.TempDir())
	_, err := controlplane.Start(context.Background(), t.TempDir(), controlplane.Options{})
	if !errors.Is(err, controlplane.ErrBinariesMissing) {
		t.Fatalf("Start without binaries: %v, want ErrBinariesMissing", err)
	}
	if !strings.Contains(err.Error(), "make cluster-bins") {
		t.Fatalf("error %q does not name make cluster-bins", err)
	}
}

func TestDeploymentPodsRun(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	ctx := ctxFor(t, 60*time.Second)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "deploy-"}}
	ns, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	replicas := int32(3)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: "nginx"}}},
			},
		},
	}
	// The namespace's default ServiceAccount comes a moment after the namespace.
	for {
		_, err = c.AppsV1().Deployments(ns.Name).Create(ctx, dep, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		pods, err := c.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
				running++
			}
		}
		if running == 3 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of 3 pods Running after 60s", running)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestDemoContent(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	ctx := ctxFor(t, 30*time.Second)
	for _, ns := range controlplane.DemoNamespaces {
		for _, d := range controlplane.DemoDeployments {
			// The Deployment's status trails its pods by a moment.
			deadline := time.Now().Add(20 * time.Second)
			for {
				dep, err := c.AppsV1().Deployments(ns).Get(ctx, d, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("%s/%s: %v", ns, d, err)
				}
				if dep.Status.ReadyReplicas == *dep.Spec.Replicas {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s/%s: %d of %d ready", ns, d, dep.Status.ReadyReplicas, *dep.Spec.Replicas)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		for _, check := range []func() error{
			func() error { _, err := c.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{}); return err },
			func() error { _, err := c.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); return err },
			func() error {
				_, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "app-config", metav1.GetOptions{})
				return err
			},
			func() error { _, err := c.CoreV1().Secrets(ns).Get(ctx, "app-secret", metav1.GetOptions{}); return err },
			func() error { _, err := c.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{}); return err },
			func() error { _, err := c.BatchV1().CronJobs(ns).Get(ctx, "report", metav1.GetOptions{}); return err },
			func() error {
				_, err := c.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
				return err
			},
		} {
			if err := check(); err != nil {
				t.Errorf("%s: %v", ns, err)
			}
		}
		// No provisioner runs; the claim is bound to its pre-made volume by the controller.
		deadline := time.Now().Add(20 * time.Second)
		for {
			pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pvc.Status.Phase == corev1.ClaimBound {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s/data is %s, want Bound", ns, pvc.Status.Phase)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Carol may read demo but not its secrets.
	carol := cp.RESTConfig()
	carol.Impersonate = rest.ImpersonationConfig{UserName: "carol"}
	cc := clientFor(t, carol)
	if _, err := cc.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("carol lists pods in demo: %v", err)
	}
	if _, err := cc.CoreV1().Secrets("demo").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("carol lists secrets in demo: %v, want Forbidden", err)
	}
	if _, err := cc.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("carol lists pods in team-a: %v, want Forbidden", err)
	}
	// A member of yard-admins is cluster-admin.
	admin := cp.RESTConfig()
	admin.Impersonate = rest.ImpersonationConfig{UserName: "dave", Groups: []string{"yard-admins"}}
	if _, err := clientFor(t, admin).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("yard-admins list nodes: %v", err)
	}
}

// TestLogsFollowSeesAppendedLine opens a follow stream, waits for it to deliver the existing
// log, then appends a line and expects it on the same stream.
func TestLogsFollowSeesAppendedLine(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	pod := podOf(t, c, "demo", "web")
	ctx := ctxFor(t, 30*time.Second)
	stream, err := c.CoreV1().Pods("demo").GetLogs(pod.Name, &corev1.PodLogOptions{Container: "nginx", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	if !lines.Scan() {
		t.Fatalf("no first line: %v", lines.Err())
	}
	marker := fmt.Sprintf("appended-after-open %d", time.Now().UnixNano())
	if err := cp.AppendLog("demo", pod.Name, "nginx", marker); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		if lines.Text() == marker {
			return
		}
	}
	t.Fatalf("stream ended without the appended line: %v", lines.Err())
}

func TestLogsGrowWithLevelsAndJSON(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	pod := podOf(t, c, "demo", "api")
	ctx := ctxFor(t, 30*time.Second)
	b, err := c.CoreV1().Pods("demo").GetLogs(pod.Name, &corev1.PodLogOptions{Container: "api"}).Do(ctx).Raw()
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Count(string(b), "\n")
	if first == 0 || !strings.Contains(string(b), `"level":`) {
		t.Fatalf("api log has no JSON lines:\n%s", b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		b, err = c.CoreV1().Pods("demo").GetLogs(pod.Name, &corev1.PodLogOptions{Container: "api"}).Do(ctx).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "\n") > first {
			return
		}
	}
	t.Fatalf("log did not grow past %d lines in 20s", first)
}

func TestAppendLogRejectsBadNames(t *testing.T) {
	cp := controlplane.Shared(t)
	for _, name := range []string{"", "..", "a/b"} {
		if err := cp.AppendLog("demo", name, "nginx", "x"); !errors.Is(err, controlplane.ErrBadLogTarget) {
			t.Errorf("AppendLog(pod %q) = %v, want ErrBadLogTarget", name, err)
		}
	}
}

func TestExecTTYReportsExitCode(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	pod := podOf(t, c, "demo", "web")
	ctx := ctxFor(t, 30*time.Second)
	r := execIn(ctx, cp.RESTConfig(), "demo", pod.Name, "nginx",
		[]string{"bash", "-c", "tty; pwd; echo from-$HOSTNAME; exit 3"}, true, nil, nil, nil)
	var code utilexec.CodeExitError
	if !errors.As(r.err, &code) || code.Code != 3 {
		t.Fatalf("exit: %v (%T), want code 3; output %q", r.err, r.err, r.stdout)
	}
	if !strings.Contains(r.stdout, "/dev/pts/") {
		t.Errorf("no TTY: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, filepath.Join("sandboxes", "demo", pod.Name)) {
		t.Errorf("not in the pod's sandbox directory: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, "from-"+pod.Name) {
		t.Errorf("HOSTNAME is not the pod name: %q", r.stdout)
	}
	ok := execIn(ctx, cp.RESTConfig(), "demo", pod.Name, "nginx", []string{"sh", "-c", "echo fine"}, false, nil, nil, nil)
	if ok.err != nil || strings.TrimSpace(ok.stdout) != "fine" {
		t.Fatalf("exec without TTY: %v %q", ok.err, ok.stdout)
	}
}

// TestExecReturnsWhenCommandExits: a background child holding stdout does not keep the exec
// open once the command has exited.
func TestExecReturnsWhenCommandExits(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	pod := podOf(t, c, "team-a", "worker")
	ctx := ctxFor(t, 30*time.Second)
	start := time.Now()
	r := execIn(ctx, cp.RESTConfig(), "team-a", pod.Name, "worker", []string{"sh", "-c", "sleep 20 & echo started"}, false, nil, nil, nil)
	if r.err != nil || strings.TrimSpace(r.stdout) != "started" {
		t.Fatalf("exec: %v %q", r.err, r.stdout)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("exec took %s: it waited for the background child", d)
	}
}

// sizeQueue hands the executor terminal sizes as the test sends them.
type sizeQueue chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &s
}

// syncBuffer is written by the exec stream while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestResizeChangesSttySize(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	pod := podOf(t, c, "team-a", "web")
	ctx := ctxFor(t, 45*time.Second)
	sizes := make(sizeQueue, 4)
	sizes <- remotecommand.TerminalSize{Width: 80, Height: 24}
	inR, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan execResult, 1)
	go func() {
		done <- execIn(ctx, cp.RESTConfig(), "team-a", pod.Name, "nginx",
			[]string{"sh", "-c", "stty size; while read line; do stty size; done"}, true, inR, sizes, out)
	}()
	waitFor := func(what string) {
		t.Helper()
		for !strings.Contains(out.String(), what) {
			select {
			case r := <-done:
				t.Fatalf("exec ended before %q: %v; output %q", what, r.err, r.stdout)
			case <-ctx.Done():
				t.Fatalf("no %q in %q", what, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitFor("24 80")
	sizes <- remotecommand.TerminalSize{Width: 120, Height: 40}
	// The resize and stdin travel on different streams; ask again until the new size shows.
	for i := 0; !strings.Contains(out.String(), "40 120"); i++ {
		if i == 100 {
			t.Fatalf("stty size never printed 40 120: %q", out.String())
		}
		if _, err := inW.Write([]byte("\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = inW.Write([]byte{4}) // ^D ends the read loop
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("exec: %v", r.err)
		}
	case <-ctx.Done():
		t.Fatal("exec did not end after ^D")
	}
	close(sizes)
	_ = inW.Close()
}

func TestExecWithoutBash(t *testing.T) {
	cp := controlplane.Shared(t)
	ctx := ctxFor(t, 30*time.Second)
	r := execIn(ctx, cp.RESTConfig(), "demo", "minimal", controlplane.NoBashContainer, []string{"bash"}, true, nil, nil, nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "executable file not found") {
		t.Fatalf("bash in the no-bash container: %v, want executable file not found", r.err)
	}
	r = execIn(ctx, cp.RESTConfig(), "demo", "minimal", controlplane.NoBashContainer, []string{"sh", "-c", "echo $0 ok"}, true, nil, nil, nil)
	if r.err != nil || !strings.Contains(r.stdout, "sh ok") {
		t.Fatalf("sh in the no-bash container: %v %q", r.err, r.stdout)
	}
}

func TestRBACDeniesBobExecInDemo(t *testing.T) {
	cp := controlplane.Shared(t)
	c := clientFor(t, cp.RESTConfig())
	ctx := ctxFor(t, 30*time.Second)
	bob := cp.RESTConfig()
	bob.Impersonate = rest.ImpersonationConfig{UserName: "bob"}
	demoPod := podOf(t, c, "demo", "web")
	r := execIn(ctx, bob, "demo", demoPod.Name, "nginx", []string{"true"}, false, nil, nil, nil)
	if r.err == nil || !strings.Contains(strings.ToLower(r.err.Error()), "forbidden") {
		t.Fatalf("bob exec in demo: %v, want forbidden", r.err)
	}
	teamPod := podOf(t, c, "team-a", "web")
	r = execIn(ctx, bob, "team-a", teamPod.Name, "nginx", []string{"sh", "-c", "echo bob-was-here"}, false, nil, nil, nil)
	if r.err != nil || strings.TrimSpace(r.stdout) != "bob-was-here" {
		t.Fatalf("bob exec in team-a: %v %q", r.err, r.stdout)
	}
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// TestRestartAndStopLeaveNothing runs a private control plane: restarts its apiserver, leaves
// an exec'd process running, stops it, and checks no process or port is left.
func TestRestartAndStopLeaveNothing(t *testing.T) {
	if err := controlplane.CheckBinaries(controlplane.BinDir()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := ctxFor(t, 3*time.Minute)
	cp, err := controlplane.Start(ctx, dir, controlplane.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cp.Stop()
		}
	})
	c := clientFor(t, cp.RESTConfig())
	before, err := c.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := c.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if before.UID != after.UID {
		t.Fatalf("state lost across restart: uid %s then %s", before.UID, after.UID)
	}

	// A pod with a process that would outlive KWOK if nobody killed it.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sleeper", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		p, err := c.CoreV1().Pods("default").Get(ctx, "sleeper", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("sleeper not Running: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	execCtx, cancelExec := context.WithCancel(ctx)
	defer cancelExec()
	go execIn(execCtx, cp.RESTConfig(), "default", "sleeper", "main", []string{"sh", "-c", "sleep 300 & sleep 301"}, true, nil, nil, nil)
	for len(controlplane.SandboxProcesses(dir)) < 2 {
		if ctx.Err() != nil {
			t.Fatal("exec'd processes never showed up")
		}
		time.Sleep(50 * time.Millisecond)
	}

	pids, ports := cp.Pids(), cp.Ports()
	if len(pids) != 5 {
		t.Fatalf("pids %v, want 5 processes", pids)
	}
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("pid %d still exists after Stop", pid)
		}
	}
	if left := controlplane.SandboxProcesses(dir); len(left) > 0 {
		t.Errorf("exec'd processes left after Stop: %v", left)
	}
	for _, port := range ports {
		if !portFree(port) {
			t.Errorf("port %d still in use after Stop", port)
		}
	}
	if err := cp.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
