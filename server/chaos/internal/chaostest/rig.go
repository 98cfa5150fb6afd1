package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// JWTSecret is shared by every replica of a rig, so a token from one works on the others.
const JWTSecret = "chaos-replicas-share-this-secret"

// Cluster is what a rig needs of the control plane the test started. The zero Cluster is none:
// the replicas run without any cluster, for scenarios of rooms only.
type Cluster struct {
	Kubeconfig string
	REST       *rest.Config
}

// Rig is one scenario's world: a real Redis (appendonly, fsync always), a control plane and the
// built yard binary; replicas are started on it by name.
type Rig struct {
	T       *testing.T
	Cluster Cluster
	Redis   *redistest.Server
	bin     string
	extra   []string
}

// NewRig starts Redis; extra flags go to every replica. bin/yard must have been built (make
// chaos and make soak do).
func NewRig(t *testing.T, c Cluster, extra ...string) *Rig {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "yard")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` (make chaos and make soak do)", bin)
	}
	return &Rig{T: t, Cluster: c, Redis: redistest.Start(t), bin: bin, extra: extra}
}

// RepoRoot is the repository's top directory: the nearest parent of the test's directory that
// holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Replica is one yard process of the rig.
type Replica struct {
	Name string
	Proc *yardtest.Process
	*yardtest.Server
}

// Replica starts a yard process named name (its --replica-id) with dev login on the rig's
// Redis and control plane; extra flags come last, so they override the rig's.
func (r *Rig) Replica(name string, extra ...string) *Replica {
	r.T.Helper()
	return r.replica([]string{r.bin}, name, extra...)
}

// ReplicaInNetns is Replica run in the network namespace netns, listening on ip there (with dev
// login allowed off loopback, since the test reaches it from outside the namespace).
func (r *Rig) ReplicaInNetns(netns, ip, name string, extra ...string) *Replica {
	r.T.Helper()
	flags := append([]string{"--listen", net.JoinHostPort(ip, "0"), "--insecure-dev-auth-anywhere"}, extra...)
	return r.replica([]string{"ip", "netns", "exec", netns, r.bin}, name, flags...)
}

func (r *Rig) replica(command []string, name string, extra ...string) *Replica {
	r.T.Helper()
	args := []string{"--dev-auth", "--redis-url", r.Redis.URL(),
		"--replica-id", name, "--static-dir", r.T.TempDir(), "--recordings-dir", r.T.TempDir(),
		"--max-conns-per-user", "200", "--cluster-health-interval", "1s"}
	env := []string{"YARD_JWT_SECRET=" + JWTSecret}
	if r.Cluster.Kubeconfig != "" {
		args = append(args, "--kubeconfig", r.Cluster.Kubeconfig)
	} else {
		// No cluster: the machine's kubeconfig must not count.
		env = append(env, "KUBECONFIG="+filepath.Join(r.T.TempDir(), "none"))
	}
	args = append(append(args, r.extra...), extra...)
	p := yardtest.StartCommand(r.T, command, env, args...)
	return &Replica{Name: name, Proc: p, Server: &yardtest.Server{URL: p.URL}}
}

// Admin is a client of the control plane with full rights, for setting up and checking what
// users did.
func (r *Rig) Admin() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(r.Cluster.REST)
	if err != nil {
		r.T.Fatal(err)
	}
	return c
}

// RunningPod names a running pod labelled app=app in ns.
func (r *Rig) RunningPod(t *testing.T, ns, app string) string {
	t.Helper()
	pods, err := r.Admin().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return p.Name
		}
	}
	t.Fatalf("no running pod app=%s in %s", app, ns)
	return ""
}

// Call makes one JSON request as token and decodes a JSON answer into out (when not nil); it
// returns the status, 0 when the replica did not answer.
func Call(s *yardtest.Server, method, token, path, body string, out any) (int, error) {
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

// MustCall is Call that fails the test on a transport error or an unexpected status.
func MustCall(t *testing.T, s *yardtest.Server, method, token, path, body string, want int, out any) {
	t.Helper()
	st, err := Call(s, method, token, path, body, out)
	if err != nil || st != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, path, st, want, err)
	}
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
