package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/deploy/lock"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// impls runs f against the memory lock and against a real redis-server and Redis Cluster.
func impls(t *testing.T, f func(t *testing.T, l lock.Lock)) {
	t.Run("memory", func(t *testing.T) { f(t, lock.NewMemory(nil)) })
	t.Run("redis", func(t *testing.T) {
		redistest.Each(t, func(t *testing.T, k redistest.Kind) {
			f(t, lock.NewRedis(redistest.Fresh(t, k).Client(t)))
		})
	})
}

func TestExclusiveUnderConcurrentAcquirers(t *testing.T) {
	impls(t, func(t *testing.T, l lock.Lock) {
		ctx := context.Background()
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []int64
		held := 0
		for i := range n {
			wg.Go(func() {
				tok, err := l.Acquire(ctx, "r1", fmt.Sprintf("replica-%d", i), time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, tok)
				case errors.Is(err, lock.ErrHeld):
					held++
				default:
					t.Errorf("acquire: %v", err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 || held != n-1 {
			t.Fatalf("%d acquirers won (%v), %d were told it is held; want 1 and %d", len(won), won, held, n-1)
		}
		h, ok, err := l.Holder(ctx, "r1")
		if err != nil || !ok || h.Token != won[0] {
			t.Fatalf("holder %+v %v %v, want token %d", h, ok, err, won[0])
		}
		// Another room is independent.
		if _, err := l.Acquire(ctx, "r2", "replica-x", time.Minute); err != nil {
			t.Fatalf("another room: %v", err)
		}
		// The holder itself is refused a second acquire, and told who holds it.
		_, err = l.Acquire(ctx, "r1", h.Holder, time.Minute)
		var he *lock.HeldError
		if !errors.As(err, &he) || he.Holder != h.Holder || he.Token != won[0] {
			t.Fatalf("second acquire: %v, want held by %s with token %d", err, h.Holder, won[0])
		}
	})
}

func TestExpiryLetsAnotherHolderInWithAHigherToken(t *testing.T) {
	impls(t, func(t *testing.T, l lock.Lock) {
		ctx := context.Background()
		t1, err := l.Acquire(ctx, "room", "a", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Refresh(ctx, "room", t1, 300*time.Millisecond); err != nil {
			t.Fatalf("refresh by the holder: %v", err)
		}
		var t2 int64
		testwait.Until(t, 10*time.Second, 20*time.Millisecond, "the lease to expire", func() bool {
			var err error
			t2, err = l.Acquire(ctx, "room", "b", time.Minute)
			if err != nil && !errors.Is(err, lock.ErrHeld) {
				t.Fatal(err)
			}
			return err == nil
		})
		if t2 <= t1 {
			t.Fatalf("takeover token %d is not above the first holder's %d", t2, t1)
		}
		// The stale holder can neither extend nor release the new holder's lock.
		if err := l.Refresh(ctx, "room", t1, time.Minute); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("stale refresh: %v, want ErrLost", err)
		}
		if err := l.Release(ctx, "room", t1); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("stale release: %v, want ErrLost", err)
		}
		if h, ok, _ := l.Holder(ctx, "room"); !ok || h != (lock.Held{Holder: "b", Token: t2}) {
			t.Fatalf("holder after stale calls: %+v %v", h, ok)
		}
		// Released, the next holder gets a higher token still.
		if err := l.Release(ctx, "room", t2); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := l.Holder(ctx, "room"); ok {
			t.Fatal("released lock still has a holder")
		}
		t3, err := l.Acquire(ctx, "room", "c", time.Minute)
		if err != nil || t3 <= t2 {
			t.Fatalf("after release: token %d, %v; want above %d", t3, err, t2)
		}
		if err := l.Release(ctx, "room", t3); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx, "room", t3); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("double release: %v, want ErrLost", err)
		}
	})
}

func TestRedisTokensSurviveARestart(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	l := lock.NewRedis(rdb)
	ctx := context.Background()
	t1, err := l.Acquire(ctx, "room", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, "room", t1); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	srv.Restart(t)
	var t2 int64
	testwait.Until(t, 10*time.Second, 50*time.Millisecond, "redis to answer after the restart", func() bool {
		t2, err = l.Acquire(ctx, "room", "b", time.Minute)
		return err == nil
	})
	if t2 <= t1 {
		t.Fatalf("token after a restart %d, want above %d", t2, t1)
	}
	// The keys carry the room as hash tag.
	for _, k := range []string{"yard:{room}:deploy-lock", "yard:{room}:deploy-fence"} {
		if n, err := rdb.Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Fatalf("key %s: %d %v", k, n, err)
		}
	}
}

func TestMemoryClock(t *testing.T) {
	now := time.Unix(1000, 0)
	l := lock.NewMemory(func() time.Time { return now })
	ctx := context.Background()
	t1, err := l.Acquire(ctx, "r", "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(999 * time.Millisecond)
	if _, err := l.Acquire(ctx, "r", "b", time.Second); !errors.Is(err, lock.ErrHeld) {
		t.Fatalf("before expiry: %v", err)
	}
	now = now.Add(time.Millisecond)
	if t2, err := l.Acquire(ctx, "r", "b", time.Second); err != nil || t2 != t1+1 {
		t.Fatalf("at expiry: %d %v", t2, err)
	}
	if _, err := l.Acquire(ctx, "r", "b", 0); err == nil {
		t.Fatal("a zero ttl was accepted")
	}
}
