package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// replica is one in-process server on loopback.
type replica struct {
	*yardtest.Server
	name string
	url  string
}

func startReplica(t *testing.T, name string, rs redistest.Target) *replica {
	t.Helper()
	s := yardtest.Start(t, func(cfg *config.Config) {
		cfg.JWTSecret = "connections-test-secret-0123456789"
		cfg.RedisURL, cfg.RedisCluster = rs.URL, rs.Cluster
		cfg.Replica = name
		cfg.Rooms.Grace = time.Second
		cfg.Kubeconfig = ""
		cfg.StaticDir = filepath.Join(t.TempDir(), "none")
		cfg.Streams.RecordingsDir = "off"
	})
	return &replica{Server: s, name: name, url: s.URL}
}

func (r *replica) login(t *testing.T, name string, admin bool) string {
	t.Helper()
	return r.SignIn(t, name, admin)
}

// do sends a request and decodes a 200 answer into v; it returns the status.
func (r *replica) do(t *testing.T, method, token, path string, v any) int {
	t.Helper()
	resp, b := r.Request(t, method, token, path, nil)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (r *replica) dial(t *testing.T, token string) *muxclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := muxclient.Dial(ctx, r.WSURL("/ws"), token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func open(t *testing.T, c *muxclient.Conn, kind string, params url.Values) *muxclient.Channel {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := c.Open(ctx, kind, params)
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	return ch
}

// announce sends an awareness state for clientID on a sync channel.
func announce(t *testing.T, ch *muxclient.Channel, clientID uint64, name string) {
	t.Helper()
	u := yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: clientID, Clock: 1,
		State: json.RawMessage(fmt.Sprintf(`{"user":{"name":%q}}`, name))}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: yprotocol.EncodeAwareness(u.Encode())}); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 15*time.Second, 50*time.Millisecond, what, cond)
}

type connList struct {
	Connections []struct {
		ID       string `json:"id"`
		UserID   string `json:"userId"`
		Replica  string `json:"replica"`
		Endpoint string `json:"endpoint"`
		Channels []struct {
			Kind   string `json:"kind"`
			Target string `json:"target"`
		} `json:"channels"`
	} `json:"connections"`
}

type presenceList struct {
	Presence []struct {
		Room      string          `json:"room"`
		UserID    string          `json:"userId"`
		ConnID    string          `json:"connId"`
		Replica   string          `json:"replica"`
		Awareness json.RawMessage `json:"awareness"`
		Streams   []struct {
			Kind   string `json:"kind"`
			Target string `json:"target"`
		} `json:"streams"`
	} `json:"presence"`
}

func waitClosed(t *testing.T, c *muxclient.Conn) (int, string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection stayed open")
	}
	return c.CloseStatus()
}

func TestAdminSeesAndClosesConnectionsOnEveryReplica(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	redistest.Each(t, testConnectionsOnEveryReplica)
}

