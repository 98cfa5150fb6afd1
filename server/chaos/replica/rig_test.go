//go:build chaos

package replica

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) {
	// client-go's executors report a closed stream through klog; every shell here ends so.
	klog.SetLogger(logr.Discard())
	controlplane.Main(m)
}

const jwtSecret = "chaos-replicas-share-this-secret" // a token from one replica works on the other

// rig is one scenario's world: a real Redis (appendonly, fsync always), the local control plane
// and the built yard binary; replicas are started on it by name.
type rig struct {
	t     *testing.T
	cp    *controlplane.ControlPlane
	redis *redistest.Server
	bin   string
	extra []string
}

// newRig starts Redis; extra flags go to every replica.
func newRig(t *testing.T, extra ...string) *rig {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", "..", "bin", "yard"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` (make chaos does)", bin)
	}
	return &rig{t: t, cp: controlplane.Shared(t), redis: redistest.Start(t), bin: bin, extra: extra}
}

// replica is one yard process of the rig.
type replica struct {
	name string
	proc *yardtest.Process
	*yardtest.Server
}

func (r *rig) replica(name string) *replica {
	r.t.Helper()
	args := append([]string{"--dev-auth", "--kubeconfig", r.cp.Kubeconfig(), "--redis-url", r.redis.URL(),
		"--replica-id", name, "--static-dir", r.t.TempDir(), "--recordings-dir", r.t.TempDir(),
		"--max-conns-per-user", "200", "--cluster-health-interval", "1s"}, r.extra...)
	p := yardtest.StartProcess(r.t, r.bin, []string{"YARD_JWT_SECRET=" + jwtSecret}, args...)
	return &replica{name: name, proc: p, Server: &yardtest.Server{URL: p.URL}}
}

func (r *rig) admin() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(r.cp.RESTConfig())
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// call makes one JSON request as token and decodes a JSON answer into out (when not nil); it
// returns the status, 0 when the replica did not answer.
func call(s *yardtest.Server, method, token, path, body string, out any) (int, error) {
	req, err := http.NewRequest(method, s.URL+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, buf.String(), err)
		}
	}
	return resp.StatusCode, nil
}

// mustCall is call that fails the test on a transport error or an unexpected status.
func mustCall(t *testing.T, s *yardtest.Server, method, token, path, body string, want int, out any) {
	t.Helper()
	st, err := call(s, method, token, path, body, out)
	if err != nil || st != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, path, st, want, err)
	}
}

// report collects a scenario's figures and logs them, with the outcome, when the test ends;
// hack/chaos.sh gathers these RESULT lines into the summary.
type report struct {
	mu      sync.Mutex
	figures map[string]string
}

func newReport(t *testing.T, guarantee string) *report {
	r := &report{figures: map[string]string{}}
	start := time.Now()
	t.Cleanup(func() {
		outcome := "PASS"
		if t.Failed() {
			outcome = "FAIL"
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		keys := make([]string, 0, len(r.figures))
		for k := range r.figures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, r.figures[k])
		}
		t.Logf("RESULT %s %s | %s |%s took=%s", outcome, t.Name(), guarantee, b.String(), time.Since(start).Round(100*time.Millisecond))
	})
	return r
}

func (r *report) set(key string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures[key] = fmt.Sprintf(format, args...)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
