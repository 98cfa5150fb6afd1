package backend

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

func TestKeySlot(t *testing.T) {
	// Values from Redis's CLUSTER KEYSLOT.
	cases := map[string]uint16{
		"":               0,
		"foo":            12182,
		"bar":            5061,
		"hello":          866,
		"{user1000}.a":   keySlot("user1000"),
		"foo{}{bar}":     keySlot("foo{}{bar}"), // an empty first tag hashes the whole key
		"foo{{bar}}zap":  keySlot("{bar"),
		"foo{bar}{zap}":  keySlot("bar"),
		"yard:{r}:lease": keySlot("r"),
	}
	for key, want := range cases {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
	if keySlot("foo{}{bar}") == keySlot("bar") {
		t.Error("an empty hash tag must not select the next one")
	}
}

func TestRoomKeysShareASlot(t *testing.T) {
	for _, room := range []string{"a", "team-1", "ops.prod", "x_y"} {
		s := roomSlot(room)
		for _, k := range []string{updatesKey(room), snapshotKey(room), leaseKey(room), awarenessChan(room)} {
			if keySlot(k) != s {
				t.Errorf("%s: slot %d, room %s has slot %d", k, keySlot(k), room, s)
			}
		}
	}
}

// Follow groups rooms by slot, and stopping the last room of a slot drops the group.
func TestFollowGroupsBySlot(t *testing.T) {
	r := &Redis{follows: map[string]*follow{}, bySlot: map[uint16]map[string]struct{}{}, newRooms: make(chan struct{}, 1)}
	rooms := map[string]uint16{}
	var stops []func()
	for i := range 200 {
		room := fmt.Sprintf("room-%d", i)
		rooms[room] = roomSlot(room)
		stops = append(stops, r.Follow(room, Pos{}, func([]Entry) {}))
	}
	n := 0
	for slot, rs := range r.bySlot {
		for room := range rs {
			if rooms[room] != slot {
				t.Fatalf("room %s grouped under slot %d, its slot is %d", room, slot, rooms[room])
			}
			n++
		}
	}
	if n != len(rooms) {
		t.Fatalf("%d rooms grouped, want %d", n, len(rooms))
	}
	for _, stop := range stops {
		stop()
	}
	if len(r.bySlot) != 0 || len(r.follows) != 0 {
		t.Fatalf("after every stop: %d slot groups, %d follows", len(r.bySlot), len(r.follows))
	}
}

// The slots computed here are the cluster's.
func TestKeySlotMatchesCluster(t *testing.T) {
	rdb := redistest.SharedCluster(t).Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 50 {
		key := updatesKey(fmt.Sprintf("room-%d", i))
		want, err := rdb.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := keySlot(key); int64(got) != want {
			t.Fatalf("keySlot(%q) = %d, cluster says %d", key, got, want)
		}
	}
	for slot := 0; slot < slotCount; slot += 331 {
		got, err := rdb.ClusterKeySlot(ctx, wakeKey(slot)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != int64(slot) {
			t.Fatalf("wake key %q of slot %d: cluster says slot %d", wakeKey(slot), slot, got)
		}
	}
}

// Rooms in many slots (so on every master) are all followed on a cluster.
func TestClusterFollowsRoomsInManySlots(t *testing.T) {
	tg := redistest.Fresh(t, redistest.Clustered)
	a := newBackendOn(t, tg, "a")
	b := newBackendOn(t, tg, "b")
	ctx := context.Background()
	const rooms = 30
	cs := make([]*collector, rooms)
	slots := map[uint16]bool{}
	var stops []func()
	for i := range rooms {
		room := fmt.Sprintf("many-%d", i)
		slots[roomSlot(room)] = true
		cs[i] = newCollector()
		stops = append(stops, b.Follow(room, Pos{}, cs[i].fn))
	}
	if len(slots) < 10 {
		t.Fatalf("rooms in only %d slots", len(slots))
	}
	for round := range 3 {
		for i := range rooms {
			if _, err := a.Append(ctx, fmt.Sprintf("many-%d", i), []byte{byte(round), byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, c := range cs {
		got := c.waitFor(t, 3)
		for round, e := range got {
			if e.Update[0] != byte(round) || e.Update[1] != byte(i) {
				t.Fatalf("room %d entry %d = %x", i, round, e.Update)
			}
		}
	}
	readers := func() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.slotReaders) }
	if n := readers(); n != len(slots) {
		t.Fatalf("%d slot readers for %d slots", n, len(slots))
	}
	// A slot's reader ends once its last room is no longer followed.
	for _, stop := range stops {
		stop()
	}
	testwait.Until(t, 10*time.Second, 20*time.Millisecond, "every slot reader to end", func() bool { return readers() == 0 })
}

// The cost of WAIT: an append on a cluster (XADD, then WAIT 1 on the same connection) against a
// bare XADD to the same master.
func BenchmarkClusterAppend(b *testing.B) {
	c := redistest.SharedCluster(b)
	tg := redistest.Target{URL: c.URL(), Cluster: true}
	ctx := context.Background()
	update := make([]byte, 64)
	b.Run("xadd+wait", func(b *testing.B) {
		be, err := NewRedis(tg.Client(b), RedisOptions{Replica: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		for b.Loop() {
			if _, err := be.Append(ctx, "bench", update); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("xadd", func(b *testing.B) {
		rdb := tg.Client(b)
		for b.Loop() {
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: updatesKey("bench"), Values: []any{"u", update}}).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
