package shell

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/mux"
)

// limitManager is a manager whose sessions outlive the test's opens (no grace expiry midway).
func limitManager(t *testing.T, hub Hub, replica string, maxPerUser int) *Manager {
	cfg := DefaultConfig()
	cfg.Replica = replica
	cfg.RecordingsDir = t.TempDir()
	cfg.Heartbeat = 100 * time.Millisecond
	cfg.Grace = time.Minute
	cfg.MaxPerUser = maxPerUser
	m, err := NewManager(hub, audit.NewMemory(), nil, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// openConcurrently starts n sessions for owner at once, spread over managers, and returns the
// ids that started and how many were refused with limit.
func openConcurrently(t *testing.T, managers []*Manager, owner string, n int) (started []string, limited int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		m := managers[i%len(managers)]
		wg.Go(func() {
			<-gate
			info := Info{ID: NewSessionID(), Owner: owner, Namespace: "demo", Pod: "web", Replica: m.cfg.Replica, Started: time.Now()}
			_, err := m.start(info, nil, fakeExec(nil), defaultShells)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				started = append(started, info.ID)
			case mux.AsError(err).Code == mux.CodeLimit:
				limited++
			default:
				t.Errorf("open: %v", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	return started, limited
}

// Concurrent opens by one user on two replicas sharing Redis: exactly --max-shells-per-user
// start, the rest are refused with limit; ending one frees its slot at once.
func TestShellLimitIsAtomicAcrossReplicas(t *testing.T) {
	redistest.Each(t, testShellLimitAcrossReplicas)
}

func testShellLimitAcrossReplicas(t *testing.T, k redistest.Kind) {
	srv := redistest.Fresh(t, k)
	const limit, opens = 3, 16
	m1 := limitManager(t, redisHub(t, srv), "r1", limit)
	m2 := limitManager(t, redisHub(t, srv), "r2", limit)
	started, limited := openConcurrently(t, []*Manager{m1, m2}, "alice", opens)
	if len(started) != limit || limited != opens-limit {
		t.Fatalf("%d started, %d refused with limit; want %d and %d", len(started), limited, limit, opens-limit)
	}
	// Another user is not affected.
	if s, _ := openConcurrently(t, []*Manager{m2}, "bob", 1); len(s) != 1 {
		t.Fatal("bob could not open a shell")
	}
	// Ending a session (Unregister) frees its slot for the next open.
	if err := redisHub(t, srv).Unregister(context.Background(), started[0]); err != nil {
		t.Fatal(err)
	}
	if s, l := openConcurrently(t, []*Manager{m1, m2}, "alice", 4); len(s) != 1 || l != 3 {
		t.Fatalf("after one ended: %d started, %d limited; want 1 and 3", len(s), l)
	}
}

func TestShellLimitIsAtomicInMemory(t *testing.T) {
	const limit, opens = 2, 12
	m := limitManager(t, NewMemoryHub(), "r1", limit)
	started, limited := openConcurrently(t, []*Manager{m}, "alice", opens)
	if len(started) != limit || limited != opens-limit {
		t.Fatalf("%d started, %d refused with limit; want %d and %d", len(started), limited, limit, opens-limit)
	}
}

// A slot whose session's home died (no renewals) frees itself when the entry expires.
func TestRedisClaimExpires(t *testing.T) {
	redistest.Each(t, testClaimExpires)
}

func testClaimExpires(t *testing.T, k redistest.Kind) {
	srv := redistest.Fresh(t, k)
	h := redisHub(t, srv)
	ctx := context.Background()
	if err := h.Claim(ctx, Info{ID: "s1", Owner: "carol"}, 200*time.Millisecond, 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Claim(ctx, Info{ID: "s2", Owner: "carol"}, time.Minute, 1); !errors.Is(err, ErrSessionLimit) {
		t.Fatalf("second claim: %v", err)
	}
	// Renewing the first is not a new claim.
	if err := h.Register(ctx, Info{ID: "s1", Owner: "carol"}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := h.Claim(ctx, Info{ID: "s2", Owner: "carol"}, time.Minute, 1); err != nil {
		t.Fatalf("claim after the first expired: %v", err)
	}
}
