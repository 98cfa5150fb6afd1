package yprotocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestAwareness(id uint64) (*Awareness, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return NewAwareness(id, c.now), c
}

func update(entries ...AwarenessEntry) []byte {
	return AwarenessUpdate{Clients: entries}.Encode()
}

func mustApply(t *testing.T, a *Awareness, b []byte) Change {
	t.Helper()
	ch, err := a.ApplyUpdate(b)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestAwarenessExpiresRemoteStatesAfterTimeout(t *testing.T) {
	a, clock := newTestAwareness(1)
	if _, err := a.SetLocalState(nil); err != nil { // a server has no presence of its own
		t.Fatal(err)
	}
	mustApply(t, a, update(AwarenessEntry{ClientID: 2, Clock: 1, State: json.RawMessage(`{"u":2}`)}))
	clock.advance(20 * time.Second)
	mustApply(t, a, update(AwarenessEntry{ClientID: 3, Clock: 1, State: json.RawMessage(`{"u":3}`)}))

	clock.advance(OutdatedTimeout - 20*time.Second - time.Millisecond)
	if renewed, expired := a.Tick(); renewed.IsUpdate() || expired.IsUpdate() {
		t.Fatalf("before the timeout: renewed %+v expired %+v", renewed, expired)
	}
	clock.advance(time.Millisecond)
	_, expired := a.Tick()
	if !reflect.DeepEqual(expired.Removed, []uint64{2}) {
		t.Fatalf("at 30 s expired %+v, want client 2", expired)
	}
	if _, ok := a.State(2); ok {
		t.Fatal("client 2 still present")
	}
	// The clock survives expiry, so a late copy of the old state stays ignored...
	if ch := mustApply(t, a, update(AwarenessEntry{ClientID: 2, Clock: 1, State: json.RawMessage(`{"u":2}`)})); ch.IsUpdate() {
		t.Fatalf("stale state accepted: %+v", ch)
	}
	// ...while a renewal with a higher clock brings the client back.
	if ch := mustApply(t, a, update(AwarenessEntry{ClientID: 2, Clock: 2, State: json.RawMessage(`{"u":2}`)})); !reflect.DeepEqual(ch.Updated, []uint64{2}) {
		t.Fatalf("renewal after expiry: %+v", ch)
	}

	// A renewed client does not expire.
	clock.advance(25 * time.Second)
	mustApply(t, a, update(AwarenessEntry{ClientID: 3, Clock: 2, State: json.RawMessage(`{"u":3}`)}))
	clock.advance(10 * time.Second)
	_, expired = a.Tick()
	if !reflect.DeepEqual(expired.Removed, []uint64{2}) {
		t.Fatalf("expired %+v, want only client 2", expired)
	}
	if _, ok := a.State(3); !ok {
		t.Fatal("renewed client 3 expired")
	}
}

func TestAwarenessRenewsLocalStateAtHalfTimeout(t *testing.T) {
	a, clock := newTestAwareness(1)
	if _, err := a.SetLocalState(json.RawMessage(`{"me":true}`)); err != nil {
		t.Fatal(err)
	}
	clock.advance(OutdatedTimeout/2 - time.Second)
	if renewed, _ := a.Tick(); renewed.IsUpdate() {
		t.Fatalf("renewed too early: %+v", renewed)
	}
	clock.advance(time.Second)
	renewed, _ := a.Tick()
	if !reflect.DeepEqual(renewed.Updated, []uint64{1}) || renewed.IsChange() {
		t.Fatalf("renewal %+v: want an update without a change", renewed)
	}
	if c, _ := a.Clock(1); c != 2 {
		t.Fatalf("local clock %d after set and renewal, want 2", c)
	}
	// The local state never expires, however old.
	clock.advance(time.Hour)
	if _, expired := a.Tick(); expired.IsUpdate() {
		t.Fatalf("local state expired: %+v", expired)
	}
	if _, ok := a.State(1); !ok {
		t.Fatal("local state gone")
	}
	// A server (no local state) never renews.
	if _, err := a.SetLocalState(nil); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if renewed, _ := a.Tick(); renewed.IsUpdate() {
		t.Fatalf("renewed a null local state: %+v", renewed)
	}
}

func TestAwarenessRemoveBroadcastsNullAtSameClock(t *testing.T) {
	server, _ := newTestAwareness(100)
	peer, _ := newTestAwareness(200)
	mustApply(t, server, update(AwarenessEntry{ClientID: 7, Clock: 4, State: json.RawMessage(`{"n":"a"}`)}))
	mustApply(t, peer, update(AwarenessEntry{ClientID: 7, Clock: 4, State: json.RawMessage(`{"n":"a"}`)}))

	ch := server.Remove([]uint64{7, 8})
	if !reflect.DeepEqual(ch.Removed, []uint64{7}) {
		t.Fatalf("removed %+v, want [7]", ch)
	}
	msg := server.EncodeUpdate(ch.Removed)
	u, err := DecodeAwarenessUpdate(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Clients) != 1 || u.Clients[0].Clock != 4 || !u.Clients[0].IsRemoval() {
		t.Fatalf("broadcast %+v, want client 7 null at clock 4", u)
	}
	if ch := mustApply(t, peer, msg); !reflect.DeepEqual(ch.Removed, []uint64{7}) {
		t.Fatalf("peer did not remove client 7: %+v", ch)
	}
	if _, ok := peer.State(7); ok {
		t.Fatal("peer still has client 7")
	}
}

func TestAwarenessMalformedUpdateChangesNothing(t *testing.T) {
	a, _ := newTestAwareness(1)
	good := AwarenessEntry{ClientID: 2, Clock: 1, State: json.RawMessage(`{"ok":1}`)}
	bad := [][]byte{
		update(good, AwarenessEntry{ClientID: 3, Clock: 1, State: json.RawMessage(`{"unterminated`)}),
		update(good, AwarenessEntry{ClientID: 3, Clock: 1, State: json.RawMessage("\"\xff\"")}),
		update(good, AwarenessEntry{ClientID: 1 << 53, Clock: 1, State: json.RawMessage(`{}`)}),
		update(good, AwarenessEntry{ClientID: 3, Clock: 1 << 60, State: json.RawMessage(`{}`)}),
		update(good)[:5],
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3}, // 2^52 clients in 11 bytes
	}
	before := a.States()
	for i, b := range bad {
		ch, err := a.ApplyUpdate(b)
		if err == nil {
			t.Fatalf("case %d: accepted %x", i, b)
		}
		if !IsCode(err, CodeMalformed) && !IsCode(err, CodeInvalidState) {
			t.Fatalf("case %d: error %v has no protocol code", i, err)
		}
		if ch.IsUpdate() {
			t.Fatalf("case %d: change %+v", i, ch)
		}
	}
	if !reflect.DeepEqual(a.States(), before) {
		t.Fatalf("states changed by malformed input: %v", a.States())
	}
	if _, known := a.Clock(2); known {
		t.Fatal("client 2 of a rejected update was recorded")
	}
	if _, err := a.SetLocalState(json.RawMessage(`{"x":`)); !IsCode(err, CodeInvalidState) {
		t.Fatalf("invalid local state: %v", err)
	}
}

