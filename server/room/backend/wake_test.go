package backend

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

// longBlock is longer than any of these tests: a reader that is not woken does not read again
// before the test fails.
const longBlock = time.Minute

// namedClient is a client on tg whose connections carry name, so CLIENT LIST tells them apart.
func namedClient(t *testing.T, tg redistest.Target, name string) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	if tg.Cluster {
		opts, err := redis.ParseClusterURL(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		opts.ClientName = name
		rdb = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		opts.ClientName = name
		rdb = redis.NewClient(opts)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// blockedBackend is a backend whose readers block for longBlock, on a client named after replica.
func blockedBackend(t *testing.T, tg redistest.Target, replica string) *Redis {
	t.Helper()
	b, err := NewRedis(namedClient(t, tg, replica), RedisOptions{Replica: replica, LogRetention: time.Minute, Block: longBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// blockedXReads counts the connections named name that wait in a blocking XREAD.
func blockedXReads(t *testing.T, rdb redis.UniversalClient, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	n := 0
	count := func(ctx context.Context, c *redis.Client) error {
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for line := range strings.SplitSeq(list, "\n") {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " cmd=xread") &&
				strings.Contains(line, " flags=b") {
				n++
			}
		}
		return nil
	}
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, count)
	} else {
		err = count(ctx, rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitBlocked waits until want of b's readers block in XREAD.
func waitBlocked(t *testing.T, b *Redis, want int) {
	t.Helper()
	testwait.Until(t, 10*time.Second, 10*time.Millisecond, fmt.Sprintf("%d readers of %s to block", want, b.opts.Replica),
		func() bool { return blockedXReads(t, b.rdb, b.opts.Replica) == want })
}

// roomsInSlotOf returns n room ids that share room's slot (on single Redis, any ids would do).
func roomsInSlotOf(room string, n int) []string {
	var rooms []string
	for i := 0; len(rooms) < n; i++ {
		if id := fmt.Sprintf("%s-%d", room, i); roomSlot(id) == roomSlot(room) {
			rooms = append(rooms, id)
		}
	}
	return rooms
}

// waitWithin waits for c to hold n entries for at most d.
func (c *collector) waitWithin(t *testing.T, n int, d time.Duration, what string) []Entry {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		got := append([]Entry(nil), c.entries...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("%s: follower got %d entries in %v, want %d", what, len(got), d, n)
		}
	}
}

// A room followed while its reader blocks in XREAD (for a minute here) is read at once: its
// Follow wakes the reader, which reads again with the room. On a cluster the rooms share one
// slot, so one reader blocks for all of them.
func TestRedisFollowWakesBlockedReader(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a := newBackendOn(t, tg, "a")
		b := blockedBackend(t, tg, "wake-b")
		ctx := context.Background()

		first := newCollector()
		defer b.Follow("waking", Pos{}, first.fn)()
		waitBlocked(t, b, 1)
		for i, room := range roomsInSlotOf("waking", 5) {
			c := newCollector()
			defer b.Follow(room, Pos{}, c.fn)()
			if _, err := a.Append(ctx, room, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			got := c.waitWithin(t, 1, 2*time.Second, "room followed while its reader blocked")
			if len(got) != 1 || !bytes.Equal(got[0].Update, []byte{byte(i)}) {
				t.Fatalf("room %s: got %+v", room, got)
			}
			// Back to one blocked reader before the next room, so each Follow finds it blocked.
			waitBlocked(t, b, 1)
		}
		// The first room, idle all along, is still read.
		if _, err := a.Append(ctx, "waking", []byte{9}); err != nil {
			t.Fatal(err)
		}
		first.waitWithin(t, 1, 2*time.Second, "first room")
	})
}

// The race the wake cursor closes: a room followed, and its wake written, after the reader took
// its room list but before its XREAD reached Redis. Reading the wake stream from "$" would miss
// that wake and leave the room unread for Block.
func TestRedisWakeBeforeXReadIsNotMissed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a := newBackendOn(t, tg, "a")
		b := blockedBackend(t, tg, "gap-b")
		ctx := context.Background()
		var armed atomic.Bool
		paused, release := make(chan struct{}), make(chan struct{})
		b.beforeXRead = func(int) {
			if armed.CompareAndSwap(true, false) {
				paused <- struct{}{}
				<-release
			}
		}
		first := newCollector()
		defer b.Follow("gap", Pos{}, first.fn)()
		waitBlocked(t, b, 1)

		// An update makes the reader read again: it takes its list (only "gap") and pauses.
		armed.Store(true)
		if _, err := a.Append(ctx, "gap", []byte{1}); err != nil {
			t.Fatal(err)
		}
		<-paused
		reader := b.readerOf(roomSlot("gap"))
		b.mu.Lock()
		cursor := b.wakeAt[reader]
		b.mu.Unlock()
		room := roomsInSlotOf("gap", 1)[0]
		c := newCollector()
		defer b.Follow(room, Pos{}, c.fn)()
		testwait.Until(t, 10*time.Second, 5*time.Millisecond, "the wake to be written", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return cursor.Less(b.wakeAt[reader])
		})
		close(release)

		if _, err := a.Append(ctx, room, []byte{2}); err != nil {
			t.Fatal(err)
		}
		got := c.waitWithin(t, 1, 2*time.Second, "room followed between list and XREAD")
		if !bytes.Equal(got[0].Update, []byte{2}) {
			t.Fatalf("got %x", got[0].Update)
		}
		first.waitWithin(t, 1, 2*time.Second, "first room")
	})
}

