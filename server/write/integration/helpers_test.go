package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
	"github.com/yardhq/yard/server/write"
)

func TestMain(m *testing.M) { controlplane.Main(m) }

// server is one Yard server in the test process, with everything it logged.
type server struct {
	*yardtest.Server
	cp   *controlplane.ControlPlane
	logs *syncBuffer
}

// start runs the real server with dev login against the shared control plane; writes are on
// unless mutate turns them off.
func start(t *testing.T, mutate func(*config.Config)) *server {
	t.Helper()
	cp := controlplane.Shared(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ys := yardtest.StartLogged(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
		cfg.WriteEnabled = true
		cfg.Clusters.HealthInterval = time.Second
		if mutate != nil {
			mutate(cfg)
		}
	}, log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &server{Server: ys, cp: cp, logs: logs}
}

// syncBuffer is a buffer the server's logger and the test share.
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

// call makes one request as token and returns the status and body.
func (s *server) call(t *testing.T, method, token, path, contentType, body string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// applyResp is POST /api/apply's answer.
type applyResp struct {
	DryRun  bool           `json:"dryRun"`
	Results []write.Result `json:"results"`
	Error   *struct {
		Code, Message string
	} `json:"error"`
}

// apply posts YAML to /api/apply with query q as token.
func (s *server) apply(t *testing.T, token, query, yaml string, header http.Header) (int, applyResp, []byte) {
	t.Helper()
	status, b := s.call(t, http.MethodPost, token, "/api/apply?"+query, "application/yaml", yaml, header)
	var r applyResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("apply %s: %d %s: %v", query, status, b, err)
	}
	return status, r, b
}

// errCode is the code of an error envelope.
func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var e struct{ Error struct{ Code string } }
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not an error envelope: %s", b)
	}
	return e.Error.Code
}

// entries returns the audit entries of user, oldest first.
func (s *server) entries(t *testing.T, user string) []audit.Entry {
	t.Helper()
	es, err := s.App.Audit().List(context.Background(), audit.Query{User: user, Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// find returns the audit entries for one object and verb, oldest first.
func find(es []audit.Entry, verb, namespace, name string) []audit.Entry {
	var out []audit.Entry
	for _, e := range es {
		if e.Verb == verb && e.Namespace == namespace && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// admin is the control plane's own clients, to check what the cluster holds.
func admin(t *testing.T, cp *controlplane.ControlPlane) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return k, d
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// unique returns a name no other test of this run uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}
