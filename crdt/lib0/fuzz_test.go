package lib0

import (
	"bytes"
	"testing"
)

// FuzzReadAny checks that decoding never panics and that whatever decodes
// re-encodes to bytes that decode to the same value.
func FuzzReadAny(f *testing.F) {
	for _, s := range [][]byte{
		{0x7d, 0x40}, {0x7c, 0x4f, 0, 0, 0}, {0x76, 0x01, 0x01, 'a', 0x7d, 0x01},
		{0x75, 0x02, 0x7e, 0x7f}, {0x74, 0x02, 1, 2}, {0x7a, 0, 0, 1, 0, 0, 0, 0, 0},
		{0x77, 0x02, 0xc3, 0xa9}, {0x75, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := NewDecoder(b).ReadAny()
		if err != nil {
			return
		}
		var e Encoder
		if err := e.WriteAny(v); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		v2, err := NewDecoder(e.Bytes()).ReadAny()
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		var e2 Encoder
		_ = e2.WriteAny(v2)
		if !bytes.Equal(e.Bytes(), e2.Bytes()) {
			t.Fatalf("not stable: %x vs %x", e.Bytes(), e2.Bytes())
		}
	})
}

// FuzzPrimitives drives every primitive reader over arbitrary input.
func FuzzPrimitives(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0x40, 0x02, 'h', 'i'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		for d.Remaining() > 0 {
			op, _ := d.ReadUint8()
			var err error
			switch op % 7 {
			case 0:
				var v uint64
				if v, err = d.ReadVarUint(); err == nil {
					var e Encoder
					e.WriteVarUint(v)
					if v2, err2 := NewDecoder(e.Bytes()).ReadVarUint(); err2 != nil || v2 != v {
						t.Fatalf("varUint %d round trip", v)
					}
				}
			case 1:
				var m uint64
				var neg bool
				if m, neg, err = d.ReadVarIntSign(); err == nil {
					var e Encoder
					e.WriteVarIntSign(m, neg)
					if m2, n2, err2 := NewDecoder(e.Bytes()).ReadVarIntSign(); err2 != nil || m2 != m || n2 != neg {
						t.Fatalf("varInt round trip")
					}
				}
			case 2:
				_, err = d.ReadVarString()
			case 3:
				_, err = d.ReadVarUint8Array()
			case 4:
				_, err = d.ReadFloat32()
			case 5:
				_, err = d.ReadFloat64()
			case 6:
				_, err = d.ReadBigInt64()
			}
			if err != nil {
				return
			}
		}
	})
}

// FuzzParseJSON checks the JSON reader never panics and round-trips.
func FuzzParseJSON(f *testing.F) {
	f.Add(`{"a":[1,2.5,"x"],"1":null}`)
	f.Add(`"\ud83d\ude00"`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseJSON(s)
		if err != nil {
			return
		}
		out, err := StringifyJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("reparse %q: %v", out, err)
		}
		out2, _ := StringifyJSON(v2)
		if out != out2 {
			t.Fatalf("unstable %q vs %q", out, out2)
		}
	})
}

// FuzzRle drives the v2 column decoders and checks re-encoding is stable.
func FuzzRle(f *testing.F) {
	f.Add([]byte{0x40, 0x03, 0x05}, uint8(0))
	f.Add([]byte{0x03, 0x02, 0x07}, uint8(1))
	f.Add([]byte{0x02, 'h', 'i', 0x41, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		switch which % 4 {
		case 0:
			d := NewUintOptRleDecoder(b)
			var e UintOptRleEncoder
			var vals []uint64
			for i := 0; i < 256; i++ {
				v, err := d.Read()
				if err != nil {
					break
				}
				vals = append(vals, v)
				e.Write(v)
			}
			d2 := NewUintOptRleDecoder(e.Bytes())
			for _, v := range vals {
				if g, err := d2.Read(); err != nil || g != v {
					t.Fatalf("uint rle round trip: %d vs %d (%v)", g, v, err)
				}
			}
		case 1:
			d := NewIntDiffOptRleDecoder(b)
			var e IntDiffOptRleEncoder
			var vals []int64
			for i := 0; i < 256; i++ {
				v, err := d.Read()
				if err != nil || v > MaxSafeInteger || v < -MaxSafeInteger {
					break
				}
				vals = append(vals, v)
				e.Write(v)
			}
			d2 := NewIntDiffOptRleDecoder(e.Bytes())
			for _, v := range vals {
				if g, err := d2.Read(); err != nil || g != v {
					t.Fatalf("int diff rle round trip: %d vs %d (%v)", g, v, err)
				}
			}
		case 2:
			d, err := NewStringDecoder(b)
			if err != nil {
				return
			}
			for i := 0; i < 256; i++ {
				if _, err := d.Read(); err != nil {
					break
				}
			}
		case 3:
			d := NewRleDecoder(b)
			for i := 0; i < 256; i++ {
				if _, err := d.Read(); err != nil {
					break
				}
			}
		}
	})
}
