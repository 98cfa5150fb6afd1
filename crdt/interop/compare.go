package interop

import (
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/yardhq/yard/crdt/lib0"
)

// Content is a document's comparable content: the root map "m", array "a" and text "t", and the
// XML fragment "x" as yjs's toString renders it. Values are in the tagged JSON form peers.mjs
// prints: undefined as {"$undefined":true}, binary as {"$binary":"<hex>"}, NaN and infinities as
// {"$number":"NaN"}, other numbers as float64, objects as lib0.Object when their key order is
// defined and map[string]any when it is not.
type Content struct {
	M any
	A any
	T string
	X string
}

// Tag converts a value read from a crdt document into the tagged JSON form.
func Tag(v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case lib0.Undefined:
		return lib0.Object{{Key: "$undefined", Value: true}}
	case []byte:
		return lib0.Object{{Key: "$binary", Value: hex.EncodeToString(t)}}
	case string, bool:
		return t
	case float64:
		return tagFloat(t)
	case float32:
		return tagFloat(float64(t))
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case lib0.BigInt:
		return float64(t)
	case lib0.Object:
		out := make(lib0.Object, len(t))
		for i, f := range t {
			out[i] = lib0.Field{Key: f.Key, Value: Tag(f.Value)}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = Tag(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = Tag(x)
		}
		return out
	}
	return fmt.Sprintf("<unexpected Go type %T: %v>", v, v)
}

// tagFloat tags what JSON cannot hold the way peers.mjs does.
func tagFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return lib0.Object{{Key: "$number", Value: "NaN"}}
	case math.IsInf(f, 1):
		return lib0.Object{{Key: "$number", Value: "Infinity"}}
	case math.IsInf(f, -1):
		return lib0.Object{{Key: "$number", Value: "-Infinity"}}
	}
	return f
}

// Diff describes the first difference between want (parsed from peers.mjs output with
// lib0.ParseJSON) and got (tagged), or returns "". Objects compare in order when both sides have
// an order; a map[string]any on either side compares as a set of keys.
func Diff(path string, want, got any) string {
	switch w := want.(type) {
	case lib0.Object:
		switch g := got.(type) {
		case lib0.Object:
			if len(w) != len(g) {
				return fmt.Sprintf("%s: keys %v, want %v", path, objKeys(g), objKeys(w))
			}
			for i := range w {
				if w[i].Key != g[i].Key {
					return fmt.Sprintf("%s: key order %v, want %v", path, objKeys(g), objKeys(w))
				}
				if d := Diff(path+"."+w[i].Key, w[i].Value, g[i].Value); d != "" {
					return d
				}
			}
			return ""
		case map[string]any:
			return Diff(path, w.Map(), g)
		}
		return fmt.Sprintf("%s: got %T %v, want object", path, got, got)
	case map[string]any:
		var g map[string]any
		switch t := got.(type) {
		case lib0.Object:
			g = make(map[string]any, len(t))
			for _, f := range t {
				g[f.Key] = f.Value
			}
		case map[string]any:
			g = t
		default:
			return fmt.Sprintf("%s: got %T %v, want object", path, got, got)
		}
		wk, gk := mapKeys(w), mapKeys(g)
		if !slices.Equal(wk, gk) {
			return fmt.Sprintf("%s: keys %v, want %v", path, gk, wk)
		}
		for _, k := range wk {
			if d := Diff(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T %v, want array", path, got, got)
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: length %d, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := Diff(path+"["+strconv.Itoa(i)+"]", w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case float64:
		g, ok := got.(float64)
		// -0 prints as 0 in JSON, so zeros compare equal whatever their sign.
		if !ok || !(g == w || (math.IsNaN(g) && math.IsNaN(w))) {
			return fmt.Sprintf("%s: got %T %v, want %v", path, got, got, w)
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: got %T %q, want %T %q", path, got, fmt.Sprint(got), want, fmt.Sprint(want))
	}
	return ""
}

func objKeys(o lib0.Object) []string {
	out := make([]string, len(o))
	for i, f := range o {
		out[i] = f.Key
	}
	return out
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// StateVector decodes an encoded state vector into client -> clock.
func StateVector(sv []byte) (map[uint64]uint64, error) {
	d := lib0.NewDecoder(sv)
	n, err := d.ReadVarUint()
	if err != nil {
		return nil, err
	}
	if n > uint64(d.Remaining()/2) {
		return nil, fmt.Errorf("state vector claims %d clients in %d bytes", n, d.Remaining())
	}
	out := make(map[uint64]uint64, n)
	for i := uint64(0); i < n; i++ {
		c, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		clock, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		out[c] = clock
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the state vector", d.Remaining())
	}
	return out, nil
}

// FormatStateVector prints a state vector sorted by client, for messages.
func FormatStateVector(sv map[uint64]uint64) string {
	ids := make([]uint64, 0, len(sv))
	for id := range sv {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d:%d", id, sv[id])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Range is a run of deleted clocks of one client: [clock, clock+len).
type Range = [2]uint64

// DeleteSet decodes a v1 delete set (as crdt.Doc.EncodeDeleteSet writes it) into client ->
// ranges, sorted and with touching ranges merged, the form peers.mjs prints.
func DeleteSet(b []byte) (map[string][]Range, error) {
	d := lib0.NewDecoder(b)
	n, err := d.ReadVarUint()
	if err != nil {
		return nil, err
	}
	out := map[string][]Range{}
	for i := uint64(0); i < n; i++ {
		client, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		m, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		if m > uint64(d.Remaining()/2) {
			return nil, fmt.Errorf("delete set claims %d ranges in %d bytes", m, d.Remaining())
		}
		var rs []Range
		for j := uint64(0); j < m; j++ {
			clock, err := d.ReadVarUint()
			if err != nil {
				return nil, err
			}
			l, err := d.ReadVarUint()
			if err != nil {
				return nil, err
			}
			rs = append(rs, Range{clock, l})
		}
		key := strconv.FormatUint(client, 10)
		out[key] = append(out[key], rs...)
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the delete set", d.Remaining())
	}
	for k, rs := range out {
		out[k] = mergeRanges(rs)
		if len(out[k]) == 0 {
			delete(out, k)
		}
	}
	return out, nil
}

func mergeRanges(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	var out []Range
	for _, r := range rs {
		if r[1] == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1][0]+out[n-1][1] >= r[0] {
			out[n-1][1] = max(out[n-1][1], r[0]+r[1]-out[n-1][0])
			continue
		}
		out = append(out, r)
	}
	return out
}
