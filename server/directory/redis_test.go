package directory

import (
	"context"
	"slices"
	"testing"

	"github.com/yardhq/yard/server/internal/redistest"
)

// The keys are the documented ones (docs/architecture.md), each scope's under its hash tag.
func TestRedisKeys(t *testing.T) {
	rdb := redistest.Start(t).Target().Client(t)
	d := open(t, NewRedis(rdb), "r1")
	ctx := context.Background()
	must(t, d.Put(ctx, "presence", "r1", []byte("[]")))
	must(t, d.Claim(ctx, "shells", "s1", "alice", 5, []byte("{}")))
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{
		"yard:dir:{presence}:e:r1", "yard:dir:{presence}:ids",
		"yard:dir:{shells}:e:s1", "yard:dir:{shells}:g:alice", "yard:dir:{shells}:ids",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	for _, k := range keys {
		if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > testTTL {
			t.Errorf("%s: TTL %s %v, want at most %s", k, ttl, err, testTTL)
		}
	}
}
