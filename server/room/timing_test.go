package room

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/room/backend"
)

// The tests here run rooms on a fake clock: what waits for an interval provably waits until the
// test moves the clock, however loaded the machine is.

// alsoAfterEvent adds fn to what runs on a room's goroutine after each of its events.
func alsoAfterEvent(o *Options, fn func(*room)) {
	prev := o.afterEvent
	o.afterEvent = func(r *room) {
		if prev != nil {
			prev(r)
		}
		fn(r)
	}
}

// An update after a quiet spell leaves at once; updates arriving within SendEvery of the last
// broadcast wait for it and leave together, merged into one message, on this replica and the
// other.
func TestUpdatesLeaveTogether(t *testing.T) {
	const every = time.Second
	clk := newFakeClock()
	srv := redistest.Start(t)
	var hasK5 atomic.Bool // replica a's document has the last update
	paced := func(o *Options) {
		o.SendEvery, o.clock = every, clk
		alsoAfterEvent(o, func(r *room) {
			if m, ok := r.doc.RootJSON()["m"].(map[string]any); ok && r.m.dir.Replica() == "a" && m["k5"] != nil {
				hasK5.Store(true)
			}
		})
	}
	ma := newManager(t, redisBackend(t, srv, "a"), "a", paced)
	mb := newManager(t, redisBackend(t, srv, "b"), "b", paced)
	w := connect(t, ma, "batch", alice)
	near := connect(t, ma, "batch", bob)
	far := connect(t, mb, "batch", bob)
	for _, c := range []*client{w, near, far} {
		eventually(t, "synced", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.synced })
	}
	updates := func(c *client) int { c.mu.Lock(); defer c.mu.Unlock(); return c.updateMsgs }
	got := func(c *client, key string) bool {
		m, _ := c.json()["m"].(map[string]any)
		_, ok := m[key]
		return ok
	}
	nearBefore, farBefore := updates(near), updates(far)
	// The clock does not move: the first update must not wait for it.
	w.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "k0", 0) })
	eventually(t, "the first update on both replicas", func() bool { return got(near, "k0") && got(far, "k0") })
	for i := 1; i <= 5; i++ {
		w.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, fmt.Sprintf("k%d", i), i) })
	}
	eventually(t, "the room applied the next five", hasK5.Load)
	if got(near, "k1") {
		t.Fatal("an update within SendEvery of the last broadcast left before SendEvery passed")
	}
	clk.Advance(every)
	eventually(t, "the next five on both replicas", func() bool { return got(near, "k5") && got(far, "k5") })
	if n := updates(near) - nearBefore; n != 2 {
		t.Fatalf("6 updates reached a client of the same replica in %d messages, want 2 (the first, then the rest merged)", n)
	}
	if n := updates(far) - farBefore; n > 3 {
		t.Fatalf("6 updates reached the other replica's client in %d messages", n)
	}
	if !sameJSON(near.json(), far.json()) || !sameJSON(near.json(), w.json()) {
		t.Fatalf("diverged: %v / %v / %v", w.json(), near.json(), far.json())
	}
}

