package crdt

import (
	"bytes"
	"errors"
	"testing"

	"github.com/yardhq/yard/crdt/lib0"
)

// fuzzBase is a document with text, nested maps and arrays, so fuzzed
// updates can reference existing items.
func fuzzBase() *Doc {
	d := NewDocWithClientID(7)
	d.Transact(func(tx *Transaction) {
		_ = d.GetText("t").Insert(tx, 0, "hello 😀 world")
		m := d.GetMap("m")
		_ = m.Set(tx, "a", 1)
		k := m.SetMap(tx, "k")
		_ = k.Set(tx, "x", []any{1, "y"})
		a := d.GetArray("a")
		_ = a.Push(tx, 1, 2, 3)
	})
	d.Transact(func(tx *Transaction) { _ = d.GetText("t").Delete(tx, 2, 3) })
	return d
}

func fuzzSeeds(f *testing.F, v2 bool) {
	d := fuzzBase()
	enc := func(d *Doc, sv []byte) []byte {
		var u []byte
		if v2 {
			u, _ = d.EncodeStateAsUpdateV2(sv)
		} else {
			u, _ = d.EncodeStateAsUpdate(sv)
		}
		return u
	}
	f.Add(enc(d, nil))
	other := NewDocWithClientID(9)
	_ = other.ApplyUpdate(mustV1(d))
	sv := other.EncodeStateVector()
	other.Transact(func(tx *Transaction) {
		_ = other.GetText("t").Insert(tx, 3, "abc")
		_ = other.GetMap("m").Set(tx, "a", "b")
		_ = other.GetArray("a").Delete(tx, 0, 2)
	})
	f.Add(enc(other, sv))
	f.Add(enc(other, nil))
	f.Add(enc(NewDoc(), nil))
}

func mustV1(d *Doc) []byte {
	u, _ := d.EncodeStateAsUpdate(nil)
	return u
}

// checkApply applies an update to a fresh base document and checks the
// contract: errors are ErrMalformedUpdate and leave the document exactly as
// it was; success leaves a document that re-encodes to an update that
// another document accepts with the same result.
func checkApply(t *testing.T, update []byte, v2 bool) {
	d := fuzzBase()
	before := mustV1(d)
	beforeSV := d.EncodeStateVector()
	apply := d.ApplyUpdate
	if v2 {
		apply = d.ApplyUpdateV2
	}
	err := apply(update)
	if err != nil {
		if !errors.Is(err, ErrMalformedUpdate) {
			t.Fatalf("error not coded: %v", err)
		}
		if after := mustV1(d); !bytes.Equal(before, after) || !bytes.Equal(beforeSV, d.EncodeStateVector()) {
			t.Fatalf("failed update changed the document")
		}
		return
	}
	full := mustV1(d)
	twin := fuzzBase()
	if v2 {
		_ = twin.ApplyUpdateV2(update)
	} else {
		_ = twin.ApplyUpdate(update)
	}
	if !bytes.Equal(mustV1(twin), full) {
		t.Fatalf("applying the same update twice gave different documents")
	}
	r := NewDoc()
	r.GetText("t")
	r.GetMap("m")
	r.GetArray("a")
	if err := r.ApplyUpdate(full); err != nil {
		t.Fatalf("re-encoded document rejected: %v", err)
	}
	if d.HasPending() {
		// Pending structs are relayed sliced at the local state, as yjs
		// does; with inconsistent (fuzzed) histories a fresh document may
		// integrate them differently, so only acceptance is checked.
		return
	}
	if !bytes.Equal(r.EncodeStateVector(), d.EncodeStateVector()) {
		t.Fatalf("state vectors differ after round trip")
	}
	// Content equality is not checked: a fuzzed item can name a right
	// origin that lies before its origin, which yjs (and this engine)
	// places differently depending on how the neighbours are split.
	if _, err := r.MarshalJSON(); err != nil && !errors.Is(err, lib0.ErrNotSerializable) {
		t.Fatalf("JSON of round-tripped doc: %v", err)
	}
	if _, err := d.EncodeStateAsUpdateV2(nil); err != nil {
		t.Fatalf("v2 encode: %v", err)
	}
}

func FuzzApplyUpdate(f *testing.F) {
	fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, update []byte) { checkApply(t, update, false) })
}

func FuzzApplyUpdateV2(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, update []byte) { checkApply(t, update, true) })
}

// FuzzMergeUpdates checks merging never panics and that a merged update
// gives the same document as applying its parts.
func FuzzMergeUpdates(f *testing.F) {
	d := fuzzBase()
	f.Add(mustV1(d), mustV1(NewDoc()))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		merged, err := MergeUpdates([][]byte{a, b})
		if err != nil {
			return
		}
		x, y := NewDocWithClientID(1), NewDocWithClientID(1)
		_ = x.ApplyUpdate(a)
		_ = x.ApplyUpdate(b)
		if err := y.ApplyUpdate(merged); err != nil {
			t.Fatalf("merged update rejected: %v", err)
		}
		j1, _ := x.MarshalJSON()
		j2, _ := y.MarshalJSON()
		if !bytes.Equal(j1, j2) {
			t.Fatalf("merge differs:\n%s\n%s", j1, j2)
		}
	})
}
