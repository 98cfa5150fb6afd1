package mux_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/mux/ping"
	"github.com/yardhq/yard/server/muxclient"
	"github.com/yardhq/yard/server/wsgate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a real server over loopback: the WebSocket gate (auth, limits) in front of a
// mux.Server with the ping kind and the test kinds below.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	mux     *mux.Server
	metrics *metrics.Set
	ver     *auth.Verifier
	url     string
}

func newHarness(t testing.TB, cfg mux.Config) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := auth.NewVerifier(auth.Options{Secret: []byte("0123456789abcdef0123"), TokenTTL: time.Hour, AdminGroup: "yard-admins"})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	reg := mux.NewRegistry()
	for _, k := range []mux.Kind{ping.Kind{}, floodKind{}, denyKind{}, holdKind{}, scriptKind{}} {
		if err := reg.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	ms := mux.NewServer(cfg, reg, mux.Options{Logger: log, Metrics: m})
	gate := wsgate.New(wsgate.Options{Verifier: v, Tickets: auth.NewMemoryTickets(nil), MaxConnsPerUser: 1000,
		MaxConns: 1000, Metrics: m, Logger: log})
	router := http.NewServeMux()
	router.Handle("/ws", gate.Handler("mux", mux.Subprotocol, func(ctx context.Context, c *websocket.Conn, u identity.User, _ *http.Request) {
		ms.ServeConn(ctx, c, u)
	}))
	router.Handle("/ws/single/{kind}", gate.Handler("single", "", func(ctx context.Context, c *websocket.Conn, u identity.User, r *http.Request) {
		k, _ := reg.Lookup(r.PathValue("kind"))
		ms.ServeSingle(ctx, c, k, mux.OpenRequest{User: u, Params: r.URL.Query()})
	}))
	h := &harness{t: t, srv: httptest.NewServer(router), mux: ms, metrics: m, ver: v}
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ms.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		h.srv.Close()
	})
	return h
}

// metric returns the value of the series of name with label=value (0 when absent).
func (h *harness) metric(name, label, value string) float64 {
	h.t.Helper()
	mfs, err := h.metrics.Registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					switch {
					case m.Gauge != nil:
						return m.Gauge.GetValue()
					case m.Counter != nil:
						return m.Counter.GetValue()
					}
				}
			}
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 5*time.Second, 10*time.Millisecond, what, cond)
}

func (h *harness) token(name string) string {
	tok, _, err := h.ver.Issue(identity.User{ID: name, Name: name})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) dial() *muxclient.Conn {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := muxclient.Dial(ctx, h.url, h.token("alice"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// raw dials without the client library, to play a misbehaving peer.
func (h *harness) raw() *websocket.Conn {
	h.t.Helper()
	d := websocket.Dialer{Subprotocols: []string{mux.Subprotocol}}
	c, _, err := d.Dial(h.url, http.Header{"Authorization": {"Bearer " + h.token("mallory")}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (h *harness) open(c *muxclient.Conn, kind string, params url.Values) *muxclient.Channel {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.Open(ctx, kind, params)
	if err != nil {
		h.t.Fatalf("open %s: %v", kind, err)
	}
	return ch
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errCode returns err's mux error code, or "".
func errCode(err error) string {
	var e *mux.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// readClose reads a raw connection until it closes and returns the close code and reason.
func readClose(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// floodKind sends messages of "size" bytes as fast as Send lets it, or with TrySend when
// "try" is set, counting what TrySend refused into floodDrops.
type floodKind struct{}

var floodDrops atomic.Int64

func (floodKind) Name() string           { return "flood" }
func (floodKind) Priority() mux.Priority { return mux.PriorityLogs }
func (floodKind) Open(_ context.Context, req mux.OpenRequest) (mux.Runner, error) {
	size, err := strconv.Atoi(req.Params.Get("size"))
	if err != nil || size <= 0 {
		return nil, mux.Errorf(mux.CodeBadParams, "size: want a positive integer")
	}
	try := req.Params.Get("try") != ""
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
		buf := make([]byte, size)
		for i := 0; ; i++ {
			buf[0] = byte(i)
			m := mux.Message{Type: mux.Binary, Data: append([]byte(nil), buf...)}
			if try {
				if !ch.TrySend(m) {
					floodDrops.Add(1)
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(time.Millisecond):
					}
				}
				continue
			}
			if err := ch.Send(ctx, m); err != nil {
				return nil
			}
		}
	}), nil
}

// denyKind refuses every open.
type denyKind struct{}

func (denyKind) Name() string           { return "deny" }
func (denyKind) Priority() mux.Priority { return mux.PriorityWatch }
func (denyKind) Open(context.Context, mux.OpenRequest) (mux.Runner, error) {
	return nil, mux.Errorf(mux.CodeForbidden, "not for you")
}

// holdKind never reads or writes; it only waits for its context. Its open takes "openDelay".
type holdKind struct{}

var holdRunning atomic.Int64

func (holdKind) Name() string           { return "hold" }
func (holdKind) Priority() mux.Priority { return mux.PrioritySync }
func (holdKind) Open(ctx context.Context, req mux.OpenRequest) (mux.Runner, error) {
	if d, _ := time.ParseDuration(req.Params.Get("openDelay")); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return mux.RunnerFunc(func(ctx context.Context, _ mux.Channel) error {
		holdRunning.Add(1)
		defer holdRunning.Add(-1)
		<-ctx.Done()
		return nil
	}), nil
}

// scriptKind does what its "do" parameter says: "send:N" sends N text messages then ends
// normally; "fail" ends with not_found; "closeconn" closes the connection with slow_consumer;
// "panic" panics.
type scriptKind struct{}

func (scriptKind) Name() string           { return "script" }
func (scriptKind) Priority() mux.Priority { return mux.PriorityWatch }
func (scriptKind) Open(_ context.Context, req mux.OpenRequest) (mux.Runner, error) {
	do := req.Params.Get("do")
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
		switch {
		case strings.HasPrefix(do, "send:"):
			n, _ := strconv.Atoi(strings.TrimPrefix(do, "send:"))
			for i := range n {
				if err := ch.Send(ctx, mux.Message{Type: mux.Text, Data: []byte(strconv.Itoa(i))}); err != nil {
					return err
				}
			}
			return nil
		case do == "fail":
			return mux.Errorf(mux.CodeNotFound, "no such thing")
		case do == "closeconn":
			ch.CloseConn(mux.CloseCode(mux.CodeSlowConsumer), mux.CodeSlowConsumer+": could not keep up")
			<-ctx.Done()
			return nil
		case do == "panic":
			panic("scripted")
		case do == "echo":
			for {
				m, err := ch.Recv(ctx)
				if err != nil {
					return nil
				}
				if err := ch.Send(ctx, m); err != nil {
					return err
				}
			}
		}
		return mux.Errorf(mux.CodeBadParams, "do %q", do)
	}), nil
}
