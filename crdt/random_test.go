package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
)

var randomTexts = []string{"a", "bc", "😀", "é", "x😀y", "hello", "🎉🎉", "\u2028"}

// randomOp performs one random edit on doc.
func randomOp(r *rand.Rand, d *Doc) {
	d.Transact(func(tx *Transaction) {
		switch r.Intn(9) {
		case 0, 1:
			t := d.GetText("text")
			if t.Len() > 0 && r.Intn(3) == 0 {
				i := r.Intn(t.Len())
				_ = t.Delete(tx, i, 1+r.Intn(min(3, t.Len()-i)))
			} else {
				_ = t.Insert(tx, r.Intn(t.Len()+1), randomTexts[r.Intn(len(randomTexts))])
			}
		case 2:
			_ = d.GetMap("map").Set(tx, fmt.Sprint("k", r.Intn(4)), r.Intn(100))
		case 3:
			d.GetMap("map").Delete(tx, fmt.Sprint("k", r.Intn(4)))
		case 4:
			m := d.GetMap("map").SetMap(tx, fmt.Sprint("n", r.Intn(3)))
			_ = m.Set(tx, "v", []any{1, "two", map[string]any{"3": nil}})
			_ = m.SetArray(tx, "arr").Push(tx, 1, 2)
		case 5:
			if v, ok := d.GetMap("map").Get(fmt.Sprint("n", r.Intn(3))); ok {
				if m, ok := v.(*Map); ok {
					_ = m.Set(tx, "w", r.Float64())
					if a, ok := m.Get("arr"); ok {
						arr := a.(*Array)
						_ = arr.Insert(tx, r.Intn(arr.Len()+1), "z")
					}
				}
			}
		case 6, 7:
			a := d.GetArray("array")
			if a.Len() > 0 && r.Intn(3) == 0 {
				i := r.Intn(a.Len())
				_ = a.Delete(tx, i, 1+r.Intn(min(2, a.Len()-i)))
			} else {
				_ = a.Insert(tx, r.Intn(a.Len()+1), r.Intn(10), "s", []byte{1})
			}
		case 8:
			a := d.GetArray("array")
			if r.Intn(2) == 0 {
				t, _ := a.InsertText(tx, r.Intn(a.Len()+1))
				_ = t.Insert(tx, 0, "nested😀")
			} else {
				m, _ := a.InsertMap(tx, r.Intn(a.Len()+1))
				_ = m.Set(tx, "k", true)
			}
		}
	})
}

func docState(t *testing.T, d *Doc) (string, []byte, []byte) {
	t.Helper()
	d.GetText("text")
	d.GetMap("map")
	d.GetArray("array")
	// Key order of maps depends on arrival order in yjs too, so compare
	// with sorted keys.
	js, err := json.Marshal(d.RootJSON())
	if err != nil {
		t.Fatal(err)
	}
	return string(js), d.EncodeStateVector(), d.EncodeDeleteSet()
}

// TestRandomConvergence runs peers doing random concurrent edits and
// delivers their updates shuffled, duplicated and late; every peer (and a
// document built from merged updates) must converge.
func TestRandomConvergence(t *testing.T) {
	for seed := int64(1); seed <= 60; seed++ {
		randomScenario(t, seed, 200)
	}
}

// FuzzConvergence runs random scenarios chosen by the fuzzer.
func FuzzConvergence(f *testing.F) {
	f.Add(int64(7), uint8(50))
	f.Fuzz(func(t *testing.T, seed int64, rounds uint8) {
		randomScenario(t, seed, int(rounds))
	})
}

