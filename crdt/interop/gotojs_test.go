package interop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/lib0"
)

// The Go counterpart of peers.mjs's edits: text pieces with accents, combining marks, CJK,
// surrogate pairs and ZWJ sequences; keys that collide across peers.
var (
	goPieces = []string{"a", "b", "xyz", " ", "é", "e\u0301", "中文", "😀", "👋🏽", "👩\u200d👩\u200d👧", "𝄞", "Ω", "\n", `"q"`, `\`, "\x00", "<&>"}
	goKeys   = []string{"k0", "k1", "k2", "status", "😀", "é", "10", "2", ""}
)

func randString(rng *rand.Rand, max int) string {
	var sb strings.Builder
	for i := rng.IntN(max + 1); i > 0; i-- {
		sb.WriteString(goPieces[rng.IntN(len(goPieces))])
	}
	return sb.String()
}

func randPrimitive(rng *rand.Rand, inMap bool) any {
	switch rng.IntN(13) {
	case 0:
		return rng.IntN(201) - 100
	case 1:
		return int64(rng.Int32())
	case 2:
		return []any{int64(1) << 31, -(int64(1) << 31) - 1, int64(1)<<40 + 7, int64(1)<<53 - 1, math.Copysign(0, -1)}[rng.IntN(5)]
	case 3:
		return []any{0.5, -2.25, 3.14159, 1e-7, 1.5e300, 0.1, math.NaN(), math.Inf(1), math.Inf(-1), float32(0.25), uint64(1) << 63, int64(1)<<60 + 1}[rng.IntN(12)]
	case 4:
		return randString(rng, 4)
	case 5:
		return rng.IntN(2) == 0
	case 6:
		return nil
	case 7:
		if inMap {
			return lib0.Undefined{}
		}
		return nil
	case 8:
		b := make([]byte, rng.IntN(5))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case 9:
		return map[string]any{"x": rng.IntN(1000), "y": -1.5, "tags": []any{randString(rng, 2), rng.IntN(10)}}
	case 10:
		return []any{rng.IntN(10), randString(rng, 2), nil, map[string]any{"k": rng.IntN(2) == 0}}
	case 11:
		if rng.IntN(5) == 0 {
			return randString(rng, 300)
		}
		return ""
	default:
		// An object whose key order matters: integer-like keys come first in JavaScript.
		return lib0.Object{{Key: "b", Value: randString(rng, 2)}, {Key: "1", Value: 1.0}, {Key: goKeys[rng.IntN(len(goKeys))], Value: []any{}}}
	}
}

// boundaries returns the UTF-16 offsets of s's code point boundaries, 0 and its length included.
func boundaries(s string) []int {
	out := []int{0}
	pos := 0
	for _, r := range s {
		pos += utf16.RuneLen(r)
		out = append(out, pos)
	}
	return out
}

type goType struct {
	v     any // *crdt.Map, *crdt.Array or *crdt.Text
	depth int
}

func goTypes(doc *crdt.Doc) []goType {
	var out []goType
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		out = append(out, goType{v, depth})
		switch t := v.(type) {
		case *crdt.Map:
			for _, k := range t.Keys() {
				if x, ok := t.Get(k); ok {
					switch x.(type) {
					case *crdt.Map, *crdt.Array, *crdt.Text:
						walk(x, depth+1)
					}
				}
			}
		case *crdt.Array:
			for i := 0; i < t.Len(); i++ {
				if x, ok := t.Get(i); ok {
					switch x.(type) {
					case *crdt.Map, *crdt.Array, *crdt.Text:
						walk(x, depth+1)
					}
				}
			}
		}
	}
	walk(doc.GetMap("m"), 0)
	walk(doc.GetArray("a"), 0)
	walk(doc.GetText("t"), 0)
	return out
}

// goEdit makes one random edit inside tx through the public API.
func goEdit(rng *rand.Rand, doc *crdt.Doc, tx *crdt.Transaction) error {
	types := goTypes(doc)
	target := types[rng.IntN(len(types))]
	nested := target.depth < 3 && rng.IntN(5) == 0
	switch t := target.v.(type) {
	case *crdt.Map:
		key := goKeys[rng.IntN(len(goKeys))]
		if keys := t.Keys(); len(keys) > 0 && rng.IntN(4) == 0 {
			if rng.IntN(10) < 7 {
				key = keys[rng.IntN(len(keys))]
			}
			t.Delete(tx, key)
			return nil
		}
		if nested {
			switch rng.IntN(3) {
			case 0:
				t.SetMap(tx, key)
			case 1:
				t.SetArray(tx, key)
			default:
				if err := t.SetText(tx, key).Insert(tx, 0, randString(rng, 3)); err != nil {
					return err
				}
			}
			return nil
		}
		return t.Set(tx, key, randPrimitive(rng, true))
	case *crdt.Array:
		if n := t.Len(); n > 0 && rng.IntN(20) < 7 {
			i := rng.IntN(n)
			return t.Delete(tx, i, 1+rng.IntN(min(3, n-i)))
		}
		i := rng.IntN(t.Len() + 1)
		if nested {
			switch rng.IntN(3) {
			case 0:
				_, err := t.InsertMap(tx, i)
				return err
			case 1:
				_, err := t.InsertArray(tx, i)
				return err
			default:
				_, err := t.InsertText(tx, i)
				return err
			}
		}
		values := make([]any, 1+rng.IntN(3))
		for j := range values {
			values[j] = randPrimitive(rng, false)
		}
		return t.Insert(tx, i, values...)
	case *crdt.Text:
		// Positions stay on code point boundaries, as in peers.mjs: yjs replicas diverge when one
		// of them splits a surrogate pair.
		b := boundaries(t.String())
		if n := len(b) - 1; n > 0 && rng.IntN(10) < 3 {
			i := rng.IntN(n)
			j := i + 1 + rng.IntN(min(5, n-i))
			return t.Delete(tx, b[i], b[j]-b[i])
		}
		s := randString(rng, 6)
		if s == "" {
			s = "w"
		}
		return t.Insert(tx, b[rng.IntN(len(b))], s)
	}
	return fmt.Errorf("unexpected type %T", target.v)
}

type goPeer struct {
	doc    *crdt.Doc
	online bool
	inbox  [][]byte
	local  bool
}

// goSimulation runs Go peers editing concurrently through the public API and returns them after
// full delivery, with every update their own transactions produced, in order.
func goSimulation(t *testing.T, seed, ops int) ([]*goPeer, [][]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x60))
	peers := make([]*goPeer, 2+rng.IntN(3))
	var updates [][]byte
	for i := range peers {
		id := uint64(rng.Uint32())
		if i == 0 && rng.IntN(3) == 0 {
			id = 1<<33 + rng.Uint64N(1<<40)
		}
		p := &goPeer{doc: crdt.NewDocWithClientID(id), online: true}
		p.doc.OnUpdate(func(u []byte) {
			if !p.local {
				return
			}
			u = append([]byte(nil), u...)
			updates = append(updates, u)
			for _, o := range peers {
				if o != p {
					o.inbox = append(o.inbox, u)
				}
			}
		})
		peers[i] = p
	}
	deliver := func(p *goPeer, n int) {
		for ; n > 0 && len(p.inbox) > 0; n-- {
			j := 0
			if rng.IntN(5) == 0 {
				j = rng.IntN(len(p.inbox))
			}
			u := p.inbox[j]
			p.inbox = append(p.inbox[:j], p.inbox[j+1:]...)
			if err := p.doc.ApplyUpdate(u); err != nil {
				t.Fatalf("seed %d: peer %d rejected an update of another Go peer: %v", seed, p.doc.ClientID(), err)
			}
		}
	}
	for step := 0; step < ops; step++ {
		p := peers[rng.IntN(len(peers))]
		switch x := rng.Float64(); {
		case x < 0.04:
			p.online = !p.online
		case x < 0.35:
			if p.online {
				deliver(p, 1+rng.IntN(4))
			}
		default:
			edits := 1
			if x < 0.40 {
				edits = 2 + rng.IntN(3)
			}
			var err error
			p.local = true
			p.doc.Transact(func(tx *crdt.Transaction) {
				for i := 0; i < edits && err == nil; i++ {
					err = goEdit(rng, p.doc, tx)
				}
			})
			p.local = false
			if err != nil {
				t.Fatalf("seed %d step %d: edit: %v", seed, step, err)
			}
		}
	}
	for {
		busy := false
		for _, p := range peers {
			if len(p.inbox) > 0 {
				busy = true
				deliver(p, len(p.inbox))
			}
		}
		if !busy {
			break
		}
	}
	return peers, updates
}

// goSummary describes a Go document the way peers.mjs describes a yjs one.
type goSummary struct {
	content Content
	sv      string
	ds      map[string][]Range
}

func summarize(t *testing.T, doc *crdt.Doc) goSummary {
	t.Helper()
	sv, err := StateVector(doc.EncodeStateVector())
	if err != nil {
		t.Fatalf("state vector: %v", err)
	}
	ds, err := DeleteSet(doc.EncodeDeleteSet())
	if err != nil {
		t.Fatalf("delete set: %v", err)
	}
	return goSummary{content: goContent(doc), sv: FormatStateVector(sv), ds: ds}
}

// Go peers edit through the Go API; yjs must build the same document from their updates (in
// order and shuffled with duplicates) and from a Go peer's full v1 and v2 encodings.
func TestGoToJS(t *testing.T) {
	first := envInt(t, "INTEROP_FIRST_SEED", 1)
	count := envInt(t, "INTEROP_SEEDS", 16)
	ops := envInt(t, "INTEROP_OPS", 300)
	var checks []checkCase
	var wants []goSummary
	for seed := first; seed < first+count; seed++ {
		t.Run(seedName(seed), func(t *testing.T) {
			peers, updates := goSimulation(t, seed, ops)
			want := summarize(t, peers[0].doc)
			for i, p := range peers[1:] {
				got := summarize(t, p.doc)
				if d := Diff("content", want.content.asAny(), got.content.asAny()); d != "" {
					t.Errorf("Go peer %d diverged from peer 0: %s", i+1, d)
				}
				if got.sv != want.sv || !reflect.DeepEqual(got.ds, want.ds) {
					t.Errorf("Go peer %d: state vector %s / delete set %v, peer 0 %s / %v", i+1, got.sv, got.ds, want.sv, want.ds)
				}
				if p.doc.HasPending() {
					t.Errorf("Go peer %d has pending structs after full delivery", i+1)
				}
			}
			rng := rand.New(rand.NewPCG(uint64(seed), 0x61))
			inOrder := make([]hexUpdate, len(updates))
			for i, u := range updates {
				inOrder[i] = u
			}
			var shuffled []hexUpdate
			for _, i := range deliverySchedule(rng, len(updates)) {
				shuffled = append(shuffled, updates[i])
			}
			v1, err := peers[0].doc.EncodeStateAsUpdate(nil)
			if err != nil {
				t.Fatal(err)
			}
			var v2 []byte
			noPanic(t, "encode v2", func() (err error) { v2, err = peers[len(peers)-1].doc.EncodeStateAsUpdateV2(nil); return err })
			name := fmt.Sprintf("seed %d", seed)
			checks = append(checks,
				checkCase{Name: name + ": Go updates in order", Updates: inOrder},
				checkCase{Name: name + ": Go updates shuffled, duplicated, late", Updates: shuffled},
				checkCase{Name: name + ": Go peer v1 full state", Updates: []hexUpdate{v1}},
			)
			if v2 != nil {
				checks = append(checks, checkCase{Name: name + ": Go peer v2 full state", Updates: []hexUpdate{v2}, V2: true})
			}
			for len(wants) < len(checks) {
				wants = append(wants, want)
			}
		})
	}
	for i, got := range checkWithYjs(t, checks) {
		what, want := checks[i].Name, wants[i]
		if got.Error != nil {
			t.Errorf("%s: yjs threw: %s", what, *got.Error)
			continue
		}
		if got.Pending {
			t.Errorf("%s: yjs has pending structs or deletes", what)
		}
		if d := Diff("content", got.content(t).asAny(), want.content.asAny()); d != "" {
			t.Errorf("%s: Go vs yjs: %s", what, d)
		}
		if sv := FormatStateVector(got.stateVector(t)); sv != want.sv {
			t.Errorf("%s: yjs state vector %s, Go %s", what, sv, want.sv)
		}
		if !reflect.DeepEqual(nonNil(got.DeleteSet), want.ds) {
			t.Errorf("%s: yjs delete set %v, Go %v", what, got.DeleteSet, want.ds)
		}
	}
}