func testConnectionsOnEveryReplica(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	a := startReplica(t, "ra", rs)
	b := startReplica(t, "rb", rs)
	root := a.login(t, "root", true)
	bobTok := b.login(t, "bob", false)

	// bob, on replica b, is in a room and has a second channel open.
	bob := b.dial(t, bobTok)
	sync := open(t, bob, "sync", url.Values{"room": {"r1"}})
	open(t, bob, "ping", nil)
	// Replica a sees bob join before he says who he is; then his awareness follows soon.
	eventually(t, "bob's row on replica a", func() bool {
		var p presenceList
		a.do(t, http.MethodGet, root, "/api/admin/presence", &p)
		return len(p.Presence) == 1 && p.Presence[0].UserID == "bob" && len(p.Presence[0].Awareness) == 0
	})
	announce(t, sync, 4242, "bob")
	announced := time.Now()

	// Admins only.
	if s := a.do(t, http.MethodGet, bobTok, "/api/admin/connections", nil); s != http.StatusForbidden {
		t.Fatalf("non-admin GET connections: %d, want 403", s)
	}
	if s := a.do(t, http.MethodDelete, bobTok, "/api/admin/connections/whatever", nil); s != http.StatusForbidden {
		t.Fatalf("non-admin DELETE connection: %d, want 403", s)
	}
	if s := a.do(t, http.MethodDelete, bobTok, "/api/admin/users/bob/connections", nil); s != http.StatusForbidden {
		t.Fatalf("non-admin DELETE user connections: %d, want 403", s)
	}

	// Replica a lists bob's connection on b with its channels.
	var bobConn string
	eventually(t, "bob's connection listed by replica a", func() bool {
		var l connList
		if a.do(t, http.MethodGet, root, "/api/admin/connections", &l) != http.StatusOK {
			return false
		}
		for _, c := range l.Connections {
			if c.UserID != "bob" || c.Replica != "rb" || c.Endpoint != "/ws" {
				continue
			}
			kinds := map[string]string{}
			for _, ch := range c.Channels {
				kinds[ch.Kind] = ch.Target
			}
			if kinds["sync"] == "room r1" && len(kinds) == 2 {
				bobConn = c.ID
				return true
			}
		}
		return false
	})

	// The admin presence row carries bob's other channels.
	eventually(t, "bob's presence row with his streams", func() bool {
		var p presenceList
		if a.do(t, http.MethodGet, root, "/api/admin/presence", &p) != http.StatusOK {
			return false
		}
		for _, e := range p.Presence {
			if e.UserID == "bob" && e.ConnID == bobConn && e.Replica == "rb" && len(e.Awareness) > 0 &&
				len(e.Streams) == 1 && e.Streams[0].Kind == "ping" {
				return true
			}
		}
		return false
	})

	// Registered when the awareness arrived, not at the next 10 s round.
	if d := time.Since(announced); d > 5*time.Second {
		t.Fatalf("bob's awareness reached the other replica's presence after %s", d)
	}

	if s := a.do(t, http.MethodDelete, root, "/api/admin/connections/0000000000000000", nil); s != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown connection: %d, want 404", s)
	}
	// Closed from replica a, on replica b.
	if s := a.do(t, http.MethodDelete, root, "/api/admin/connections/"+bobConn, nil); s != http.StatusNoContent {
		t.Fatalf("DELETE bob's connection: %d, want 204", s)
	}
	if code, reason := waitClosed(t, bob); code != 4013 || !strings.HasPrefix(reason, mux.CodeDisconnected+": disconnected by root") {
		t.Fatalf("bob's close: %d %q, want 4013 disconnected_by_admin", code, reason)
	}
	// bob's room entry is gone everywhere: no stale row.
	eventually(t, "bob's presence row to go", func() bool {
		var p presenceList
		if a.do(t, http.MethodGet, root, "/api/admin/presence", &p) != http.StatusOK {
			return false
		}
		for _, e := range p.Presence {
			if e.UserID == "bob" {
				return false
			}
		}
		return true
	})

	// Every connection of a user, on both replicas.
	bob1, bob2 := a.dial(t, bobTok), b.dial(t, bobTok)
	eventually(t, "bob's new connections listed", func() bool {
		var l connList
		a.do(t, http.MethodGet, root, "/api/admin/connections", &l)
		n := 0
		for _, c := range l.Connections {
			if c.UserID == "bob" {
				n++
			}
		}
		return n == 2
	})
	var out struct{ Disconnected int }
	if s := a.do(t, http.MethodDelete, root, "/api/admin/users/bob/connections", &out); s != http.StatusOK || out.Disconnected != 2 {
		t.Fatalf("DELETE bob's connections: %d %+v, want 200 and 2", s, out)
	}
	for _, c := range []*muxclient.Conn{bob1, bob2} {
		if code, _ := waitClosed(t, c); code != 4013 {
			t.Fatalf("close %d, want 4013", code)
		}
	}
}

// Leaving a room and coming back on the same connection (a page change in the browser) leaves
// exactly one row, the live one.
func TestPresenceHasNoStaleRowAfterRejoin(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	a := startReplica(t, "solo", redistest.Target{})
	root := a.login(t, "root", true)
	carol := a.dial(t, a.login(t, "carol", false))
	first := open(t, carol, "sync", url.Values{"room": {"r2"}})
	announce(t, first, 11, "carol")
	rows := func() (n int, withState int, conn string) {
		var p presenceList
		if a.do(t, http.MethodGet, root, "/api/admin/presence", &p) != http.StatusOK {
			t.Fatal("presence")
		}
		for _, e := range p.Presence {
			if e.UserID == "carol" {
				n++
				if len(e.Awareness) > 0 && string(e.Awareness) != "null" {
					withState++
				}
				conn = e.ConnID
			}
		}
		return n, withState, conn
	}
	eventually(t, "carol's first row", func() bool { n, s, _ := rows(); return n == 1 && s == 1 })
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := open(t, carol, "sync", url.Values{"room": {"r2"}})
	announce(t, second, 12, "carol")
	eventually(t, "one row for carol, with her state", func() bool { n, s, _ := rows(); return n == 1 && s == 1 })
	time.Sleep(500 * time.Millisecond)
	if n, s, _ := rows(); n != 1 || s != 1 {
		t.Fatalf("%d rows for carol (%d with state), want 1", n, s)
	}
	// Disconnected: no row at all.
	var l connList
	a.do(t, http.MethodGet, root, "/api/admin/connections", &l)
	for _, c := range l.Connections {
		if c.UserID == "carol" && a.do(t, http.MethodDelete, root, "/api/admin/connections/"+c.ID, nil) != http.StatusNoContent {
			t.Fatal("disconnect carol")
		}
	}
	waitClosed(t, carol)
	eventually(t, "carol's row to go", func() bool { n, _, _ := rows(); return n == 0 })
}
