package redistest

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []any{"u", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded against a killed server")
	}
	s.Restart(t)

	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("after restart GET k = %q, %v; want v", got, err)
	}
	if n, err := c.XLen(ctx, "s").Result(); err != nil || n != 1 {
		t.Fatalf("after restart XLEN s = %d, %v; want 1", n, err)
	}
}

func TestServersAreIndependent(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() || a.Dir() == b.Dir() {
		t.Fatalf("two servers share %s / %s", a.Addr(), a.Dir())
	}
}

func TestClusterHasThreeMastersWithReplicas(t *testing.T) {
	c := StartCluster(t)
	t.Logf("cluster of %d nodes started in %v", ClusterNodes, c.Startup.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := c.Client(t)
	// Keys in many slots, so every master takes writes.
	for i := range 100 {
		if err := rdb.Set(ctx, "k"+string(rune('a'+i%26))+string(rune('a'+i/26)), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	shards, err := rdb.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 {
		t.Fatalf("%d shards, want 3", len(shards))
	}
	for _, sh := range shards {
		if len(sh.Nodes) != 2 {
			t.Fatalf("shard %v has %d nodes, want a master and a replica", sh.Slots, len(sh.Nodes))
		}
	}
	var masters atomic.Int32 // ForEachMaster runs concurrently
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		if keys == 0 {
			t.Errorf("master %s holds no key", n.Options().Addr)
		}
		masters.Add(1)
		return nil
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("%d masters, %v; want 3", masters.Load(), err)
	}

	c.Stop()
	for _, s := range c.Nodes() {
		if ping(ctx, s.Addr()) == nil {
			t.Errorf("node %s still answers after Stop", s.Addr())
		}
	}
}

// newClient is a go-redis client of s that fails fast: no retries, a short timeout.
func newClient(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTerminateShutsDownCleanlyAndRestarts(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, s)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Terminate()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded against a terminated server")
	}
	// A clean shutdown is logged as such, unlike a crash.
	if log := tail(filepath.Join(s.Dir(), "redis.log")); !strings.Contains(log, "ready to exit, bye bye") {
		t.Fatalf("redis.log does not show a clean shutdown:\n%s", log)
	}
	s.Restart(t)
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("after SIGTERM and restart GET k = %q, %v; want v", got, err)
	}
}

func TestFreezeHangsUntilThaw(t *testing.T) {
	s := Start(t)
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	s.Freeze(t)
	// The port stays open: the connection is accepted or kept, the answer never comes.
	if err := ping(ctx, s.Addr()); err == nil {
		t.Fatal("a frozen server answered PING")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a frozen server answered a client's PING")
	}

	s.Thaw(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Thaw: %v", err)
	}
	// Kill ends a frozen server too (the test's cleanup relies on it).
	s.Freeze(t)
	s.Kill()
	if err := ping(ctx, s.Addr()); err == nil {
		t.Fatal("a killed server answered PING")
	}
}