func TestAwarenessKeepsStateTextVerbatim(t *testing.T) {
	a, _ := newTestAwareness(1)
	state := json.RawMessage(`{ "b" : 1, "a":[2.50, "😀"] }`)
	mustApply(t, a, update(AwarenessEntry{ClientID: 9, Clock: 1, State: state}))
	got := a.EncodeUpdate([]uint64{9, 12345})
	want := update(AwarenessEntry{ClientID: 9, Clock: 1, State: state})
	if !bytes.Equal(got, want) {
		t.Fatalf("re-encoded %x, want %x (unknown clients are left out)", got, want)
	}
}

func TestAwarenessEncodeAll(t *testing.T) {
	a, _ := newTestAwareness(1)
	if _, err := a.SetLocalState(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.EncodeAll(); ok {
		t.Fatal("EncodeAll with no states reported something to send")
	}
	mustApply(t, a, update(
		AwarenessEntry{ClientID: 30, Clock: 1, State: json.RawMessage(`{"c":30}`)},
		AwarenessEntry{ClientID: 4, Clock: 2, State: json.RawMessage(`{"c":4}`)},
	))
	b, ok := a.EncodeAll()
	if !ok {
		t.Fatal("EncodeAll reported nothing")
	}
	u, err := DecodeAwarenessUpdate(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Clients) != 2 || u.Clients[0].ClientID != 4 || u.Clients[1].ClientID != 30 || u.Clients[0].Clock != 2 {
		t.Fatalf("EncodeAll = %+v", u)
	}
}

// Connections of one room apply, encode and expire concurrently; the race detector checks the
// locking.
func TestAwarenessConcurrentUse(t *testing.T) {
	a, _ := newTestAwareness(1)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := uint64(10*g + i%10)
				_, _ = a.ApplyUpdate(update(AwarenessEntry{ClientID: id, Clock: uint64(i + 1), State: json.RawMessage(`{"i":1}`)}))
				_ = a.EncodeUpdate([]uint64{id})
				_, _ = a.EncodeAll()
				a.Tick()
				if i%50 == 0 {
					a.Remove([]uint64{id})
				}
			}
		}()
	}
	wg.Wait()
	for g := range 4 {
		for k := range 10 {
			if c, ok := a.Clock(uint64(10*g + k)); !ok || c < 191 {
				t.Fatalf("client %d: clock %d (known %v) after 200 updates", 10*g+k, c, ok)
			}
		}
	}
}
