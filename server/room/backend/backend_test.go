package backend

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// collector gathers what a follower receives.
type collector struct {
	mu      sync.Mutex
	entries []Entry
	reloads int
	ch      chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) fn(es []Entry) {
	c.mu.Lock()
	if es == nil {
		c.reloads++
	}
	c.entries = append(c.entries, es...)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) waitFor(t *testing.T, n int) []Entry {
	t.Helper()
	return c.waitWithin(t, n, 10*time.Second, "waiting")
}

func newRedisBackend(t *testing.T, url, replica string) *Redis {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1 // the outage test wants failures at once
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return newBackendWith(t, rdb, replica)
}

// newBackendOn is a backend on a single Redis or a Redis Cluster.
func newBackendOn(t *testing.T, tg redistest.Target, replica string) *Redis {
	t.Helper()
	return newBackendWith(t, tg.Client(t), replica)
}

func newBackendWith(t *testing.T, rdb redis.UniversalClient, replica string) *Redis {
	t.Helper()
	b, err := NewRedis(rdb, RedisOptions{Replica: replica, LogRetention: time.Millisecond, Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// conformance runs the behaviour every backend shares.
func conformance(t *testing.T, newBackend func(t *testing.T) Backend) {
	ctx := context.Background()
	t.Run("append, load and follow", func(t *testing.T) {
		b := newBackend(t)
		st, err := b.Load(ctx, "empty")
		if err != nil || st.Snapshot != nil || len(st.Entries) != 0 || !st.Last.IsZero() {
			t.Fatalf("empty room: %+v, %v", st, err)
		}
		p1, err := b.Append(ctx, "r", []byte{1})
		if err != nil {
			t.Fatal(err)
		}
		c := newCollector()
		stop := b.Follow("r", p1, c.fn)
		defer stop()
		var want [][]byte
		last := p1
		for i := 2; i < 12; i++ {
			p, err := b.Append(ctx, "r", []byte{byte(i), 0xff})
			if err != nil {
				t.Fatal(err)
			}
			if !last.Less(p) {
				t.Fatalf("position %v not after %v", p, last)
			}
			last = p
			want = append(want, []byte{byte(i), 0xff})
		}
		got := c.waitFor(t, len(want))
		for i := range want {
			if !bytes.Equal(got[i].Update, want[i]) {
				t.Fatalf("entry %d = %x, want %x", i, got[i].Update, want[i])
			}
		}
		st, err = b.Load(ctx, "r")
		if err != nil || len(st.Entries) != 11 || st.Last != last {
			t.Fatalf("load: %d entries, last %v (want 11, %v), %v", len(st.Entries), st.Last, last, err)
		}
		rooms, err := b.Rooms(ctx)
		if err != nil || len(rooms) != 1 || rooms[0] != "r" {
			t.Fatalf("rooms = %v, %v", rooms, err)
		}
	})
	t.Run("compact keeps what the snapshot does not cover", func(t *testing.T) {
		b := newBackend(t)
		var ps []Pos
		for i := range 5 {
			p, err := b.Append(ctx, "c", []byte{byte(i)})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		time.Sleep(5 * time.Millisecond) // past the log retention
		if err := b.Compact(ctx, "c", []byte("snap-3"), ps[2]); err != nil {
			t.Fatal(err)
		}
		st, err := b.Load(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if string(st.Snapshot) != "snap-3" || st.SnapshotPos != ps[2] || len(st.Entries) != 2 ||
			st.Entries[0].Pos != ps[3] || st.Last != ps[4] {
			t.Fatalf("after compaction: %+v", st)
		}
		// An older snapshot arriving late changes nothing.
		if err := b.Compact(ctx, "c", []byte("snap-1"), ps[0]); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.Load(ctx, "c"); string(st.Snapshot) != "snap-3" || len(st.Entries) != 2 {
			t.Fatalf("older snapshot replaced a newer one: %+v", st)
		}
	})
	t.Run("lease", func(t *testing.T) {
		b := newBackend(t)
		// Long enough that a loaded machine does not let it expire before the second try.
		if ok, err := b.TryLease(ctx, "l", "a", time.Second); !ok || err != nil {
			t.Fatalf("first lease: %v %v", ok, err)
		}
		if ok, err := b.TryLease(ctx, "l", "b", time.Second); ok || err != nil {
			t.Fatalf("second lease while held: %v %v", ok, err)
		}
		time.Sleep(1100 * time.Millisecond)
		if ok, err := b.TryLease(ctx, "l", "b", time.Second); !ok || err != nil {
			t.Fatalf("lease after expiry: %v %v", ok, err)
		}
	})
}

func TestMemory(t *testing.T) {
	conformance(t, func(*testing.T) Backend { return NewMemory() })
}

func TestRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		conformance(t, func(t *testing.T) Backend {
			// Each subtest gets an empty Redis so rooms listings do not mix.
			return newBackendOn(t, redistest.Fresh(t, k), "r1")
		})
	})
}

func TestRedisReplicasShareRooms(t *testing.T) {
	redistest.Each(t, testReplicasShareRooms)
}

func testReplicasShareRooms(t *testing.T, k redistest.Kind) {
	tg := redistest.Fresh(t, k)
	a := newBackendOn(t, tg, "a")
	b := newBackendOn(t, tg, "b")
	ctx := context.Background()

	c := newCollector()
	stop := b.Follow("shared", Pos{}, c.fn)
	defer stop()
	for i := range 20 {
		if _, err := a.Append(ctx, "shared", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got := c.waitFor(t, 20)
	for i, e := range got {
		if e.Update[0] != byte(i) {
			t.Fatalf("entry %d = %x", i, e.Update)
		}
	}

	// Awareness reaches the other replica, never the sender.
	gotA, gotB := make(chan AwarenessMessage, 4), make(chan AwarenessMessage, 4)
	stopA := a.Subscribe("shared", func(m AwarenessMessage) { gotA <- m })
	defer stopA()
	stopB := b.Subscribe("shared", func(m AwarenessMessage) { gotB <- m })
	defer stopB()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Subscriptions are asynchronous: publish until one arrives.
		if err := a.Publish(ctx, "shared", AwarenessMessage{Update: []byte{1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-gotB:
			if m.Replica != "a" || !bytes.Equal(m.Update, []byte{1, 2, 3}) {
				t.Fatalf("b got %+v", m)
			}
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("awareness never reached replica b")
			}
			continue
		}
		break
	}
	select {
	case m := <-gotA:
		t.Fatalf("sender received its own awareness: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedisBackend(t, srv.URL(), "a")
	b := newRedisBackend(t, srv.URL(), "b")
	ctx := context.Background()
	c := newCollector()
	stop := b.Follow("o", Pos{}, c.fn)
	defer stop()
	var acked []byte
	for i := range 5 {
		if _, err := a.Append(ctx, "o", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, byte(i))
	}
	c.waitFor(t, 5)

	srv.Kill()
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := a.Append(actx, "o", []byte{99})
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append with Redis down: %v, want ErrUnavailable", err)
	}
	if err := a.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ping with Redis down: %v", err)
	}
	srv.Restart(t)

	for i := 5; i < 10; i++ {
		if _, err := a.Append(ctx, "o", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, byte(i))
	}
	got := c.waitFor(t, 10)
	var seen []byte
	for _, e := range got {
		seen = append(seen, e.Update...)
	}
	if !bytes.Equal(seen, acked) {
		t.Fatalf("follower saw %v, acknowledged %v", seen, acked)
	}
	// The outage outlasted the (1 ms) log retention: the follower was told to reload.
	c.mu.Lock()
	reloads := c.reloads
	c.mu.Unlock()
	if reloads == 0 {
		t.Error("follower not told to reload after an outage longer than the log retention")
	}
	st, err := b.Load(ctx, "o")
	if err != nil || len(st.Entries) != 10 {
		t.Fatalf("after restart load: %d entries, %v", len(st.Entries), err)
	}
}

// A room reloaded on a replica subscribes again before the old instance stops; the old stop
// must not cut the new subscription.
func TestRedisStaleStopKeepsNewerSubscription(t *testing.T) {
	redistest.Each(t, testStaleStopKeepsNewerSubscription)
}

func testStaleStopKeepsNewerSubscription(t *testing.T, k redistest.Kind) {
	tg := redistest.Fresh(t, k)
	a := newBackendOn(t, tg, "a")
	b := newBackendOn(t, tg, "b")
	ctx := context.Background()
	oldStop := b.Subscribe("re", func(AwarenessMessage) {})
	got := make(chan AwarenessMessage, 16)
	newStop := b.Subscribe("re", func(m AwarenessMessage) { got <- m })
	defer newStop()
	oldStop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := a.Publish(ctx, "re", AwarenessMessage{Update: []byte{1}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the newer subscription was cut by the older one's stop")
		}
	}
}
