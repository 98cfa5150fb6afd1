package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func hexb(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quoted(s string) string {
	return hex.EncodeToString(append([]byte{byte(len(s))}, s...))
}

// Byte vectors produced by yjs 13.6.31 (see the research notes, §1.5).
var (
	vecMapSet = "01 01 01 00 28 01" + quoted("krates") + quoted("a") +
		"01 76 02" + quoted("x") + "7d 01" + quoted("y") + "7c 40 20 00 00 00"
	vecMapOverwrite = "01 02 01 00 21 01" + quoted("krates") + quoted("a") + "01" +
		"a8 01 00 01 77" + quoted("deployed") + "01 01 01 00 01"
	vecNested = "01 03 09 00 27 01" + quoted("krates") + quoted("k1") + "01" +
		"28 00 09 00" + quoted("pos") + "01 76 02" + quoted("x") + "7d 0a" + quoted("y") + "7d 14" +
		"28 00 09 00" + quoted("status") + "01 77" + quoted("pending") + "00"
	vecText = "01 03 01 00 01 01" + quoted("t") + "01 84 01 00" + quoted("bc") +
		"c4 01 00 01 01" + quoted("X") + "01 01 01 00 01"
)

func TestYjsVectors(t *testing.T) {
	// Map set, then overwrite: the full state equals yjs's bytes.
	d := NewDocWithClientID(1)
	var updates [][]byte
	d.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	m := d.GetMap("krates")
	d.Transact(func(tx *Transaction) {
		if err := m.Set(tx, "a", map[string]any{"x": 1, "y": 2.5}); err != nil {
			t.Fatal(err)
		}
	})
	if got, want := updates[0], hexb(t, vecMapSet); !bytes.Equal(got, want) {
		t.Fatalf("map set update\n got %x\nwant %x", got, want)
	}
	d.Transact(func(tx *Transaction) { _ = m.Set(tx, "a", "deployed") })
	full, _ := d.EncodeStateAsUpdate(nil)
	if want := hexb(t, vecMapOverwrite); !bytes.Equal(full, want) {
		t.Fatalf("after overwrite\n got %x\nwant %x", full, want)
	}
	if sv := d.EncodeStateVector(); !bytes.Equal(sv, []byte{1, 1, 2}) {
		t.Errorf("state vector %x", sv)
	}

	// Nested map, written from Go with client 9.
	d3 := NewDocWithClientID(9)
	d3.Transact(func(tx *Transaction) {
		k1 := d3.GetMap("krates").SetMap(tx, "k1")
		_ = k1.Set(tx, "pos", map[string]any{"x": 10, "y": 20})
		_ = k1.Set(tx, "status", "pending")
	})
	full3, _ := d3.EncodeStateAsUpdate(nil)
	if want := hexb(t, vecNested); !bytes.Equal(full3, want) {
		t.Errorf("nested\n got %x\nwant %x", full3, want)
	}
	js, _ := d3.GetMap("krates").MarshalJSON()
	if string(js) != `{"k1":{"pos":{"x":10,"y":20},"status":"pending"}}` {
		t.Errorf("nested JSON %s", js)
	}

	// Text 'abc' insert(1,'X') delete(0,1).
	d4 := NewDocWithClientID(1)
	tt := d4.GetText("t")
	d4.Transact(func(tx *Transaction) { _ = tt.Insert(tx, 0, "abc") })
	d4.Transact(func(tx *Transaction) { _ = tt.Insert(tx, 1, "X") })
	d4.Transact(func(tx *Transaction) { _ = tt.Delete(tx, 0, 1) })
	if tt.String() != "Xbc" {
		t.Fatalf("text %q", tt.String())
	}
	full4, _ := d4.EncodeStateAsUpdate(nil)
	want4 := hexb(t, vecText)
	if !bytes.Equal(full4, want4) {
		t.Errorf("text\n got %x\nwant %x", full4, want4)
	}

	// The peers' bytes decode to the same values.
	for _, v := range []string{vecMapSet, vecMapOverwrite, vecNested} {
		r := NewDoc()
		if err := r.ApplyUpdate(hexb(t, v)); err != nil {
			t.Fatal(err)
		}
		again, _ := r.EncodeStateAsUpdate(nil)
		if !bytes.Equal(again, hexb(t, v)) {
			t.Errorf("re-encode of %s\n got %x", v, again)
		}
	}
	// Empty document.
	e, _ := NewDoc().EncodeStateAsUpdate(nil)
	if !bytes.Equal(e, []byte{0, 0}) {
		t.Errorf("empty update %x", e)
	}
}

func TestConcurrentMapWinner(t *testing.T) {
	a, b := NewDocWithClientID(5), NewDocWithClientID(100)
	a.Transact(func(tx *Transaction) { _ = a.GetMap("m").Set(tx, "k", "from5") })
	b.Transact(func(tx *Transaction) { _ = b.GetMap("m").Set(tx, "k", "from100") })
	ua, _ := a.EncodeStateAsUpdate(nil)
	ub, _ := b.EncodeStateAsUpdate(nil)
	if err := a.ApplyUpdate(ub); err != nil {
		t.Fatal(err)
	}
	if err := b.ApplyUpdate(ua); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Doc{a, b} {
		v, _ := d.GetMap("m").Get("k")
		if v != "from100" {
			t.Errorf("client %d sees %v", d.ClientID(), v)
		}
	}
}

func TestPendingUpdates(t *testing.T) {
	src := NewDocWithClientID(1)
	var ups [][]byte
	src.OnUpdate(func(u []byte) { ups = append(ups, append([]byte(nil), u...)) })
	txt := src.GetText("t")
	for i, s := range []string{"a", "b", "c"} {
		src.Transact(func(tx *Transaction) { _ = txt.Insert(tx, i, s) })
	}
	src.Transact(func(tx *Transaction) { _ = txt.Delete(tx, 1, 1) })
	d := NewDoc()
	// The delete arrives first, then #3, then #1, then #2.
	for _, i := range []int{3, 2, 0} {
		if err := d.ApplyUpdate(ups[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.GetText("t").String(); got != "a" {
		t.Errorf("text %q", got)
	}
	if !d.HasPending() {
		t.Error("expected pending content")
	}
	if s, r := d.PendingSize(); s != 1 || r != 1 { // "c" and the delete of "b"
		t.Errorf("pending size %d structs, %d ranges", s, r)
	}
	// The pending struct is relayed by EncodeStateAsUpdate.
	relay, _ := d.EncodeStateAsUpdate(nil)
	if err := d.ApplyUpdate(ups[1]); err != nil {
		t.Fatal(err)
	}
	if got := d.GetText("t").String(); got != "ac" || d.HasPending() {
		t.Errorf("text %q pending %v", got, d.HasPending())
	}
	r := NewDoc()
	_ = r.ApplyUpdate(relay)
	_ = r.ApplyUpdate(ups[1])
	if got := r.GetText("t").String(); got != "ac" {
		t.Errorf("relayed text %q", got)
	}
	if !bytes.Equal(d.EncodeStateVector(), src.EncodeStateVector()) {
		t.Errorf("state vectors differ")
	}
}

func TestMalformedUpdateLeavesDocUnchanged(t *testing.T) {
	d := NewDocWithClientID(3)
	d.Transact(func(tx *Transaction) { _ = d.GetText("t").Insert(tx, 0, "hello") })
	before, _ := d.EncodeStateAsUpdate(nil)
	good := hexb(t, vecNested)
	for i := 1; i < len(good)-1; i++ {
		bad := append([]byte(nil), good[:i]...)
		if err := d.ApplyUpdate(bad); err == nil {
			continue
		} else if !errors.Is(err, ErrMalformedUpdate) {
			t.Fatalf("error %v is not ErrMalformedUpdate", err)
		}
		after, _ := d.EncodeStateAsUpdate(nil)
		if !bytes.Equal(before, after) {
			t.Fatalf("truncated at %d changed the document", i)
		}
	}
	// Huge counts are rejected without allocation.
	if err := d.ApplyUpdate([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}); !errors.Is(err, ErrMalformedUpdate) {
		t.Errorf("huge client count: %v", err)
	}
}

func TestSurrogateSplit(t *testing.T) {
	d := NewDocWithClientID(3)
	tx := d.GetText("t")
	d.Transact(func(t2 *Transaction) { _ = tx.Insert(t2, 0, "a😀b") })
	if tx.Len() != 4 {
		t.Fatalf("len %d", tx.Len())
	}
	d.Transact(func(t2 *Transaction) { _ = tx.Insert(t2, 2, "X") })
	if got := tx.String(); got != "a\uFFFDX\uFFFDb" {
		t.Errorf("got %q", got)
	}
	if tx.Len() != 5 {
		t.Errorf("len %d", tx.Len())
	}
}

// TestDiffSlicesAtRemoteClock checks that a diff against a peer's state
// vector carries only what the peer lacks, with the first struct sliced.
func TestDiffSlicesAtRemoteClock(t *testing.T) {
	d := NewDocWithClientID(5)
	txt := d.GetText("t")
	for i := 0; i < 200; i++ {
		d.Transact(func(tx *Transaction) { _ = txt.Insert(tx, txt.Len(), "ab") })
	}
	peer := NewDoc()
	full, _ := d.EncodeStateAsUpdate(nil)
	if err := peer.ApplyUpdate(full); err != nil {
		t.Fatal(err)
	}
	sv := peer.EncodeStateVector()
	d.Transact(func(tx *Transaction) { _ = txt.Insert(tx, txt.Len(), "Z") })
	diff, _ := d.EncodeStateAsUpdate(sv)
	if len(diff) > 16 {
		t.Errorf("diff of one character is %d bytes: %x", len(diff), diff)
	}
	if err := peer.ApplyUpdate(diff); err != nil {
		t.Fatal(err)
	}
	if peer.GetText("t").String() != txt.String() {
		t.Error("peer differs after diff")
	}
	// The whole run of 401 characters is one struct in the store, so the
	// diff had to slice it at the remote clock.
	if n := len(d.store.get(5).structs); n != 1 {
		t.Errorf("%d structs, want 1 merged run", n)
	}
	empty, _ := d.EncodeStateAsUpdate(d.EncodeStateVector())
	if !bytes.Equal(empty, []byte{0, 0}) {
		t.Errorf("empty diff %x", empty)
	}
	if _, err := d.EncodeStateAsUpdate([]byte{5}); !errors.Is(err, ErrMalformedUpdate) {
		t.Errorf("bad state vector: %v", err)
	}
}

func TestDiffUpdate(t *testing.T) {
	d := NewDocWithClientID(5)
	txt := d.GetText("t")
	d.Transact(func(tx *Transaction) { _ = txt.Insert(tx, 0, "hello") })
	sv := d.EncodeStateVector()
	d.Transact(func(tx *Transaction) { _ = txt.Insert(tx, 5, " world") })
	full, _ := d.EncodeStateAsUpdate(nil)
	want, _ := d.EncodeStateAsUpdate(sv)
	got, err := DiffUpdate(full, sv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("DiffUpdate %x, want %x", got, want)
	}
}

func TestInvalidUTF8IsStoredAsPeersSeeIt(t *testing.T) {
	d := NewDocWithClientID(1)
	d.Transact(func(tx *Transaction) {
		_ = d.GetMap("m").Set(tx, "k\xff", map[string]any{"a\xfe": "v\xfd"})
	})
	p := NewDoc()
	if err := p.ApplyUpdate(mustV1(d)); err != nil {
		t.Fatal(err)
	}
	a, _ := d.GetMap("m").MarshalJSON()
	b, _ := p.GetMap("m").MarshalJSON()
	if string(a) != string(b) || string(a) != "{\"k\uFFFD\":{\"a\uFFFD\":\"v\uFFFD\"}}" {
		t.Errorf("local %s, peer %s", a, b)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{ClientID: 1 << 53}).Validate(); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("2^53 accepted: %v", err)
	}
	if err := (Options{ClientID: 1<<53 - 1}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Error(err)
	}
}

// A document whose writers keep overwriting their own map key (a krate's position while it is
// dragged, a cursor) does not grow: the overwritten items merge, so a long-lived room's memory
// and state stay flat whatever its number of edits.
func TestOverwrittenMapKeysDoNotGrowTheDocument(t *testing.T) {
	server := NewDoc()
	writers := []*Doc{NewDoc(), NewDoc(), NewDoc()}
	for _, w := range writers {
		w.OnUpdate(func(u []byte) {
			if err := server.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		})
	}
	sizes := map[int][2]int{}
	for n := 1; n <= 20_000; n++ {
		for i, w := range writers {
			w.Transact(func(tx *Transaction) {
				_ = w.GetMap("soak").Set(tx, "w"+strconv.Itoa(i), "v"+strconv.Itoa(n))
			})
		}
		if n == 1_000 || n == 20_000 {
			st, err := server.EncodeStateAsUpdate(nil)
			if err != nil {
				t.Fatal(err)
			}
			sizes[n] = [2]int{server.structCount(), len(st)}
		}
	}
	early, late := sizes[1_000], sizes[20_000]
	if late[0] > early[0] || late[0] > 2*len(writers) || late[1] > early[1]+16 {
		t.Fatalf("after 1,000 overwrites per writer: %d structs, %d bytes; after 20,000: %d structs, %d bytes",
			early[0], early[1], late[0], late[1])
	}
}