func randomScenario(t *testing.T, seed int64, rounds int) {
	{
		r := rand.New(rand.NewSource(seed))
		const n = 4
		peers := make([]*Doc, n)
		var log [][]byte
		for i := range peers {
			// Odd peers keep deleted content (GC off); they must still converge.
			peers[i] = NewDocWithOptions(Options{ClientID: uint64(i*1000 + 1), DisableGC: i%2 == 1})
			peers[i].GetText("text")
			peers[i].GetMap("map")
			peers[i].GetArray("array")
			peers[i].OnUpdate(func(u []byte) { log = append(log, append([]byte(nil), u...)) })
		}
		for round := 0; round < rounds; round++ {
			p := peers[r.Intn(n)]
			randomOp(r, p)
			if r.Intn(4) == 0 {
				a, b := peers[r.Intn(n)], peers[r.Intn(n)]
				u, _ := a.EncodeStateAsUpdate(b.EncodeStateVector())
				if err := b.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Full sync between peers.
		for k := 0; k < 2; k++ {
			for _, a := range peers {
				for _, b := range peers {
					if a != b {
						u, _ := a.EncodeStateAsUpdate(b.EncodeStateVector())
						if err := b.ApplyUpdate(u); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
		want, wantSV, wantDS := docState(t, peers[0])
		for i, p := range peers {
			js, sv, ds := docState(t, p)
			if js != want || !bytes.Equal(sv, wantSV) || !bytes.Equal(ds, wantDS) || p.HasPending() {
				t.Fatalf("seed %d: peer %d diverged:\n%s\n%s", seed, i, js, want)
			}
		}
		// Every update ever emitted, shuffled with duplicates, into a new doc.
		shuffled := append([][]byte(nil), log...)
		shuffled = append(shuffled, log[:len(log)/3]...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		late := NewDoc()
		for _, u := range shuffled {
			if err := late.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
		js, sv, ds := docState(t, late)
		if js != want || !bytes.Equal(sv, wantSV) || !bytes.Equal(ds, wantDS) || late.HasPending() {
			t.Fatalf("seed %d: shuffled delivery diverged (pending %v):\n%s\n%s", seed, late.HasPending(), js, want)
		}
		// Merged updates in batches.
		var merged [][]byte
		for i := 0; i < len(log); i += 7 {
			m, err := MergeUpdates(log[i:min(i+7, len(log))])
			if err != nil {
				t.Fatal(err)
			}
			merged = append(merged, m)
		}
		all, err := MergeUpdates(merged)
		if err != nil {
			t.Fatal(err)
		}
		md := NewDoc()
		if err := md.ApplyUpdate(all); err != nil {
			t.Fatal(err)
		}
		if js, sv, _ := docState(t, md); js != want || !bytes.Equal(sv, wantSV) {
			t.Fatalf("seed %d: merged updates diverged:\n%s\n%s", seed, js, want)
		}
		// v2 round trip of the converged state.
		v2, _ := peers[0].EncodeStateAsUpdateV2(nil)
		d2 := NewDoc()
		if err := d2.ApplyUpdateV2(v2); err != nil {
			t.Fatal(err)
		}
		if js, _, _ := docState(t, d2); js != want {
			t.Fatalf("seed %d: v2 round trip diverged", seed)
		}
	}
}

func TestNestedTypeDeleteIsCollected(t *testing.T) {
	d := NewDocWithClientID(1)
	m := d.GetMap("m")
	d.Transact(func(tx *Transaction) {
		k := m.SetMap(tx, "k")
		_ = k.Set(tx, "a", "x")
		_ = k.SetArray(tx, "arr").Push(tx, 1, 2, 3)
	})
	var upd []byte
	d.OnUpdate(func(u []byte) { upd = u })
	d.Transact(func(tx *Transaction) { m.Delete(tx, "k") })
	// The transaction's delete set covers the children too.
	p := NewDoc()
	full, _ := d.EncodeStateAsUpdate(nil)
	if err := p.ApplyUpdate(full); err != nil {
		t.Fatal(err)
	}
	if js, _ := p.GetMap("m").MarshalJSON(); string(js) != `{}` {
		t.Errorf("json %s", js)
	}
	gcs := 0
	for _, it := range d.store.get(1).structs {
		if it.isGC() {
			gcs++
		}
	}
	if gcs == 0 {
		t.Errorf("children of the deleted map were not garbage-collected")
	}
	if len(upd) == 0 {
		t.Error("no update for the delete")
	}
	ds := deleteSet{}
	dec := newV1Decoder(upd)
	if _, err := dec.d.ReadVarUint(); err != nil { // no structs
		t.Fatal(err)
	}
	if err := readDeleteSetInto(dec, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.clients) != 1 || len(ds.clients[0].ranges) != 1 || ds.clients[0].ranges[0].len < 5 {
		t.Errorf("delete set of the update %+v", ds.clients)
	}
}

func TestClientIDChangesWhenReused(t *testing.T) {
	a := NewDocWithClientID(42)
	a.Transact(func(tx *Transaction) { _ = a.GetMap("m").Set(tx, "x", 1) })
	u, _ := a.EncodeStateAsUpdate(nil)
	b := NewDocWithClientID(42)
	if err := b.ApplyUpdate(u); err != nil {
		t.Fatal(err)
	}
	if b.ClientID() == 42 {
		t.Error("client ID kept after another writer used it")
	}
	if id := NewDoc().ClientID(); id >= 1<<32 {
		t.Errorf("random client ID %d not below 2^32", id)
	}
}

// TestManyConcurrentInserts puts many concurrent inserts at one position,
// which YATA orders by client ID, delivered in different orders.
func TestManyConcurrentInserts(t *testing.T) {
	const n = 120
	var updates [][]byte
	for i := 0; i < n; i++ {
		d := NewDocWithClientID(uint64(1000 + i))
		d.Transact(func(tx *Transaction) { _ = d.GetText("t").Insert(tx, 0, fmt.Sprintf("<%d>", i)) })
		u, _ := d.EncodeStateAsUpdate(nil)
		updates = append(updates, u)
	}
	var want string
	for i := 0; i < n; i++ {
		want += fmt.Sprintf("<%d>", i)
	}
	r := rand.New(rand.NewSource(1))
	for round := 0; round < 4; round++ {
		d := NewDoc()
		order := r.Perm(n)
		if round == 0 {
			for i := range order {
				order[i] = n - 1 - i
			}
		}
		for _, i := range order {
			if err := d.ApplyUpdate(updates[i]); err != nil {
				t.Fatal(err)
			}
		}
		if got := d.GetText("t").String(); got != want {
			t.Fatalf("round %d: %q", round, got)
		}
	}
}
