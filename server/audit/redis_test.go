package audit

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/internal/redistest"
)

func newTestRedis(t testing.TB, tg redistest.Target, retention time.Duration) (*Redis, redis.UniversalClient) {
	t.Helper()
	rdb := tg.Client(t)
	r, err := NewRedis(rdb, "", retention, "r1")
	if err != nil {
		t.Fatal(err)
	}
	return r, rdb
}

func TestRedisTrail(t *testing.T) { redistest.Each(t, testRedisTrail) }

func testRedisTrail(t *testing.T, k redistest.Kind) {
	srv := redistest.Fresh(t, k)
	r, rdb := newTestRedis(t, srv, time.Hour)
	exerciseTrail(t, r)
	// Every replica reads the same stream: a second client lists what the first wrote.
	other, _ := newTestRedis(t, srv, time.Hour)
	l, err := other.List(context.Background(), Query{})
	if err != nil || len(l) != 4 {
		t.Fatalf("from another replica: %+v %v", l, err)
	}
	// Six records: the four attempts and the outcomes of a and d.
	if n, err := rdb.XLen(context.Background(), RedisKey).Result(); err != nil || n != 6 {
		t.Fatalf("stream %s has %d entries (%v)", RedisKey, n, err)
	}
	if err := r.Finish(context.Background(), "not-an-id", Outcome{Result: ResultOK}); err == nil {
		t.Fatal("a foreign id accepted")
	}
}

func TestRedisTrailPaging(t *testing.T) {
	r, _ := newTestRedis(t, redistest.Start(t).Target(), time.Hour)
	exercisePaging(t, r)
}

// Entries older than the retention are trimmed on the next add, and never listed even before.
func TestRedisTrimsByAge(t *testing.T) { redistest.Each(t, testRedisTrimsByAge) }

func testRedisTrimsByAge(t *testing.T, k redistest.Kind) {
	r, rdb := newTestRedis(t, redistest.Fresh(t, k), time.Second)
	ctx := context.Background()
	old, err := r.Begin(ctx, Entry{User: "alice", Verb: VerbApply})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Finish(ctx, old.ID, Outcome{Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if l, err := r.List(ctx, Query{}); err != nil || len(l) != 0 {
		t.Fatalf("past the retention, listed: %+v %v", l, err)
	}
	fresh, err := r.Record(ctx, Entry{User: "bob", Verb: VerbExec, Result: ResultOK})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(ctx, RedisKey, "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].ID != fresh.ID {
		t.Fatalf("after trimming the stream holds %+v (%v)", msgs, err)
	}
	if l, err := r.List(ctx, Query{}); err != nil || len(l) != 1 || l[0].ID != fresh.ID {
		t.Fatalf("listed %+v %v", l, err)
	}
}

// Redis's clock stamps entries: an entry's time is its stream id's.
func TestRedisEntryTimeIsTheStreamID(t *testing.T) {
	r, _ := newTestRedis(t, redistest.Start(t).Target(), time.Hour)
	e, err := r.Begin(context.Background(), Entry{User: "alice", Verb: VerbDeploy})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.ID, strconv.FormatInt(e.Time.UnixMilli(), 10)+"-") || e.Time.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("id %s, time %s", e.ID, e.Time)
	}
	if d := time.Since(e.Time); d < 0 || d > time.Minute {
		t.Fatalf("time %s is %s from now", e.Time, d)
	}
}

// With Redis gone, recording fails quickly with an error (the caller refuses the write).
func TestRedisDownFailsFast(t *testing.T) {
	srv := redistest.Start(t)
	r, _ := newTestRedis(t, srv.Target(), time.Hour)
	srv.Kill()
	start := time.Now()
	if _, err := r.Begin(context.Background(), Entry{User: "alice", Verb: VerbApply}); err == nil {
		t.Fatal("recorded with Redis down")
	}
	if _, err := r.List(context.Background(), Query{}); err == nil {
		t.Fatal("listed with Redis down")
	}
	if d := time.Since(start); d > 4*redisTimeout {
		t.Fatalf("took %s", d)
	}
}

func BenchmarkRedisBeginFinish(b *testing.B) {
	r, _ := newTestRedis(b, redistest.Start(b).Target(), time.Hour)
	benchBeginFinish(b, r)
}
