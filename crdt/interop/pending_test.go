package interop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/yardhq/yard/crdt"
)

// TestPendingEncodingMatchesYjs delivers a shuffled part of each seed's updates, so structs and
// deletions wait for missing ones, to a Go document and to yjs, and holds Go's
// EncodeStateAsUpdate (pending data included) to yjs's encodeStateAsUpdate byte for byte.
// EncodeIntegrated must carry nothing pending: a fresh document given it holds the same content
// and nothing pending, and with nothing pending the two encodings are the same bytes.
func TestPendingEncodingMatchesYjs(t *testing.T) {
	first := envInt(t, "INTEROP_FIRST_SEED", 1)
	count := envInt(t, "INTEROP_SEEDS", 16)
	ops := envInt(t, "INTEROP_OPS", 300)
	var checks []checkCase
	var goFull [][]byte
	pendingCases := 0
	for _, g := range generate(t, first+1000, count, ops) {
		rng := rand.New(rand.NewPCG(uint64(g.Seed), 0x9e4d))
		order := deliverySchedule(rng, len(g.Updates))
		for _, frac := range []int{4, 2} {
			cut := order[:len(order)/frac]
			doc := crdt.NewDoc()
			var hexes []hexUpdate
			for _, i := range cut {
				if err := doc.ApplyUpdate(g.Updates[i]); err != nil {
					t.Fatalf("seed %d: update %d: %v", g.Seed, i, err)
				}
				hexes = append(hexes, g.Updates[i])
			}
			full, err := doc.EncodeStateAsUpdate(nil)
			if err != nil {
				t.Fatal(err)
			}
			integrated, err := doc.EncodeIntegrated(nil)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("seed %d, 1/%d delivered", g.Seed, frac)
			if doc.HasPending() {
				pendingCases++
			} else if !bytes.Equal(full, integrated) {
				t.Errorf("%s: nothing pending, yet the two encodings differ", name)
			}
			re := crdt.NewDoc()
			if err := re.ApplyUpdate(integrated); err != nil {
				t.Fatalf("%s: apply EncodeIntegrated: %v", name, err)
			}
			if re.HasPending() {
				t.Errorf("%s: EncodeIntegrated carries pending data", name)
			}
			if !reflect.DeepEqual(goContent(doc), goContent(re)) {
				t.Errorf("%s: EncodeIntegrated holds other content", name)
			}
			checks = append(checks, checkCase{Name: name, Updates: hexes})
			goFull = append(goFull, full)
		}
	}
	if pendingCases < count/2 {
		t.Fatalf("only %d of %d cases left anything pending: the test does not test", pendingCases, len(checks))
	}
	for i, got := range checkWithYjs(t, checks) {
		if got.Error != nil {
			t.Errorf("%s: yjs: %s", checks[i].Name, *got.Error)
			continue
		}
		if !bytes.Equal(goFull[i], got.Encoded) {
			t.Errorf("%s: EncodeStateAsUpdate differs from yjs (pending %v):\n go  %x\n yjs %x", checks[i].Name, got.Pending, goFull[i], []byte(got.Encoded))
		}
	}
}
