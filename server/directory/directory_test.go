package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// Short enough that expiry tests are quick, long enough that a loaded machine's late refresh
// (up to TTL - Refresh) loses nothing.
const (
	testTTL     = time.Second
	testRefresh = 100 * time.Millisecond
)

func open(t *testing.T, store Store, replica string) *Directory {
	t.Helper()
	d, err := New(store, Config{Replica: replica, TTL: testTTL, Refresh: testRefresh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func ids(t *testing.T, d *Directory, scope string) []string {
	t.Helper()
	es, err := d.List(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID+"="+string(e.Value))
	}
	return out
}

func TestMemory(t *testing.T) {
	conformance(t, func(*testing.T) Store { return NewMemory() })
}

func TestRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		conformance(t, func(t *testing.T) Store { return NewRedis(redistest.Fresh(t, k).Client(t)) })
	})
}

// conformance is what every store does, seen through two replicas' Directories.
func conformance(t *testing.T, newStore func(*testing.T) Store) {
	ctx := context.Background()
	t.Run("put, get, list, delete", func(t *testing.T) {
		s := newStore(t)
		a, b := open(t, s, "a"), open(t, s, "b")
		must(t, a.Put(ctx, "presence", "a", []byte("[1]")))
		must(t, b.Put(ctx, "presence", "b", []byte("[2]")))
		must(t, b.Put(ctx, "other", "b", []byte("x")))
		wantList(t, a, "presence", "both put", "a=[1]", "b=[2]")
		must(t, a.Put(ctx, "presence", "a", []byte("[3]")))
		if v, err := b.Get(ctx, "presence", "a"); err != nil || string(v) != "[3]" {
			t.Fatalf("b gets a's entry: %q %v", v, err)
		}
		if _, err := b.Get(ctx, "presence", "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get of a missing entry: %v", err)
		}
		must(t, b.Delete(ctx, "presence", "b"))
		wantList(t, a, "presence", "after b's delete", "a=[3]")
		if got := ids(t, a, "empty"); len(got) != 0 {
			t.Fatalf("an empty scope lists %v", got)
		}
	})
	t.Run("close deletes the replica's entries", func(t *testing.T) {
		s := newStore(t)
		a, b := open(t, s, "a"), open(t, s, "b")
		must(t, a.Put(ctx, "shells", "s1", []byte("1")))
		must(t, a.Claim(ctx, "shells", "s2", "alice", 1, []byte("2")))
		must(t, b.Put(ctx, "shells", "s3", []byte("3")))
		must(t, a.Close())
		wantList(t, b, "shells", "after a's close", "s3=3")
		// a's claim went with it.
		must(t, b.Claim(ctx, "shells", "s4", "alice", 1, []byte("4")))
		if err := a.Put(ctx, "shells", "s1", []byte("1")); !errors.Is(err, ErrClosed) {
			t.Fatalf("put after close: %v", err)
		}
	})
	t.Run("a dead replica's entries expire, a live one's are refreshed", func(t *testing.T) {
		s := newStore(t)
		live, dead := open(t, s, "live"), open(t, s, "dead")
		must(t, live.Put(ctx, "connections", "live", []byte("l")))
		must(t, live.Claim(ctx, "shells", "s-live", "bob", 2, []byte("l")))
		must(t, dead.Put(ctx, "connections", "dead", []byte("d")))
		must(t, dead.Claim(ctx, "shells", "s-dead", "bob", 2, []byte("d")))
		dead.stop() // killed: nothing renews its entries, nothing deletes them
		wantList(t, live, "connections", "right after the kill", "dead=d", "live=l")
		if err := live.Claim(ctx, "shells", "s-new", "bob", 2, []byte("n")); !errors.Is(err, ErrLimit) {
			t.Fatalf("claim while the dead replica's session counts: %v", err)
		}
		testwait.Until(t, 10*time.Second, 20*time.Millisecond, "the dead replica's entries to expire", func() bool {
			return slices.Equal(ids(t, live, "connections"), []string{"live=l"}) &&
				slices.Equal(ids(t, live, "shells"), []string{"s-live=l"})
		})
		// Its claim expired with it; the live entries lived through several TTLs.
		must(t, live.Claim(ctx, "shells", "s-new", "bob", 2, []byte("n")))
		time.Sleep(2 * testTTL)
		wantList(t, live, "connections", "after 2 TTLs", "live=l")
		wantList(t, live, "shells", "after 2 TTLs", "s-live=l", "s-new=n")
	})
	t.Run("claims count a group across replicas", func(t *testing.T) {
		s := newStore(t)
		a, b := open(t, s, "a"), open(t, s, "b")
		const max, tries = 3, 16
		var mu sync.Mutex
		var won []string
		limited := 0
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range tries {
			d := []*Directory{a, b}[i%2]
			wg.Go(func() {
				<-gate
				id := fmt.Sprintf("s%02d", i)
				err := d.Claim(ctx, "shells", id, "alice", max, []byte(id))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, id)
				case errors.Is(err, ErrLimit):
					limited++
				default:
					t.Errorf("claim %s: %v", id, err)
				}
			})
		}
		close(gate)
		wg.Wait()
		if len(won) != max || limited != tries-max {
			t.Fatalf("%d claims won, %d limited; want %d and %d", len(won), limited, max, tries-max)
		}
		owner := func(id string) *Directory {
			var n int
			_, _ = fmt.Sscanf(id, "s%02d", &n)
			return []*Directory{a, b}[n%2]
		}
		// Claiming one's own entry again renews it, a Put keeps it in its group, another group
		// is not affected.
		must(t, owner(won[0]).Claim(ctx, "shells", won[0], "alice", max, []byte("again")))
		must(t, owner(won[1]).Put(ctx, "shells", won[1], []byte("updated")))
		if err := a.Claim(ctx, "shells", "extra", "alice", max, nil); !errors.Is(err, ErrLimit) {
			t.Fatalf("claim past the limit after a put: %v", err)
		}
		must(t, a.Claim(ctx, "shells", "bobs", "bob", max, nil))
		// Deleting one frees its slot at once.
		must(t, owner(won[2]).Delete(ctx, "shells", won[2]))
		must(t, b.Claim(ctx, "shells", "extra", "alice", max, nil))
	})
}

