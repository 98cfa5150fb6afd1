package lib0

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func h(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVarUint(t *testing.T) {
	cases := []struct {
		v   uint64
		hex string
	}{
		{0, "00"}, {127, "7f"}, {128, "80 01"}, {300, "ac 02"},
		{1 << 32, "80 80 80 80 10"}, {1<<53 - 1, "ff ff ff ff ff ff ff 0f"},
	}
	for _, c := range cases {
		var e Encoder
		e.WriteVarUint(c.v)
		if want := h(t, c.hex); !bytes.Equal(e.Bytes(), want) {
			t.Errorf("WriteVarUint(%d) = %x, want %x", c.v, e.Bytes(), want)
		}
		d := NewDecoder(h(t, c.hex))
		got, err := d.ReadVarUint()
		if err != nil || got != c.v || d.Remaining() != 0 {
			t.Errorf("ReadVarUint(%s) = %d, %v", c.hex, got, err)
		}
	}
	if _, err := NewDecoder(h(t, "80 80")).ReadVarUint(); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated varUint: err = %v", err)
	}
	if _, err := NewDecoder(h(t, "ff ff ff ff ff ff ff ff ff 01")).ReadVarUint(); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized varUint: err = %v", err)
	}
	if _, err := NewDecoder(h(t, "80 80 80 80 80 80 80 10")).ReadVarUint(); !errors.Is(err, ErrMalformed) {
		t.Errorf("2^53 accepted: err = %v", err)
	}
}

func TestVarInt(t *testing.T) {
	cases := []struct {
		m   uint64
		neg bool
		hex string
	}{
		{0, false, "00"}, {0, true, "40"}, {63, false, "3f"}, {64, false, "80 01"},
		{1, true, "41"}, {64, true, "c0 01"}, {65, true, "c1 01"},
	}
	for _, c := range cases {
		var e Encoder
		e.WriteVarIntSign(c.m, c.neg)
		if want := h(t, c.hex); !bytes.Equal(e.Bytes(), want) {
			t.Errorf("WriteVarIntSign(%d,%v) = %x, want %x", c.m, c.neg, e.Bytes(), want)
		}
		m, neg, err := NewDecoder(h(t, c.hex)).ReadVarIntSign()
		if err != nil || m != c.m || neg != c.neg {
			t.Errorf("ReadVarIntSign(%s) = %d %v %v", c.hex, m, neg, err)
		}
		if !c.neg || c.m != 0 {
			var e2 Encoder
			v := int64(c.m)
			if c.neg {
				v = -v
			}
			e2.WriteVarInt(v)
			if !bytes.Equal(e2.Bytes(), h(t, c.hex)) {
				t.Errorf("WriteVarInt(%d) = %x", v, e2.Bytes())
			}
			got, _ := NewDecoder(h(t, c.hex)).ReadVarInt()
			if got != v {
				t.Errorf("ReadVarInt(%s) = %d, want %d", c.hex, got, v)
			}
		}
	}
}

func TestStrings(t *testing.T) {
	var e Encoder
	e.WriteVarString("😀é")
	if want := h(t, "06 f0 9f 98 80 c3 a9"); !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got %x", e.Bytes())
	}
	if _, err := NewDecoder(h(t, "02 ed a0")).ReadVarString(); !errors.Is(err, ErrMalformed) {
		t.Errorf("invalid UTF-8 accepted: %v", err)
	}
	var e2 Encoder
	e2.WriteVarString("a\xffb")
	if got := e2.Bytes(); !bytes.Equal(got, []byte("\x05a\xef\xbf\xbdb")) {
		t.Errorf("invalid UTF-8 written as %x", got)
	}
	if _, err := NewDecoder(h(t, "05 61 62")).ReadVarUint8Array(); !errors.Is(err, ErrUnexpectedEnd) {
		t.Errorf("short array: %v", err)
	}
	if n := UTF16Len("a😀é"); n != 4 {
		t.Errorf("UTF16Len = %d", n)
	}
}

