package muxclient_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startApp runs the real server with no cluster to serve.
func startApp(t *testing.T, mutate func(*config.Config)) *yardtest.Server {
	t.Helper()
	t.Setenv("KUBECONFIG", t.TempDir()+"/none")
	return yardtest.Start(t, func(c *config.Config) {
		c.Kubeconfig = ""
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestAgainstTheRealServer(t *testing.T) {
	s := startApp(t, nil)
	base := s.URL
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := s.SignIn(t, "alice", false)

	// A ticket works once; the client speaks yard.v1 over it.
	tk := s.Ticket(t, tok)
	c, err := muxclient.DialOptions(ctx, base+"/ws?ticket="+tk, muxclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := muxclient.DialOptions(ctx, base+"/ws?ticket="+tk, muxclient.Options{}); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("reused ticket: %v", err)
	}
	// A bearer header works too.
	c2, err := muxclient.Dial(ctx, base+"/ws", tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, conn := range []*muxclient.Conn{c, c2} {
		ch, err := conn.Open(ctx, "ping", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if m, err := ch.Recv(ctx); err != nil || !bytes.Equal(m.Data, []byte("x")) {
			t.Fatalf("echo %q %v", m.Data, err)
		}
		if _, err := conn.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The multiplexer's metrics are on /metrics: two open ping channels, frames both ways.
	body := s.Metrics(t)
	for _, want := range []string{`yard_mux_channels{kind="ping"} 2`, `yard_mux_frames_total{direction="in"}`, `yard_mux_bytes_total{direction="out"}`, `yard_connections{endpoint="mux"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Graceful shutdown: both clients see 1001 and Shutdown returns without error.
	if err := s.App.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, conn := range []*muxclient.Conn{c, c2} {
		<-conn.Done()
		if code, _ := conn.CloseStatus(); code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		if code := errCode(conn.Err()); code != mux.CodeShuttingDown {
			t.Fatalf("conn error %v, want shutting_down", conn.Err())
		}
	}
}

func TestConnectionLimitsAre429(t *testing.T) {
	s := startApp(t, func(c *config.Config) { c.Limits.MaxConnsPerUser = 2 })
	base := s.URL
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok := s.SignIn(t, "bob", false)
	for range 2 {
		c, err := muxclient.Dial(ctx, base+"/ws", tok)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	_, err := muxclient.Dial(ctx, base+"/ws", tok)
	var he *muxclient.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.Code != "conn_limit_user" {
		t.Fatalf("third connection: %v", err)
	}
	// Another user is not affected.
	c, err := muxclient.Dial(ctx, base+"/ws", s.SignIn(t, "carol", false))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

func isStatus(err error, status int) bool {
	var he *muxclient.HTTPError
	return errors.As(err, &he) && he.Status == status
}

func errCode(err error) string {
	var e *mux.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
