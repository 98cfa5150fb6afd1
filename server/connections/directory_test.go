package connections

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/mux"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// sockets stands in for a replica's multiplexer: a fixed list, and the closes it was asked for.
type sockets struct {
	mu     sync.Mutex
	conns  []mux.ConnInfo
	closed []string
	gen    uint64
}

func (s *sockets) Connections() []mux.ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mux.ConnInfo(nil), s.conns...)
}

func (s *sockets) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func (s *sockets) Disconnect(id string, code int, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.conns {
		if c.ID == id && code == 4013 && reason != "" {
			s.closed = append(s.closed, id)
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			s.gen++
			return true
		}
	}
	return false
}

func (s *sockets) DisconnectUser(user string, code int, reason string) int {
	s.mu.Lock()
	var ids []string
	for _, c := range s.conns {
		if c.UserID == user {
			ids = append(ids, c.ID)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.Disconnect(id, code, reason)
	}
	return len(ids)
}

func (s *sockets) closedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.closed...)
}

func start(t *testing.T, store directory.Store, rdb redis.UniversalClient, replica string, s *sockets) *Directory {
	t.Helper()
	dir, err := directory.New(store, directory.Config{Replica: replica}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	d := New(s, dir, rdb, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Start(ctx)
	return d
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRoutesDisconnectsToTheReplicaHoldingTheSocket(t *testing.T) {
	redistest.Each(t, testRoutesDisconnects)
}

func testRoutesDisconnects(t *testing.T, k redistest.Kind) {
	rdb := redistest.Fresh(t, k).Client(t)
	store := directory.NewRedis(rdb)
	ctx := context.Background()
	sa := &sockets{conns: []mux.ConnInfo{{ID: "a1", UserID: "bob"}}}
	sb := &sockets{conns: []mux.ConnInfo{{ID: "b1", UserID: "bob"}, {ID: "b2", UserID: "carol"}}}
	da, db := start(t, store, rdb, "ra", sa), start(t, store, rdb, "rb", sb)
	defer da.Close()

	waitUntil(t, "replica b's list seen from a", func() bool {
		l, err := da.List(ctx)
		return err == nil && len(l) == 3 && l[0].Replica == "ra" && l[1].Replica == "rb"
	})
	if ok, err := da.Disconnect(ctx, "nope", "root"); ok || err != nil {
		t.Fatalf("unknown connection: %v %v", ok, err)
	}
	if ok, err := da.Disconnect(ctx, "b2", "root"); !ok || err != nil {
		t.Fatalf("disconnect b2: %v %v", ok, err)
	}
	waitUntil(t, "b2 closed on replica b", func() bool { return len(sb.closedIDs()) == 1 && sb.closedIDs()[0] == "b2" })
	if len(sa.closedIDs()) != 0 {
		t.Fatalf("replica a closed %v", sa.closedIDs())
	}
	n, err := da.DisconnectUser(ctx, "bob", "root")
	if err != nil || n != 2 {
		t.Fatalf("DisconnectUser(bob) = %d, %v; want 2", n, err)
	}
	waitUntil(t, "bob closed on both replicas", func() bool { return len(sa.closedIDs()) == 1 && len(sb.closedIDs()) == 2 })

	// A replica that stops withdraws its list.
	db.Close()
	l, err := da.List(ctx)
	if err != nil || len(l) != 0 {
		t.Fatalf("after b stopped: %+v %v", l, err)
	}
}

func TestWithoutRedisEverythingIsLocal(t *testing.T) {
	s := &sockets{conns: []mux.ConnInfo{{ID: "x", UserID: "u"}}}
	d := start(t, directory.NewMemory(), nil, "solo", s)
	defer d.Close()
	l, err := d.List(context.Background())
	if err != nil || len(l) != 1 || l[0].Replica != "solo" {
		t.Fatalf("list %+v %v", l, err)
	}
	if ok, _ := d.Disconnect(context.Background(), "y", "root"); ok {
		t.Fatal("unknown id reported closed")
	}
	if n, _ := d.DisconnectUser(context.Background(), "u", "root"); n != 1 || len(s.closedIDs()) != 1 {
		t.Fatalf("DisconnectUser = %d, closed %v", n, s.closedIDs())
	}
}
