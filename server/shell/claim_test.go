package shell

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/mux"
)

// limitManager is a manager whose sessions outlive the test's opens (no grace expiry midway).
func limitManager(t *testing.T, hub Hub, replica string, maxPerUser int) *Manager {
	cfg := DefaultConfig()
	cfg.RecordingsDir = t.TempDir()
	cfg.Heartbeat = 100 * time.Millisecond
	cfg.Grace = time.Minute
	cfg.MaxPerUser = maxPerUser
	return newManager(t, hub, audit.NewMemory(), nil, cfg, replica)
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
			info := Info{ID: NewSessionID(), Owner: owner, Namespace: "demo", Pod: "web", Replica: m.dir.Replica(), Started: time.Now()}
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
	// Ending a session frees its slot for the next open.
	if err := m2.End(context.Background(), started[0], identity.User{Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, 20*time.Millisecond, "the ended session to leave the directory", func() bool {
		_, err := m1.lookup(context.Background(), started[0])
		return errors.Is(err, ErrNoSession)
	})
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