// A Put the store refused is this replica's all the same: the next refresh writes it.
func TestRefreshWritesWhatAPutCouldNot(t *testing.T) {
	srv := redistest.Start(t)
	d := open(t, NewRedis(srv.Target().Client(t)), "a")
	ctx := context.Background()
	srv.Kill()
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := d.Put(pctx, "presence", "a", []byte("while down"))
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put with Redis down: %v", err)
	}
	srv.Restart(t)
	testwait.Until(t, 10*time.Second, 20*time.Millisecond, "the refresh to write the entry", func() bool {
		v, err := d.Get(ctx, "presence", "a")
		return err == nil && string(v) == "while down"
	})
}

func TestConfig(t *testing.T) {
	if err := (Config{Replica: "a"}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []Config{
		{},
		{Replica: "a", Refresh: time.Millisecond},
		{Replica: "a", TTL: 15 * time.Second},
		{Replica: "a", TTL: time.Second, Refresh: time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v is valid", c)
		}
	}
	d := DefaultConfig()
	if d.TTL != 30*time.Second || d.Refresh != 10*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	dir, err := New(NewMemory(), Config{Replica: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, dir.Close())
	if _, err := New(NewMemory(), Config{}, nil); err == nil {
		t.Fatal("New without a replica name")
	}
}

// wantList fails the test unless d lists exactly want ("id=value") in scope.
func wantList(t *testing.T, d *Directory, scope, when string, want ...string) {
	t.Helper()
	if got := ids(t, d, scope); !slices.Equal(got, want) {
		t.Fatalf("%s: %s lists %q, want %q", when, scope, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
