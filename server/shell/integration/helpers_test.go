package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) {
	// client-go's executors report a closed stream through klog as an "Unhandled Error"; that
	// is how every shell here ends, and the noise would break benchmark result lines.
	klog.SetLogger(logr.Discard())
	controlplane.Main(m)
}

type server struct {
	*yardtest.Server
	base string
	cp   *controlplane.ControlPlane
}

// start runs the real server with dev login against the shared control plane.
func start(t testing.TB, mutate func(*config.Config)) *server {
	t.Helper()
	cp := controlplane.Shared(t)
	ys := yardtest.Start(t, func(cfg *config.Config) {
		cfg.Kubeconfig = cp.Kubeconfig()
		cfg.StaticDir = t.TempDir()
		cfg.Streams.RecordingsDir = t.TempDir()
		cfg.Clusters.AccessTTL = time.Second
		if mutate != nil {
			mutate(cfg)
		}
	})
	return &server{Server: ys, base: ys.URL, cp: cp}
}

func (s *server) login(t testing.TB, name string, admin bool) string {
	t.Helper()
	return s.SignIn(t, name, admin)
}

// do runs an HTTP request as token and returns the response with its body read.
func (s *server) do(t *testing.T, method, token, path string) (*http.Response, []byte) {
	t.Helper()
	return s.Request(t, method, token, path, nil)
}

func (s *server) admin(t testing.TB) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(s.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// podOf returns a running pod with label app=name in namespace.
func (s *server) podOf(t testing.TB, namespace, app string) *corev1.Pod {
	t.Helper()
	pods, err := s.admin(t).CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].DeletionTimestamp == nil {
			return &pods.Items[i]
		}
	}
	t.Fatalf("no running pod app=%s in %s", app, namespace)
	return nil
}

// client is a plain WebSocket client of /ws/logs or /ws/shell that records what it receives.
type client struct {
	conn *websocket.Conn
	rec  *yardtest.Recorder[frame]
}

// frame is one message received: a text message decoded as JSON, or terminal output.
type frame struct {
	isText bool
	text   map[string]any
	binary []byte
}

func decodeFrame(typ int, b []byte) frame {
	if typ != websocket.TextMessage {
		return frame{binary: b}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		m = map[string]any{"type": "undecodable", "text": string(b)}
	}
	return frame{isText: true, text: m}
}

// split separates the text messages from the terminal output.
func split(fs []frame) ([]map[string]any, string) {
	var texts []map[string]any
	var term strings.Builder
	for _, f := range fs {
		if f.isText {
			texts = append(texts, f.text)
		} else {
			term.Write(f.binary)
		}
	}
	return texts, term.String()
}

func (s *server) dial(path, token string, q url.Values) (*client, *http.Response, error) {
	conn, resp, err := s.DialWS(path, token, q)
	if err != nil {
		return nil, resp, err
	}
	return &client{conn: conn, rec: yardtest.NewRecorder(conn, decodeFrame)}, resp, nil
}

// open dials and starts reading; reading can be left off to play a client that never reads.
func (s *server) open(t *testing.T, path, token string, q url.Values, read bool) *client {
	t.Helper()
	c, resp, err := s.dial(path, token, q)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s?%s: %v (HTTP %d)", path, q.Encode(), err, status)
	}
	t.Cleanup(c.close)
	if read {
		c.startReading()
	}
	return c
}

func (c *client) startReading() { c.rec.Start() }

func (c *client) close() { c.rec.Close() }

func (c *client) sendText(t *testing.T, s string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (c *client) sendKeys(t *testing.T, s string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte(s)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (c *client) state() ([]map[string]any, string, error) {
	fs, err := c.rec.Got()
	texts, term := split(fs)
	return texts, term, err
}

// waitFor waits until cond holds over what arrived; a closed socket fails.
func (c *client) waitFor(t *testing.T, what string, timeout time.Duration, cond func(texts []map[string]any, term string) bool) []map[string]any {
	t.Helper()
	fs := c.rec.Wait(t, what, timeout, func(fs []frame) bool { return cond(split(fs)) }, func(fs []frame) string {
		texts, term := split(fs)
		return fmt.Sprintf("texts %s; terminal %q", summarize(texts), tail(term))
	})
	texts, _ := split(fs)
	return texts
}

func (c *client) waitTerminal(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	c.waitFor(t, "terminal output "+want, timeout, func(_ []map[string]any, term string) bool { return strings.Contains(term, want) })
}

func (c *client) waitType(t *testing.T, typ string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var got map[string]any
	c.waitFor(t, "a "+typ+" message", timeout, func(texts []map[string]any, _ string) bool {
		for _, m := range texts {
			if m["type"] == typ && (ok == nil || ok(m)) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// waitClosed waits for the server to close the socket and returns the close error.
func (c *client) waitClosed(t *testing.T, timeout time.Duration) *websocket.CloseError {
	t.Helper()
	select {
	case <-c.rec.Done():
	case <-time.After(timeout):
		t.Fatal("the server did not close the socket")
	}
	_, _, err := c.state()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("closed without a close frame: %v", err)
	}
	return ce
}

func summarize(ms []map[string]any) string {
	var b strings.Builder
	for i, m := range ms {
		if i == 40 {
			fmt.Fprintf(&b, "... (%d in all)", len(ms))
			break
		}
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteString("; ")
	}
	return b.String()
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

func lines(texts []map[string]any) []map[string]any {
	var out []map[string]any
	for _, m := range texts {
		if m["type"] == "line" {
			out = append(out, m)
		}
	}
	return out
}

// heapAlloc is the live heap after a collection, to measure what a stream keeps.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
