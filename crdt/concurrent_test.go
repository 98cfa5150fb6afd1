package crdt

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

type concurrentTrace struct {
	Txns []struct {
		Parents []int                `json:"parents"`
		Patches [][3]json.RawMessage `json:"patches"`
	} `json:"txns"`
}

// utf16Index converts a position in Unicode scalar values to UTF-16 units.
func utf16Index(s string, runes int) int {
	i := 0
	for k := 0; k < runes && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return lib0.UTF16Len(s[:i])
}

// TestConcurrentTrace replays the friendsforever trace: every transaction
// edits a fork of the document its parents describe (merged when it has
// two), and the merged branches must equal, byte for byte, what yjs builds
// the same way (testdata/gen-friendsforever.mjs).
func TestConcurrentTrace(t *testing.T) {
	zr, err := gzip.NewReader(bytes.NewReader(readData(t, "friendsforever.json.gz")))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var tr concurrentTrace
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Limit      int    `json:"limit"`
		TextLength int    `json:"textLength"`
		TextSHA256 string `json:"textSHA256"`
		V1Length   int    `json:"v1Length"`
		V1SHA256   string `json:"v1SHA256"`
	}
	wraw, err := os.ReadFile("testdata/friendsforever-yjs.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wraw, &want); err != nil {
		t.Fatal(err)
	}
	// Forking replays cost O(transactions x document); a prefix keeps the
	// test quick (yjs needs ~50 s for the whole trace this way).
	tr.Txns = tr.Txns[:want.Limit]
	n := len(tr.Txns)
	states := make([][]byte, n)
	children := make([]int, n)
	for _, tx := range tr.Txns {
		for _, p := range tx.Parents {
			children[p]++
		}
	}
	var all [][]byte
	for i, tx := range tr.Txns {
		d := NewDocWithClientID(uint64(1000 + i))
		for _, p := range tx.Parents {
			if err := d.ApplyUpdate(states[p]); err != nil {
				t.Fatal(err)
			}
			if children[p]--; children[p] == 0 {
				states[p] = nil // no longer needed
			}
		}
		txt := d.GetText("text")
		var upd []byte
		cancel := d.OnUpdate(func(u []byte) { upd = u })
		d.Transact(func(trx *Transaction) {
			for _, p := range tx.Patches {
				var pos, del int
				var ins string
				_ = json.Unmarshal(p[0], &pos)
				_ = json.Unmarshal(p[1], &del)
				_ = json.Unmarshal(p[2], &ins)
				s := txt.String()
				start := utf16Index(s, pos)
				if del > 0 {
					end := utf16Index(s, pos+del)
					if err := txt.Delete(trx, start, end-start); err != nil {
						t.Fatalf("txn %d: %v", i, err)
					}
				}
				if ins != "" {
					if err := txt.Insert(trx, start, ins); err != nil {
						t.Fatalf("txn %d: %v", i, err)
					}
				}
			}
		})
		cancel()
		if upd != nil {
			all = append(all, upd)
		}
		states[i], _ = d.EncodeStateAsUpdate(nil)
	}
	final := NewDoc()
	for i, s := range states {
		if s != nil && children[i] == 0 {
			if err := final.ApplyUpdate(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := final.GetText("text").String()
	v1, _ := final.EncodeStateAsUpdate(nil)
	if final.GetText("text").Len() != want.TextLength || sha(text) != want.TextSHA256 {
		t.Fatalf("merged branches differ from yjs's text (%d units)", final.GetText("text").Len())
	}
	if len(v1) != want.V1Length || sha(string(v1)) != want.V1SHA256 {
		t.Fatalf("merged document encodes to %d bytes unlike yjs's %d-byte update", len(v1), want.V1Length)
	}
	// The per-transaction updates, applied in reverse, converge too.
	rev := NewDoc()
	for i := len(all) - 1; i >= 0; i-- {
		if err := rev.ApplyUpdate(all[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := rev.GetText("text").String(); got != text || rev.HasPending() {
		t.Fatalf("reverse replay gives a different text (pending %v)", rev.HasPending())
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
