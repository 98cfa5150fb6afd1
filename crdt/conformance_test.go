package crdt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/yardhq/yard/crdt/lib0"
)

// readData reads a file of the Yjs conformance and benchmark data kept in
// testdata/yjs (small-test-dataset.bin, b4-update.bin, automerge-paper.json.gz,
// friendsforever.json.gz; MIT, see testdata/yjs/LICENSE).
func readData(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "yjs", name))
	if err != nil {
		t.Fatalf("read Yjs conformance data: %v", err)
	}
	return b
}

// TestSmallDataset replays every case of yrs's small-test-dataset.bin and
// compares text, map JSON and array JSON (key order included) with what
// yjs produces.
func TestSmallDataset(t *testing.T) {
	data := readData(t, "small-test-dataset.bin")
	d := lib0.NewDecoder(data)
	n, err := d.ReadVarUint()
	if err != nil {
		t.Fatal(err)
	}
	if n != 5320 {
		t.Fatalf("dataset has %d cases, want 5320", n)
	}
	failed := 0
	for i := uint64(0); i < n; i++ {
		k, err := d.ReadVarUint()
		if err != nil {
			t.Fatal(err)
		}
		doc := NewDocWithClientID(1 << 40)
		var applyErr error
		for j := uint64(0); j < k; j++ {
			u, err := d.ReadVarUint8Array()
			if err != nil {
				t.Fatal(err)
			}
			if err := doc.ApplyUpdate(u); err != nil && applyErr == nil {
				applyErr = err
			}
		}
		text, err := d.ReadVarString()
		if err != nil {
			t.Fatal(err)
		}
		m, err := d.ReadAny()
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.ReadAny()
		if err != nil {
			t.Fatal(err)
		}
		wantMap, _ := lib0.StringifyJSON(m)
		wantArr, _ := lib0.StringifyJSON(a)
		gotMap, _ := doc.GetMap("map").MarshalJSON()
		gotArr, _ := doc.GetArray("array").MarshalJSON()
		gotText := doc.GetText("text").String()
		if applyErr != nil || gotText != text || string(gotMap) != wantMap || string(gotArr) != wantArr {
			failed++
			if failed <= 5 {
				t.Errorf("case %d: err=%v\n text %q\n want %q\n map  %s\n want %s\n arr  %s\n want %s",
					i, applyErr, gotText, text, gotMap, wantMap, gotArr, wantArr)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d cases differ from yjs", failed, n)
	}
}

// datasetDocs builds the final document of every dataset case.
func datasetDocs(t testing.TB) []*Doc {
	data := readData(t, "small-test-dataset.bin")
	d := lib0.NewDecoder(data)
	n, _ := d.ReadVarUint()
	docs := make([]*Doc, 0, n)
	for i := uint64(0); i < n; i++ {
		k, _ := d.ReadVarUint()
		doc := NewDoc()
		for j := uint64(0); j < k; j++ {
			u, _ := d.ReadVarUint8Array()
			if err := doc.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = d.ReadVarString()
		_, _ = d.ReadAny()
		if _, err := d.ReadAny(); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	return docs
}
