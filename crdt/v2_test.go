package crdt

import (
	"bytes"
	"testing"
)

func TestV2Vectors(t *testing.T) {
	e, err := NewDoc().EncodeStateAsUpdateV2(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := hexb(t, "00 00 00 00 00 00 01 00 00 00 00 00 00"); !bytes.Equal(e, want) {
		t.Errorf("empty v2 %x", e)
	}
	if err := NewDoc().ApplyUpdateV2(e); err != nil {
		t.Fatal(err)
	}
}

// TestV2RoundTrip checks v1 -> v2 -> v1 conversion and v2 application over
// every case of the conformance dataset and the B4 document.
func TestV2RoundTrip(t *testing.T) {
	docs := datasetDocs(t)
	b4 := NewDoc()
	if err := b4.ApplyUpdate(readData(t, "b4-update.bin")); err != nil {
		t.Fatal(err)
	}
	docs = append(docs, b4)
	for i, d := range docs {
		v1, _ := d.EncodeStateAsUpdate(nil)
		v2, err := d.EncodeStateAsUpdateV2(nil)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := ConvertUpdateV1ToV2(v1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(conv, v2) {
			t.Fatalf("doc %d: converted v1 differs from v2 encoding", i)
		}
		back, err := ConvertUpdateV2ToV1(v2)
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if !bytes.Equal(back, v1) {
			t.Fatalf("doc %d: v2 -> v1 differs", i)
		}
		r := NewDoc()
		if err := r.ApplyUpdateV2(v2); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		rv1, _ := r.EncodeStateAsUpdate(nil)
		if !bytes.Equal(rv1, v1) {
			t.Fatalf("doc %d: applying v2 gives a different document", i)
		}
		if i == len(docs)-1 {
			t.Logf("b4 document: v1 %d bytes, v2 %d bytes", len(v1), len(v2))
		}
	}
}