// Renewals (same state, higher clock) from several clients leave together, once per
// renewalDelay, locally and on the other replica; a changed state after a quiet spell does not
// wait, and changes close together leave in two updates: the first at once, the rest together.
func TestAwarenessLeavesTogether(t *testing.T) {
	const n = 5
	clk := newFakeClock()
	srv := redistest.Start(t)
	var lowest [2]atomic.Uint64 // per replica (a, b): the lowest clock of the n states in its room
	observe := func(i int) func(*Options) {
		return func(o *Options) {
			o.clock = clk
			alsoAfterEvent(o, func(r *room) {
				lo := uint64(math.MaxUint64)
				for k := range n {
					c, _ := r.aw.states.Clock(uint64(1000 + k))
					lo = min(lo, c)
				}
				lowest[i].Store(lo)
			})
		}
	}
	ma := newManager(t, redisBackend(t, srv, "a"), "a", observe(0))
	mb := newManager(t, redisBackend(t, srv, "b"), "b", observe(1))
	far := connect(t, mb, "renew", bob)
	near := connect(t, ma, "renew", bob)
	renewers := make([]*client, n)
	for i := range renewers {
		renewers[i] = connect(t, ma, "renew", alice)
	}
	entry := func(i int, clock uint64, state string) []byte {
		return yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{
			{ClientID: uint64(1000 + i), Clock: clock, State: json.RawMessage(state)}}}.Encode())
	}
	clockAt := func(c *client, i int) uint64 { v, _ := c.aware.Clock(uint64(1000 + i)); return v }
	allAt := func(c *client, clock uint64) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := range n {
			if clockAt(c, i) != clock {
				return false
			}
		}
		return true
	}
	msgs := func(c *client) int { c.mu.Lock(); defer c.mu.Unlock(); return c.awareMsgs }
	roomAt := func(i int, clock uint64) func() bool { return func() bool { return lowest[i].Load() == clock } }

	for i, c := range renewers {
		c.send(entry(i, 1, `{"user":"alice"}`))
	}
	deadline := time.Now().Add(30 * time.Second)
	for !allAt(near, 1) || !allAt(far, 1) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the first states on both replicas")
		}
		clk.Advance(awarenessEvery)
		time.Sleep(10 * time.Millisecond)
	}
	nearBefore, farBefore := msgs(near), msgs(far)

	for i, c := range renewers {
		c.send(entry(i, 2, `{"user":"alice"}`))
	}
	eventually(t, "replica a applied the renewals", roomAt(0, 2))
	if msgs(near) != nearBefore || msgs(far) != farBefore {
		t.Fatal("renewals left before renewalDelay passed")
	}
	clk.Advance(renewalDelay)
	eventually(t, "renewals on replica a's client", func() bool { return allAt(near, 2) })
	eventually(t, "replica b applied the renewals", roomAt(1, 2))
	clk.Advance(renewalDelay)
	eventually(t, "renewals on replica b's client", func() bool { return allAt(far, 2) })
	if got := msgs(near) - nearBefore; got != 1 {
		t.Fatalf("%d renewals reached a local client in %d messages, want 1", n, got)
	}
	if got := msgs(far) - farBefore; got != 1 {
		t.Fatalf("%d renewals reached the other replica's client in %d messages, want 1", n, got)
	}
	eventually(t, "each renewer hears its own renewal", func() bool {
		for i, c := range renewers {
			c.mu.Lock()
			clock := clockAt(c, i)
			c.mu.Unlock()
			if clock != 2 {
				return false
			}
		}
		return true
	})

	// After a quiet spell a change leaves at once: the clock does not move until it arrived.
	clk.Advance(awarenessEvery)
	renewers[0].send(entry(0, 3, `{"user":"alice","cursor":[1,2]}`))
	eventually(t, "a changed state on both replicas", func() bool {
		near.mu.Lock()
		a := clockAt(near, 0)
		near.mu.Unlock()
		far.mu.Lock()
		b := clockAt(far, 0)
		far.mu.Unlock()
		return a == 3 && b == 3
	})

	clk.Advance(awarenessEvery)
	nearBefore, farBefore = msgs(near), msgs(far)
	for i, c := range renewers {
		c.send(entry(i, 4, fmt.Sprintf(`{"user":"alice","cursor":[%d,4]}`, i)))
	}
	eventually(t, "replica a applied the changes", roomAt(0, 4))
	clk.Advance(awarenessEvery)
	eventually(t, "changes on replica a's client", func() bool { return allAt(near, 4) })
	eventually(t, "replica b applied the changes", roomAt(1, 4))
	clk.Advance(awarenessEvery)
	eventually(t, "changes on replica b's client", func() bool { return allAt(far, 4) })
	if got := msgs(near) - nearBefore; got != 2 {
		t.Fatalf("%d changes at once reached a local client in %d messages, want the first alone and the rest together", n, got)
	}
	if got := msgs(far) - farBefore; got > 2 {
		t.Fatalf("%d changes at once reached the other replica's client in %d messages, want at most 2", n, got)
	}
}

// A room stays loaded for the grace period after its last client left, then unloads (compacting
// its log) and loads again on the next read.
func TestRoomUnloadsAfterGraceAndReloads(t *testing.T) {
	const grace = 10 * time.Second
	clk := newFakeClock()
	var events atomic.Int64
	be := backend.NewMemory()
	m := newManager(t, be, "solo", func(o *Options) {
		o.clock, o.Grace = clk, grace
		alsoAfterEvent(o, func(*room) { events.Add(1) })
	})
	loaded := func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.rooms) }
	c := connect(t, m, "idle", alice)
	c.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("krates").Set(tx, "k", "v") })
	eventually(t, "stored", func() bool {
		st, _ := be.Load(context.Background(), "idle")
		return len(st.Entries)+len(st.Snapshot) > 0
	})
	c.close()
	eventually(t, "the client left", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.conns) == 0 })
	// Three checks (every CheckInterval) fall within the grace period.
	for range 3 {
		before := events.Load()
		clk.Advance(yprotocol.CheckInterval)
		eventually(t, "the room's check", func() bool { return events.Load() > before })
		if loaded() != 1 {
			t.Fatalf("room unloaded %s after its last client left, within the %s grace", clk.Now().Sub(time.Unix(1_800_000_000, 0)), grace)
		}
	}
	clk.Advance(yprotocol.CheckInterval)
	eventually(t, "room unloaded", func() bool { return loaded() == 0 })
	// Unloading compacted the log into a snapshot.
	if st, _ := be.Load(context.Background(), "idle"); st.Snapshot == nil || len(st.Entries) != 0 {
		t.Fatalf("after unload: snapshot %d bytes, %d entries", len(st.Snapshot), len(st.Entries))
	}
	got, err := m.JSON(context.Background(), "idle")
	if err != nil || canonical(got) != `{"krates":{"k":"v"}}` {
		t.Fatalf("reloaded room: %v %v", got, err)
	}
}
