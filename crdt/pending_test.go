package crdt

import (
	"bytes"
	"errors"
	"math/rand"
	"strconv"
	"testing"
	"time"
)

// chainUpdates returns n+1 single-character inserts by client 7, one update
// each: every update after the first depends on the one before it.
func chainUpdates(t testing.TB, n int) [][]byte {
	t.Helper()
	src := NewDocWithClientID(7)
	var ups [][]byte
	src.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	txt := src.GetText("t")
	for i := 0; i <= n; i++ {
		src.Transact(func(tx *Transaction) { _ = txt.Insert(tx, i, "x") })
	}
	return ups
}

// gapUpdates returns n updates of client 9 that each delete a character of
// client 7's chain and insert one character after it: without the chain, each
// update waits for a missing clock and carries a pending deletion.
func gapUpdates(t testing.TB, chain [][]byte, n int) [][]byte {
	t.Helper()
	src := NewDocWithClientID(9)
	for _, u := range chain {
		if err := src.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	var ups [][]byte
	src.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	txt := src.GetText("t")
	for i := 0; i < n; i++ {
		src.Transact(func(tx *Transaction) {
			_ = txt.Delete(tx, 2*i, 1)
			_ = txt.Insert(tx, 2*i, "y")
		})
	}
	return ups
}

// TestPendingManyClientsIsNotQuadratic delivers the second update of 2,000
// clients first (each waits for the client's first, and overwrites its map
// key, so it also carries a pending deletion), then the first ones. Before pending
// structs were indexed by what they wait for, each of those updates merged
// into and then retried everything pending, and every update re-applied
// every pending deletion: 4.6-7.4 s on a busy 2-core machine.
func TestPendingManyClientsIsNotQuadratic(t *testing.T) {
	const n = 2000
	var firsts, seconds [][]byte
	for i := 0; i < n; i++ {
		src := NewDocWithClientID(uint64(1000 + i))
		var ups [][]byte
		src.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
		m := src.GetMap("m")
		key := strconv.Itoa(i)
		src.Transact(func(tx *Transaction) { _ = m.Set(tx, key, i) })
		src.Transact(func(tx *Transaction) { _ = m.Set(tx, key, i+1) })
		firsts = append(firsts, ups[0])
		seconds = append(seconds, ups[1])
	}
	d := NewDocWithClientID(1)
	start := time.Now()
	for _, u := range seconds {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if s, r := d.PendingSize(); s != n || r != n {
		t.Fatalf("pending %d structs, %d deletions; want %d each", s, r, n)
	}
	pendingPhase := time.Since(start)
	for _, u := range firsts {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d updates waiting: %v; all integrated after %v", n, pendingPhase, elapsed)
	want := NewDocWithClientID(2)
	for i := range firsts {
		for _, u := range [][]byte{firsts[i], seconds[i]} {
			if err := want.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, w := mustEncode(t, d, nil), mustEncode(t, want, nil); !bytes.Equal(got, w) || d.HasPending() {
		t.Fatalf("document differs from in-order delivery (pending %v)", d.HasPending())
	}
	// Generous for a loaded machine: this takes 5-110 ms.
	if elapsed > timeBound {
		t.Errorf("%d updates waiting for missing ones took %v", 2*n, elapsed)
	}
}

// TestPendingIsNotQuadratic delivers 2,000 updates that each wait for a
// missing clock (the first of a chain is withheld), then 2,000 updates of
// another client that depend on the chain and delete parts of it, and finally
// the missing update; everything must then integrate as in order.
func TestPendingIsNotQuadratic(t *testing.T) {
	const n = 2000
	chain := chainUpdates(t, n)
	gaps := gapUpdates(t, chain, n)
	d := NewDocWithClientID(1)
	start := time.Now()
	for _, u := range chain[1:] {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range gaps {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.GetText("t").String(); got != "" {
		t.Fatalf("text %q before the missing update", got)
	}
	pendingPhase := time.Since(start)
	if err := d.ApplyUpdate(chain[0]); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d pending updates: %v; all integrated after %v", 2*n, pendingPhase, elapsed)
	want := NewDocWithClientID(2)
	for _, u := range append(append([][]byte{}, chain...), gaps...) {
		if err := want.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if got, w := d.GetText("t").String(), want.GetText("t").String(); got != w || d.HasPending() {
		t.Fatalf("text %q (pending %v), want %q", got, d.HasPending(), w)
	}
	// Generous: this takes about 10 ms.
	if elapsed > timeBound {
		t.Errorf("%d updates with missing dependencies took %v", 2*n, elapsed)
	}
}

// TestPendingReverseDelivery delivers a chain of 4,000 updates last first:
// each becomes the first pending struct of its client, so what it waits for
// changes every time.
func TestPendingReverseDelivery(t *testing.T) {
	const n = 4000
	chain := chainUpdates(t, n)
	d := NewDocWithClientID(1)
	start := time.Now()
	for i := len(chain) - 1; i >= 0; i-- {
		if err := d.ApplyUpdate(chain[i]); err != nil {
			t.Fatal(err)
		}
		if i > 0 && d.pend.nWaits > 2*len(d.pend.clients)+64 {
			t.Fatalf("wait index holds %d entries for %d clients", d.pend.nWaits, len(d.pend.clients))
		}
	}
	elapsed := time.Since(start)
	if d.GetText("t").Len() != n+1 || d.HasPending() {
		t.Fatalf("text of %d, pending %v", d.GetText("t").Len(), d.HasPending())
	}
	if elapsed > timeBound {
		t.Errorf("%d updates delivered last first took %v", n+1, elapsed)
	}
}

// TestPendingRetriesOnlyWhatCanIntegrate parks 4,000 structs of different
// clients that each wait for a different clock of client 7, then delivers
// client 7's updates one by one: each may unblock one of them. Retrying every
// pending struct on each of them (as yjs does) is quadratic: 4.3-10.2 s on a
// busy 2-core machine.
func TestPendingRetriesOnlyWhatCanIntegrate(t *testing.T) {
	const n = 4000
	chain := chainUpdates(t, n)
	full := NewDocWithClientID(3)
	for _, u := range chain {
		if err := full.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	var waiting [][]byte
	for i := 0; i < n; i++ {
		w := NewDocWithClientID(uint64(100 + i))
		sv := full.EncodeStateVector()
		if err := w.ApplyUpdate(mustEncode(t, full, nil)); err != nil {
			t.Fatal(err)
		}
		// Insert right after client 7's i-th character.
		w.Transact(func(tx *Transaction) { _ = w.GetText("t").Insert(tx, i+1, "z") })
		u, err := w.EncodeStateAsUpdate(sv)
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, u)
	}
	d := NewDocWithClientID(1)
	start := time.Now()
	for _, u := range waiting {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range chain {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d waiting structs unblocked one by one: %v", n, elapsed)
	want := NewDocWithClientID(2)
	for _, u := range append(append([][]byte{}, chain...), waiting...) {
		if err := want.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if got, w := d.GetText("t").String(), want.GetText("t").String(); got != w || d.HasPending() {
		t.Fatalf("text %q (pending %v), want %q", got, d.HasPending(), w)
	}
	if elapsed > timeBound {
		t.Errorf("unblocking %d waiting structs one by one took %v", n, elapsed)
	}
}

// timeBound is what the timing tests allow: generous for a loaded machine,
// and a fraction of what quadratic handling of pending data took.
const timeBound = raceSlowdown * time.Second

func mustEncode(t testing.TB, d *Doc, sv []byte) []byte {
	t.Helper()
	u, err := d.EncodeStateAsUpdate(sv)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPendingLimit fills a document's pending data up to its limit: the
// update that would exceed it is refused and changes nothing, while updates
// that integrate (the missing ones among them) are still taken.
func TestPendingLimit(t *testing.T) {
	const limit = 50
	chain := chainUpdates(t, 3*limit)
	d := NewDocWithOptions(Options{ClientID: 1, PendingLimit: PendingLimit{Structs: limit}})
	accepted := 0
	var refused []byte
	for _, u := range chain[1:] {
		before := mustEncode(t, d, nil)
		s0, r0 := d.PendingSize()
		err := d.ApplyUpdate(u)
		if errors.Is(err, ErrPendingLimit) {
			if !bytes.Equal(before, mustEncode(t, d, nil)) {
				t.Fatal("a refused update changed the document")
			}
			if s, r := d.PendingSize(); s != s0 || r != r0 {
				t.Fatal("a refused update changed the pending data")
			}
			refused = u
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
		if s, r := d.PendingSize(); s+r > limit {
			t.Fatalf("pending %d structs and %d deletions over the limit %d", s, r, limit)
		}
	}
	if refused == nil || accepted != limit {
		t.Fatalf("accepted %d updates before a refusal, want %d", accepted, limit)
	}
	// The missing first update integrates everything pending.
	res, err := d.ApplyUpdateResult(chain[0])
	if err != nil || !res.Integrated || res.Deferred {
		t.Fatalf("missing update: %+v, %v", res, err)
	}
	if d.HasPending() || d.GetText("t").Len() != limit+1 {
		t.Fatalf("text of %d, pending %v", d.GetText("t").Len(), d.HasPending())
	}
	if err := d.ApplyUpdate(refused); err != nil {
		t.Fatalf("the refused update once its dependencies arrived: %v", err)
	}

	// A byte limit: a long string waiting for its origin.
	big := NewDocWithClientID(5)
	var ups [][]byte
	big.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	big.Transact(func(tx *Transaction) { _ = big.GetText("t").Insert(tx, 0, "a") })
	big.Transact(func(tx *Transaction) { _ = big.GetText("t").Insert(tx, 1, string(make([]byte, 4096))) })
	small := NewDocWithOptions(Options{PendingLimit: PendingLimit{Bytes: 1024}})
	if err := small.ApplyUpdate(ups[1]); !errors.Is(err, ErrPendingLimit) {
		t.Fatalf("4 KiB waiting under a 1 KiB limit: %v", err)
	}
	for _, u := range ups {
		if err := small.ApplyUpdate(u); err != nil {
			t.Fatalf("in order under a byte limit: %v", err)
		}
	}
	if small.GetText("t").Len() != 4097 {
		t.Fatalf("text of %d", small.GetText("t").Len())
	}
	if err := (Options{PendingLimit: PendingLimit{Structs: -1}}).Validate(); err == nil {
		t.Error("a negative limit validates")
	}
}

// TestApplyResult checks what ApplyUpdateResult says of each kind of update.
func TestApplyResult(t *testing.T) {
	chain := chainUpdates(t, 3)
	d := NewDoc()
	cases := []struct {
		name                 string
		update               []byte
		integrated, deferred bool
	}{
		{"waits for a missing one", chain[2], false, true},
		{"the same again", chain[2], false, false},
		{"in order", chain[0], true, false},
		{"completes the pending one", chain[1], true, false},
		{"a duplicate", chain[1], false, false},
		{"a merge of one known and one waiting", mustMerge(t, chain[2], chain[3], chain[0]), true, false},
	}
	for _, c := range cases {
		res, err := d.ApplyUpdateResult(c.update)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Integrated != c.integrated || res.Deferred != c.deferred {
			t.Errorf("%s: %+v, want integrated %v, deferred %v", c.name, res, c.integrated, c.deferred)
		}
	}
	// An update that both integrates and waits: client 9 deletes a
	// character of client 7 it has and one it has not yet.
	e := NewDoc()
	for _, u := range chain[:2] {
		if err := e.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.ApplyUpdateResult(mustMerge(t, chain[3], gapUpdates(t, chain, 1)[0]))
	if err != nil || !res.Integrated || !res.Deferred {
		t.Errorf("part integrates, part waits: %+v, %v", res, err)
	}
	v2, err := ConvertUpdateV1ToV2(chain[2])
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.ApplyUpdateV2Result(v2); err != nil || !res.Integrated {
		t.Errorf("v2: %+v, %v", res, err)
	}
}

// TestEncodeIntegrated: EncodeStateAsUpdate relays pending data as yjs does;
// EncodeIntegrated holds only what the document integrated.
func TestEncodeIntegrated(t *testing.T) {
	chain := chainUpdates(t, 4)
	d := NewDoc()
	only := NewDoc()
	for _, i := range []int{0, 1, 3, 4} {
		if err := d.ApplyUpdate(chain[i]); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := only.ApplyUpdate(chain[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	d.GetMap("unused") // roots without content encode nothing
	full, integrated := mustEncode(t, d, nil), mustEncode(t, d, nil)
	integrated, err := d.EncodeIntegrated(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := mustEncode(t, only, nil)
	if !bytes.Equal(integrated, want) {
		t.Errorf("EncodeIntegrated %x, want %x", integrated, want)
	}
	relay := NewDoc()
	if err := relay.ApplyUpdate(full); err != nil {
		t.Fatal(err)
	}
	if s, _ := relay.PendingSize(); s != 2 {
		t.Errorf("EncodeStateAsUpdate relays %d pending structs, want 2", s)
	}
	v2, err := d.EncodeIntegratedV2(nil)
	if err != nil {
		t.Fatal(err)
	}
	if wantV2, _ := only.EncodeStateAsUpdateV2(nil); !bytes.Equal(v2, wantV2) {
		t.Errorf("EncodeIntegratedV2 %x, want %x", v2, wantV2)
	}
	if fullV2, _ := d.EncodeStateAsUpdateV2(nil); bytes.Equal(fullV2, v2) {
		t.Error("EncodeStateAsUpdateV2 lost the pending structs")
	}
}

func mustMerge(t testing.TB, updates ...[]byte) []byte {
	t.Helper()
	m, err := MergeUpdates(updates)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzPendingLimit delivers random peers' updates shuffled to a document
// with a small pending limit: refused updates change nothing, the limit
// always holds, and delivering everything again in order converges.
func FuzzPendingLimit(f *testing.F) {
	f.Add(int64(1), uint8(60), uint8(8), uint16(600))
	f.Fuzz(func(t *testing.T, seed int64, rounds, structs uint8, bytesLimit uint16) {
		r := rand.New(rand.NewSource(seed))
		peers := make([]*Doc, 3)
		var log [][]byte
		for i := range peers {
			peers[i] = NewDocWithClientID(uint64(i*1000 + 1))
			peers[i].OnUpdate(func(u []byte) { log = append(log, append([]byte(nil), u...)) })
		}
		for i := 0; i < int(rounds); i++ {
			randomOp(r, peers[r.Intn(len(peers))])
			if r.Intn(3) == 0 {
				a, b := peers[r.Intn(len(peers))], peers[r.Intn(len(peers))]
				u, _ := a.EncodeStateAsUpdate(b.EncodeStateVector())
				if err := b.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
		}
		limit := PendingLimit{Structs: int(structs), Bytes: int(bytesLimit)}
		d := NewDocWithOptions(Options{ClientID: 7, PendingLimit: limit})
		shuffled := append([][]byte(nil), log...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, u := range shuffled {
			before := mustEncode(t, d, nil)
			err := d.ApplyUpdate(u)
			if errors.Is(err, ErrPendingLimit) {
				if !bytes.Equal(before, mustEncode(t, d, nil)) {
					t.Fatal("a refused update changed the document")
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			s, rg := d.PendingSize()
			if (limit.Structs > 0 && s+rg > limit.Structs) || (limit.Bytes > 0 && d.PendingBytes() > limit.Bytes) {
				t.Fatalf("pending %d structs, %d ranges, %d bytes over %+v", s, rg, d.PendingBytes(), limit)
			}
		}
		for _, u := range log {
			if err := d.ApplyUpdate(u); err != nil {
				t.Fatalf("in order: %v", err)
			}
		}
		want := NewDoc()
		for _, u := range log {
			if err := want.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
		// Refusals change which updates share a transaction, and with it
		// how structs are split: compare content, state and deletions.
		js, sv, ds := docState(t, d)
		wjs, wsv, wds := docState(t, want)
		if js != wjs || !bytes.Equal(sv, wsv) || !bytes.Equal(ds, wds) || d.HasPending() {
			t.Fatalf("diverged from in-order delivery (pending %v):\n%s\n%s", d.HasPending(), js, wjs)
		}
	})
}
