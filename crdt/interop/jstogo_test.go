package interop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/yardhq/yard/crdt"
)

// deliverySchedule is the order a server receives a peer group's updates in: shuffled, about a
// tenth delivered twice, and about a sixth held back until the end.
func deliverySchedule(rng *rand.Rand, n int) []int {
	order := rng.Perm(n)
	var now, late []int
	for _, i := range order {
		if rng.IntN(6) == 0 {
			late = append(late, i)
		} else {
			now = append(now, i)
		}
		if rng.IntN(10) == 0 {
			late = append(late, i)
		}
	}
	rng.Shuffle(len(late), func(a, b int) { late[a], late[b] = late[b], late[a] })
	return append(now, late...)
}

// goSummary is what a crdt document holds, in the form peers.mjs reports yjs documents.
func goContent(doc *crdt.Doc) Content {
	return Content{
		M: Tag(doc.GetMap("m").ToJSON()),
		A: Tag(doc.GetArray("a").ToJSON()),
		T: doc.GetText("t").String(),
		X: doc.GetXmlFragment("x").String(),
	}
}

// checkDoc asserts a Go document has the content, state vector and delete set yjs reported,
// with nothing pending.
func checkDoc(t *testing.T, what string, doc *crdt.Doc, want summary) {
	t.Helper()
	for _, p := range docProblems(t, doc, want) {
		t.Errorf("%s: %s", what, p)
	}
}

func docProblems(t testing.TB, doc *crdt.Doc, want summary) []string {
	var out []string
	if d := Diff("content", want.content(t).asAny(), goContent(doc).asAny()); d != "" {
		out = append(out, d)
	}
	sv, err := StateVector(doc.EncodeStateVector())
	if err != nil {
		out = append(out, fmt.Sprintf("state vector: %v", err))
	} else if w := want.stateVector(t); FormatStateVector(sv) != FormatStateVector(w) {
		out = append(out, fmt.Sprintf("state vector %s, want %s", FormatStateVector(sv), FormatStateVector(w)))
	}
	ds, err := DeleteSet(doc.EncodeDeleteSet())
	if err != nil {
		out = append(out, fmt.Sprintf("delete set: %v", err))
	} else if !reflect.DeepEqual(ds, nonNil(want.DeleteSet)) {
		out = append(out, fmt.Sprintf("delete set %v, want %v", ds, want.DeleteSet))
	}
	if doc.HasPending() {
		out = append(out, "structs or deletions still pending")
	}
	return out
}

// rejectTruncated applies a truncated copy of update, which must fail and leave doc exactly as
// it was (a v1 update ends with its delete set, so no proper prefix is a whole update).
func rejectTruncated(t *testing.T, doc *crdt.Doc, update []byte, rng *rand.Rand) {
	t.Helper()
	if len(update) < 2 {
		return
	}
	before, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := update[:1+rng.IntN(len(update)-1)]
	if err := doc.ApplyUpdate(cut); err == nil {
		t.Errorf("a truncated update (%d of %d bytes) was accepted", len(cut), len(update))
	}
	after, err := doc.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a rejected truncated update (%d of %d bytes) changed the document", len(cut), len(update))
	}
}

// The harness must notice a document that missed an update: withholding any single update
// (here each of the first few) has to show up as a difference.
func TestHarnessDetectsMissingUpdates(t *testing.T) {
	g := generate(t, 7, 1, 120)[0]
	if len(g.Updates) < 10 {
		t.Fatalf("seed 7 produced only %d updates", len(g.Updates))
	}
	for skip := range 5 {
		doc := crdt.NewDoc()
		for i, u := range g.Updates {
			if i != skip {
				if err := doc.ApplyUpdate(u); err != nil {
					t.Fatal(err)
				}
			}
		}
		if p := docProblems(t, doc, g.summary); len(p) == 0 {
			t.Errorf("withholding update %d went unnoticed", skip)
		}
	}
}