func TestAnyEncoding(t *testing.T) {
	cases := []struct {
		v   any
		hex string
	}{
		{0, "7d 00"},
		{math.Copysign(0, -1), "7d 40"},
		{1, "7d 01"},
		{-1, "7d 41"},
		{2147483647, "7d bf ff ff ff 0f"},
		{2147483648.0, "7c 4f 00 00 00"},
		{1.5, "7c 3f c0 00 00"},
		{0.1, "7b 3f b9 99 99 99 99 99 9a"},
		{math.NaN(), "7b 7f f8 00 00 00 00 00 00"},
		{math.Inf(1), "7c 7f 80 00 00"},
		{BigInt(1 << 40), "7a 00 00 01 00 00 00 00 00"},
		{true, "78"}, {false, "79"}, {nil, "7e"}, {Undefined{}, "7f"},
		{"é", "77 02 c3 a9"},
		{[]any{1}, "75 01 7d 01"},
		{map[string]any{"a": 1}, "76 01 01 61 7d 01"},
		{[]byte{1, 2}, "74 02 01 02"},
		{Object{}, "76 00"},
	}
	for _, c := range cases {
		var e Encoder
		if err := e.WriteAny(c.v); err != nil {
			t.Fatalf("WriteAny(%v): %v", c.v, err)
		}
		want := h(t, c.hex)
		if !bytes.Equal(e.Bytes(), want) {
			t.Errorf("WriteAny(%#v) = %x, want %x", c.v, e.Bytes(), want)
		}
		d := NewDecoder(want)
		got, err := d.ReadAny()
		if err != nil || d.Remaining() != 0 {
			t.Fatalf("ReadAny(%s): %v", c.hex, err)
		}
		var e2 Encoder
		if err := e2.WriteAny(got); err != nil || !bytes.Equal(e2.Bytes(), want) {
			t.Errorf("round trip of %s = %x (%v)", c.hex, e2.Bytes(), err)
		}
	}
	// Negative zero survives decoding.
	v, _ := NewDecoder(h(t, "7d 40")).ReadAny()
	if f, ok := v.(float64); !ok || f != 0 || !math.Signbit(f) {
		t.Errorf("-0 decoded as %#v", v)
	}
}

func TestAnyObjectOrder(t *testing.T) {
	// {"b":1,"2":2,"a":3,"1":4,"b":5} enumerates as 1,2,b,a in JavaScript.
	var e Encoder
	e.WriteUint8(TagObject)
	e.WriteVarUint(5)
	for _, kv := range []struct {
		k string
		v int64
	}{{"b", 1}, {"2", 2}, {"a", 3}, {"1", 4}, {"b", 5}} {
		e.WriteVarString(kv.k)
		e.WriteUint8(TagInteger)
		e.WriteVarInt(kv.v)
	}
	v, err := NewDecoder(e.Bytes()).ReadAny()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := StringifyJSON(v)
	if s != `{"1":4,"2":2,"b":5,"a":3}` {
		t.Errorf("order: %s", s)
	}
}

func TestAnyRejectsHugeCounts(t *testing.T) {
	// A 10-byte input claiming a 2^50-element array or object is an error.
	for _, tag := range []byte{TagArray, TagObject} {
		var e Encoder
		e.WriteUint8(tag)
		e.WriteVarUint(1 << 50)
		e.WriteBytes([]byte{0x7e, 0x7e})
		if _, err := NewDecoder(e.Bytes()).ReadAny(); !errors.Is(err, ErrMalformed) {
			t.Errorf("tag %d: err = %v", tag, err)
		}
	}
	deep := bytes.Repeat([]byte{TagArray, 1}, 10000)
	if _, err := NewDecoder(deep).ReadAny(); !errors.Is(err, ErrMalformed) {
		t.Errorf("deep nesting: err = %v", err)
	}
	if _, err := NewDecoder([]byte{115}).ReadAny(); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown tag: err = %v", err)
	}
}

func TestFloats(t *testing.T) {
	var e Encoder
	e.WriteFloat32(2.5)
	e.WriteFloat64(-0.1)
	e.WriteBigInt64(-2)
	want := h(t, "40 20 00 00 bf b9 99 99 99 99 99 9a ff ff ff ff ff ff ff fe")
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got %x", e.Bytes())
	}
	d := NewDecoder(want)
	f32, _ := d.ReadFloat32()
	f64, _ := d.ReadFloat64()
	bi, err := d.ReadBigInt64()
	if f32 != 2.5 || f64 != -0.1 || bi != -2 || err != nil {
		t.Errorf("read %v %v %v %v", f32, f64, bi, err)
	}
	if _, err := d.ReadFloat32(); !errors.Is(err, ErrUnexpectedEnd) {
		t.Errorf("read past end: %v", err)
	}
}

func TestJSON(t *testing.T) {
	cases := map[string]string{
		`{"b":1,"a":[1.5,null,true,"x\n"],"1":{}}`: `{"1":{},"b":1,"a":[1.5,null,true,"x\n"]}`,
		`1e21`:                  `1e+21`,
		`123456789012345678901`: `123456789012345680000`,
		`0.000001`:              `0.000001`,
		`1e-7`:                  `1e-7`,
		`-0`:                    `0`,
		`"\u2028<"`:             "\"\u2028<\"",
		`"\u0001"`:              `"\u0001"`,
	}
	for in, want := range cases {
		v, err := ParseJSON(in)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", in, err)
		}
		got, err := StringifyJSON(v)
		if err != nil || got != want {
			t.Errorf("%s -> %s, want %s (%v)", in, got, want, err)
		}
	}
	for _, bad := range []string{``, `{`, `[1,]`, `1 2`, `undefined`} {
		if _, err := ParseJSON(bad); err == nil {
			t.Errorf("ParseJSON(%q) accepted", bad)
		}
	}
	s, _ := StringifyJSON(Object{{"u", Undefined{}}, {"b", []byte{7, 8}}, {"a", []any{Undefined{}, math.NaN()}}})
	if s != `{"b":{"0":7,"1":8},"a":[null,null]}` {
		t.Errorf("stringify: %s", s)
	}
}
