package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) { controlplane.Main(m) }

type server struct {
	*yardtest.Server
	base string
	cp   *controlplane.ControlPlane
}

// start runs the real server with dev login against the shared control plane.
func start(t *testing.T, mutate func(*config.Config)) *server {
	t.Helper()
	cp := controlplane.Shared(t)
	ys := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
		cfg.Limits.MaxConnsPerUser = 500
		cfg.Clusters.AccessTTL = time.Second
		cfg.Clusters.HealthInterval = time.Second
		cfg.Clusters.WatchGrace = time.Minute
		if mutate != nil {
			mutate(cfg)
		}
	})
	return &server{Server: ys, base: ys.URL, cp: cp}
}

func (s *server) login(t *testing.T, name string) string {
	t.Helper()
	return s.SignIn(t, name, false)
}

// get returns the status and body of GET path as token.
func (s *server) get(t *testing.T, token, path, accept string) (int, []byte) {
	t.Helper()
	var h http.Header
	if accept != "" {
		h = http.Header{"Accept": {accept}}
	}
	resp, b := s.Request(t, http.MethodGet, token, path, h)
	return resp.StatusCode, b
}

// msg is one watch message as a client reads it.
type msg struct {
	Type            string `json:"type"`
	Kind            string `json:"kind"`
	ResourceVersion string `json:"resourceVersion"`
	Code            string `json:"code"`
	Message         string `json:"message"`
	Namespace       string `json:"namespace"`
	Object          struct {
		Metadata struct {
			Namespace, Name, ResourceVersion string
		}
		Spec struct {
			Replicas *int
		}
	} `json:"object"`
}

func (m msg) name() string { return m.Object.Metadata.Namespace + "/" + m.Object.Metadata.Name }

// stream is a client of /ws/watch recording everything it receives.
type stream struct {
	rec  *yardtest.Recorder[msg]
	done <-chan struct{} // closed when the server ended the stream
}

func (s *server) watch(t *testing.T, token string, q url.Values) *stream {
	t.Helper()
	st, err := s.dialWatch(token, q)
	if err != nil {
		t.Fatalf("watch %s: %v", q.Encode(), err)
	}
	t.Cleanup(st.close)
	return st
}

func (s *server) dialWatch(token string, q url.Values) (*stream, error) {
	conn, resp, err := s.DialWS("/ws/watch", token, q)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	rec := yardtest.NewRecorder(conn, decodeMsg)
	rec.Start()
	st := &stream{rec: rec, done: rec.Done()}
	return st, nil
}

func decodeMsg(_ int, b []byte) msg {
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		m = msg{Type: "undecodable", Message: string(b)}
	}
	return m
}

func (st *stream) close() { st.rec.Close() }

func (st *stream) all() ([]msg, error) { return st.rec.Got() }

// waitFor waits until cond holds over everything received, failing after timeout.
func (st *stream) waitFor(t *testing.T, what string, timeout time.Duration, cond func([]msg) bool) []msg {
	t.Helper()
	return st.rec.Wait(t, what, timeout, cond, summary)
}

func synced(kind string) func([]msg) bool {
	return func(ms []msg) bool {
		return slices.ContainsFunc(ms, func(m msg) bool { return m.Type == "SYNCED" && m.Kind == kind })
	}
}

func summary(ms []msg) string {
	var b strings.Builder
	for i, m := range ms {
		if i == 60 {
			fmt.Fprintf(&b, "... (%d in all)", len(ms))
			break
		}
		switch m.Type {
		case "ADDED", "MODIFIED", "DELETED":
			fmt.Fprintf(&b, "%s %s %s; ", m.Type, m.Kind, m.name())
		default:
			fmt.Fprintf(&b, "%s %s %s %s %s; ", m.Type, m.Kind, m.ResourceVersion, m.Code, m.Message)
		}
	}
	return b.String()
}

// view replays messages into the client's state of kind: namespace/name -> resourceVersion.
func view(ms []msg, kind string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		if m.Kind != kind {
			continue
		}
		switch m.Type {
		case "ADDED", "MODIFIED":
			out[m.name()] = m.Object.Metadata.ResourceVersion
		case "DELETED":
			delete(out, m.name())
		case "RESET":
			clear(out)
		}
	}
	return out
}

func namespacesOf(v map[string]string) []string {
	var out []string
	for k := range v {
		ns, _, _ := strings.Cut(k, "/")
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// lastRV is the newest resourceVersion a client has seen (what it would resume from).
func lastRV(ms []msg) string {
	var best uint64
	for _, m := range ms {
		for _, s := range []string{m.ResourceVersion, m.Object.Metadata.ResourceVersion} {
			var n uint64
			if _, err := fmt.Sscan(s, &n); err == nil && n > best {
				best = n
			}
		}
	}
	return fmt.Sprint(best)
}
