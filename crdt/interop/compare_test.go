package interop

import (
	"testing"

	"github.com/yardhq/yard/crdt/lib0"
)

func TestDiff(t *testing.T) {
	parse := func(s string) any {
		v, err := lib0.ParseJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	same := []struct {
		want string
		got  any
	}{
		{`{"b":1,"a":[true,null,"x"]}`, lib0.Object{{Key: "b", Value: 1.0}, {Key: "a", Value: []any{true, nil, "x"}}}},
		{`{"b":1,"a":2}`, map[string]any{"a": 2.0, "b": 1.0}}, // a Go map has no order to check
		{`{"$undefined":true}`, Tag(lib0.Undefined{})},
		{`{"$binary":"0102"}`, Tag([]byte{1, 2})},
		{`[1, 9007199254740991]`, Tag([]any{int64(1), int64(1<<53 - 1)})},
		{`0`, -0.0},
	}
	for _, c := range same {
		if d := Diff("v", parse(c.want), c.got); d != "" {
			t.Errorf("Diff(%s, %#v) = %q, want no difference", c.want, c.got, d)
		}
	}
	differ := []struct {
		want string
		got  any
	}{
		{`{"b":1,"a":2}`, lib0.Object{{Key: "a", Value: 2.0}, {Key: "b", Value: 1.0}}}, // key order
		{`{"a":1}`, map[string]any{"a": 1.0, "b": 1.0}},
		{`[1,2]`, []any{1.0}},
		{`"x"`, "y"},
		{`null`, Tag(lib0.Undefined{})},
		{`{"$binary":"01"}`, Tag([]byte{2})},
		{`1`, "1"},
	}
	for _, c := range differ {
		if d := Diff("v", parse(c.want), c.got); d == "" {
			t.Errorf("Diff(%s, %#v) found no difference", c.want, c.got)
		}
	}
}

func TestDeleteSetMergesRanges(t *testing.T) {
	var e lib0.Encoder
	e.WriteVarUint(2)
	e.WriteVarUint(7) // client 7: [5,7) [0,2) [2,3) -> [0,3) [5,7)
	e.WriteVarUint(3)
	for _, r := range [][2]uint64{{5, 2}, {0, 2}, {2, 1}} {
		e.WriteVarUint(r[0])
		e.WriteVarUint(r[1])
	}
	e.WriteVarUint(9) // client 9: nothing
	e.WriteVarUint(0)
	ds, err := DeleteSet(e.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || len(ds["7"]) != 2 || ds["7"][0] != (Range{0, 3}) || ds["7"][1] != (Range{5, 2}) {
		t.Fatalf("DeleteSet = %v", ds)
	}
	if _, err := DeleteSet([]byte{1, 7, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Fatal("a delete set claiming 2^28 ranges in no bytes was accepted")
	}
}