// yjs peers edit; a Go document receives their updates shuffled, duplicated and late, from a
// merged update, and from yjs's own full encoding, and must equal the yjs peers. What Go then
// encodes (v1, v2, and a diff against a lagging peer) must give yjs the same document, state
// vector and delete set.
func TestJSToGo(t *testing.T) {
	first := envInt(t, "INTEROP_FIRST_SEED", 1)
	count := envInt(t, "INTEROP_SEEDS", 16)
	ops := envInt(t, "INTEROP_OPS", 300)
	var checks []checkCase
	var wants []summary
	var refs []int // >= 0: compare with that case's yjs result instead of the converged peers
	for _, g := range generate(t, first, count, ops) {
		t.Run(seedName(g.Seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(g.Seed), 0x5eed))
			updates := make([][]byte, len(g.Updates))
			for i, u := range g.Updates {
				updates[i] = u
			}

			doc := crdt.NewDoc()
			for n, i := range deliverySchedule(rng, len(updates)) {
				if n%17 == 5 {
					rejectTruncated(t, doc, updates[i], rng)
				}
				if err := doc.ApplyUpdate(updates[i]); err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
			}
			checkDoc(t, "shuffled, duplicated and late", doc, g.summary)

			if len(g.UpdatesV2) != len(updates) {
				t.Fatalf("%d v2 updates for %d v1 updates", len(g.UpdatesV2), len(updates))
			}
			fromV2 := crdt.NewDoc()
			for _, i := range deliverySchedule(rng, len(g.UpdatesV2)) {
				if err := fromV2.ApplyUpdateV2(g.UpdatesV2[i]); err != nil {
					t.Fatalf("v2 update %d: %v", i, err)
				}
			}
			checkDoc(t, "yjs v2 updates, shuffled, duplicated and late", fromV2, g.summary)
			fromFullV2 := crdt.NewDoc()
			if err := fromFullV2.ApplyUpdateV2(g.FullV2); err != nil {
				t.Fatalf("yjs full state v2: %v", err)
			}
			checkDoc(t, "yjs full state v2", fromFullV2, g.summary)
			v2s := make([][]byte, len(g.UpdatesV2))
			for i, u := range g.UpdatesV2 {
				v2s[i] = u
			}
			mergedV2, err := crdt.MergeUpdatesV2(v2s)
			if err != nil {
				t.Fatalf("MergeUpdatesV2: %v", err)
			}
			fromMergedV2 := crdt.NewDoc()
			if err := fromMergedV2.ApplyUpdateV2(mergedV2); err != nil {
				t.Fatalf("merged v2 update: %v", err)
			}
			checkDoc(t, "merged v2 update", fromMergedV2, g.summary)

			noGC := crdt.NewDocWithOptions(crdt.Options{DisableGC: true})
			for i, u := range updates {
				if err := noGC.ApplyUpdate(u); err != nil {
					t.Fatalf("update %d without GC: %v", i, err)
				}
			}
			checkDoc(t, "GC off", noGC, g.summary)

			// Stored updates merged in random chunks, the chunks delivered shuffled.
			var chunks [][]byte
			for i := 0; i < len(updates); {
				n := 1 + rng.IntN(40)
				chunk, err := crdt.MergeUpdates(updates[i:min(i+n, len(updates))])
				if err != nil {
					t.Fatalf("MergeUpdates of updates %d..%d: %v", i, i+n, err)
				}
				chunks = append(chunks, chunk)
				i += n
			}
			fromChunks := crdt.NewDoc()
			for _, i := range rng.Perm(len(chunks)) {
				if err := fromChunks.ApplyUpdate(chunks[i]); err != nil {
					t.Fatalf("merged chunk %d: %v", i, err)
				}
			}
			checkDoc(t, "merged chunks, shuffled", fromChunks, g.summary)

			fromFull := crdt.NewDoc()
			if err := fromFull.ApplyUpdate(g.Full); err != nil {
				t.Fatalf("yjs full state: %v", err)
			}
			checkDoc(t, "yjs full state", fromFull, g.summary)

			merged, err := crdt.MergeUpdates(updates)
			if err != nil {
				t.Fatalf("MergeUpdates: %v", err)
			}
			fromMerged := crdt.NewDoc()
			if err := fromMerged.ApplyUpdate(merged); err != nil {
				t.Fatalf("merged update: %v", err)
			}
			checkDoc(t, "merged update", fromMerged, g.summary)

			// A peer that saw only the first half catches up from a diff against its state vector.
			half := updates[:len(updates)/2]
			lagging := crdt.NewDoc()
			for i, u := range half {
				if err := lagging.ApplyUpdate(u); err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
			}
			diff, err := doc.EncodeStateAsUpdate(lagging.EncodeStateVector())
			if err != nil {
				t.Fatalf("diff: %v", err)
			}
			if err := lagging.ApplyUpdate(diff); err != nil {
				t.Fatalf("applying the diff: %v", err)
			}
			checkDoc(t, "lagging peer after the diff", lagging, g.summary)

			v1, err := doc.EncodeStateAsUpdate(nil)
			if err != nil {
				t.Fatalf("encode v1: %v", err)
			}
			var v2 []byte
			if noPanic(t, "encode v2", func() (err error) { v2, err = doc.EncodeStateAsUpdateV2(nil); return err }) {
				roundTrip := crdt.NewDoc()
				if noPanic(t, "apply own v2", func() error { return roundTrip.ApplyUpdateV2(v2) }) {
					checkDoc(t, "own v2 encoding", roundTrip, g.summary)
				}
			}

			name := fmt.Sprintf("seed %d", g.Seed)
			halfHex := make([]hexUpdate, 0, len(half)+1)
			for _, u := range half {
				halfHex = append(halfHex, u)
			}
			add := func(c checkCase, ref int) {
				checks = append(checks, c)
				wants = append(wants, g.summary)
				refs = append(refs, ref)
			}
			add(checkCase{Name: name + ": Go v1 full state", Updates: []hexUpdate{v1}}, -1)
			if v2 != nil {
				add(checkCase{Name: name + ": Go v2 full state", Updates: []hexUpdate{v2}, V2: true}, -1)
			}
			// A yjs replica that saw the first half can end with a delete set the converged peers
			// do not have (yjs deletes some items integrated out of order locally), so Go's diff
			// is held to what yjs's own full state does to the same replica.
			add(checkCase{Name: name + ": first half, then yjs's full state", Updates: append(halfHex[:len(halfHex):len(halfHex)], g.Full)}, -1)
			add(checkCase{Name: name + ": first half, then Go's diff", Updates: append(halfHex, diff)}, len(checks)-1)
		})
	}
	results := checkWithYjs(t, checks)
	for i, got := range results {
		if refs[i] >= 0 {
			sameSummary(t, checks[i].Name+" (vs "+checks[refs[i]].Name+")", results[refs[i]], got)
			continue
		}
		if strings.Contains(checks[i].Name, "then yjs's full state") {
			continue // a reference only
		}
		sameSummary(t, checks[i].Name, wants[i], got)
	}
}
