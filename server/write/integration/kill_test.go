package integration

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// freezer is a TCP proxy to the apiserver that can stop passing bytes, so a request through it
// hangs while its connection stays open.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{}
	wg     sync.WaitGroup
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, thaw: make(chan struct{})}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *freezer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, up)
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(up, c) })
		f.wg.Go(func() { f.pipe(c, up) })
	}
}

// pipe copies src to dst, holding each chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			frozen, thaw := f.frozen, f.thaw
			f.mu.Unlock()
			if frozen {
				<-thaw
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = true
}

func (f *freezer) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	if f.frozen {
		f.frozen = false
		close(f.thaw)
	}
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// kubeconfigVia writes a copy of the control plane's kubeconfig whose server is addr.
func kubeconfigVia(t *testing.T, cp *controlplane.ControlPlane, addr string) (path, apiserver string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(cp.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			t.Fatal(err)
		}
		apiserver = u.Host
		u.Host = addr
		c.Server = u.String()
	}
	path = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, apiserver
}

var listening = regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+)"`)

// A replica killed between recording an attempt and carrying it out leaves the attempt in the
// Redis trail as pending, and the apiserver never saw the write.
func TestKilledReplicaLeavesThePendingAttempt(t *testing.T) {
	cp := controlplane.Shared(t)
	rd := redistest.Start(t)
	bin := filepath.Join(t.TempDir(), "yard")
	build := exec.Command("go", "build", "-o", bin, "./server/cmd/yard")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./server/cmd/yard: %v\n%s", err, out)
	}
	// The proxy's target is the kubeconfig's server; the copy made to learn it is not used.
	_, apiserver := kubeconfigVia(t, cp, "127.0.0.1:1")
	fr := newFreezer(t, apiserver)
	kubeconfig, _ := kubeconfigVia(t, cp, fr.ln.Addr().String())

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--dev-auth", "--log-format", "json",
		"--kubeconfig", kubeconfig, "--redis-url", rd.URL(), "--write-enabled", "--replica-id", "doomed",
		"--static-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "YARD_JWT_SECRET=kill-test-secret-0123456789")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	urlCh := make(chan string, 1)
	var logMu sync.Mutex
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urlCh <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			logMu.Lock()
			t.Logf("yard log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	var base string
	select {
	case base = <-urlCh:
	case <-exited:
		t.Fatal("yard exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("yard did not listen within 60 s")
	}
	bob := yardtest.SignIn(t, base, "bob", false)
	apply := func(query, body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/apply?"+query, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Authorization", "Bearer "+bob)
		return http.DefaultClient.Do(req)
	}
	cm := unique("w-killed")
	// A dry run first, so discovery and the connection to the apiserver are in place.
	resp, err := apply("dryRun=true", configMapYAML(cm, "x"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dry run: %v %v", resp, err)
	}
	resp.Body.Close()

	fr.freeze()
	go func() {
		if resp, err := apply("", configMapYAML(cm, "x")); err == nil {
			resp.Body.Close()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: rd.Addr()})
	defer rdb.Close()
	trail, err := audit.NewRedis(rdb, audit.RedisKey, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	pending := func() []audit.Entry {
		es, err := trail.List(context.Background(), audit.Query{User: "bob", Verb: audit.VerbApply})
		if err != nil {
			t.Fatal(err)
		}
		var out []audit.Entry
		for _, e := range es {
			if e.Name == cm && !e.DryRun && e.Result == audit.ResultPending {
				out = append(out, e)
			}
		}
		return out
	}
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "the attempt recorded as pending", func() bool { return len(pending()) == 1 })

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("yard survived SIGKILL")
	}
	es := pending()
	if len(es) != 1 || es[0].Replica != "doomed" || es[0].User != "bob" || es[0].Kind != "ConfigMap" || es[0].FinishedAt != nil {
		t.Fatalf("after the kill: %+v", es)
	}
	k, _ := admin(t, cp)
	if _, err := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the killed replica's configmap exists: %v", err)
	}
}