// Follows racing with the reader, with no pause to let it block: every room's update arrives
// well before Block, whether its wake came before, during or after the reader took its list.
func TestRedisFollowsRacingTheReader(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a := newBackendOn(t, tg, "a")
		b := blockedBackend(t, tg, "race-b")
		ctx := context.Background()
		rooms := roomsInSlotOf("race", 40)
		cs := make([]*collector, len(rooms))
		for i, room := range rooms {
			if _, err := a.Append(ctx, room, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			cs[i] = newCollector()
			defer b.Follow(room, Pos{}, cs[i].fn)()
		}
		for i, c := range cs {
			got := c.waitWithin(t, 1, 5*time.Second, rooms[i])
			if !bytes.Equal(got[0].Update, []byte{byte(i)}) {
				t.Fatalf("room %s: got %x", rooms[i], got[0].Update)
			}
		}
	})
}

// Wake entries, this process's and other replicas', end XREADs but never reach a follower.
func TestRedisWakesNeverReachFollowers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a := newBackendOn(t, tg, "a")
		b := newBackendOn(t, tg, "b")
		ctx := context.Background()
		c := newCollector()
		defer b.Follow("quiet", Pos{}, c.fn)()
		reader := b.readerOf(roomSlot("quiet"))
		testwait.Until(t, 10*time.Second, 10*time.Millisecond, "the reader to read", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.reading[reader]
		})
		others := roomsInSlotOf("quiet", 10)
		for i, room := range others {
			// b's own wake (following a room), and a's, as another replica's Follow writes it.
			b.Follow(room, Pos{}, func([]Entry) {})()
			if _, err := a.writeWakes(ctx, []int{reader}); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				if _, err := a.Append(ctx, "quiet", []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := c.waitFor(t, 4)
		n, err := b.rdb.XLen(ctx, wakeKey(reader)).Result()
		if err != nil || n != 1 {
			t.Fatalf("wake stream %s holds %d entries (%v), want 1", wakeKey(reader), n, err)
		}
		if ttl, err := b.rdb.PTTL(ctx, wakeKey(reader)).Result(); err != nil || ttl <= 0 || ttl > wakeTTL {
			t.Fatalf("wake stream %s expires in %v (%v), want within %v", wakeKey(reader), ttl, err, wakeTTL)
		}
		time.Sleep(300 * time.Millisecond) // several more reads of b's (Block is 50 ms here)
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.entries) != 4 || c.reloads != 0 {
			t.Fatalf("follower got %d entries and %d reloads, want the 4 updates", len(c.entries), c.reloads)
		}
		for i, e := range got {
			if !bytes.Equal(e.Update, []byte{byte(3 * i)}) {
				t.Fatalf("entry %d = %x, want %x", i, e.Update, []byte{byte(3 * i)})
			}
		}
	})
}

// Close ends readers blocked in XREAD now, not after Block.
func TestRedisCloseWakesBlockedReaders(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		b := blockedBackend(t, tg, "close-b")
		var rooms []string
		slots := map[uint16]bool{}
		for i := 0; len(slots) < 5; i++ {
			room := fmt.Sprintf("close-%d", i)
			rooms, slots[roomSlot(room)] = append(rooms, room), true
		}
		for _, room := range rooms {
			b.Follow(room, Pos{}, func([]Entry) {})
		}
		readers := 1
		if k == redistest.Clustered {
			readers = len(slots)
		}
		waitBlocked(t, b, readers)
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Close took %v with readers blocked for %v", d, longBlock)
		}
	})
}

// A slot's reader ends as soon as its last room is no longer followed, not after Block.
func TestClusterStopEndsBlockedSlotReader(t *testing.T) {
	tg := redistest.Fresh(t, redistest.Clustered)
	b := blockedBackend(t, tg, "stop-b")
	stop := b.Follow("lone", Pos{}, func([]Entry) {})
	waitBlocked(t, b, 1)
	stop()
	readers := func() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.slotReaders) }
	testwait.Until(t, 5*time.Second, 10*time.Millisecond, "the slot reader to end", func() bool { return readers() == 0 })
	waitBlocked(t, b, 0)
}

// Every slot has a wake stream of its own: a short key in exactly that slot.
func TestWakeKeysCoverEverySlot(t *testing.T) {
	seen := map[string]bool{}
	for slot := range slotCount {
		key := wakeKey(slot)
		if got := keySlot(key); int(got) != slot {
			t.Fatalf("wake key %q of slot %d is in slot %d", key, slot, got)
		}
		if tag := wakeTags()[slot]; len(tag) > 4 || seen[tag] {
			t.Fatalf("slot %d: tag %q (too long, or another slot's)", slot, tag)
		}
		seen[wakeTags()[slot]] = true
	}
}
