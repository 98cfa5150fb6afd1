package lib0

import "unicode/utf8"

// The column encoders of lib0 used by the Yjs v2 update format. Each keeps
// lib0's quirks exactly: counts are stored minus one or two, a run's sign
// bit says whether a count follows (so a run of zeros is written as -0), and
// the last Rle run has no count (the decoder repeats it forever).

// RleEncoder run-length encodes bytes: value, then count-1 once the run ends.
type RleEncoder struct {
	e     Encoder
	s     byte
	count uint64
}

// Write appends v.
func (r *RleEncoder) Write(v byte) {
	if r.count > 0 && r.s == v {
		r.count++
		return
	}
	if r.count > 0 {
		r.e.WriteVarUint(r.count - 1)
	}
	r.count = 1
	r.e.WriteUint8(v)
	r.s = v
}

// Bytes returns the column (the last run's count is never written).
func (r *RleEncoder) Bytes() []byte { return r.e.Bytes() }

// RleDecoder reads an RleEncoder column.
type RleDecoder struct {
	d     Decoder
	s     byte
	count int64 // -1: repeat s forever
}

// NewRleDecoder returns a decoder over b.
func NewRleDecoder(b []byte) *RleDecoder { return &RleDecoder{d: Decoder{buf: b}} }

// Read returns the next value.
func (r *RleDecoder) Read() (byte, error) {
	if r.count == 0 {
		v, err := r.d.ReadUint8()
		if err != nil {
			return 0, err
		}
		r.s = v
		if r.d.Remaining() > 0 {
			c, err := r.d.ReadVarUint()
			if err != nil {
				return 0, err
			}
			r.count = int64(c) + 1
		} else {
			r.count = -1
		}
	}
	if r.count > 0 {
		r.count--
	}
	return r.s, nil
}

// UintOptRleEncoder encodes unsigned integers: a lone value as a positive
// varInt, a run as the negated value followed by count-2.
type UintOptRleEncoder struct {
	e     Encoder
	s     uint64
	count uint64
}

// Write appends v.
func (r *UintOptRleEncoder) Write(v uint64) {
	if r.count > 0 && r.s == v {
		r.count++
		return
	}
	r.flush()
	r.count = 1
	r.s = v
}

func (r *UintOptRleEncoder) flush() {
	if r.count > 0 {
		r.e.WriteVarIntSign(r.s, r.count > 1)
		if r.count > 1 {
			r.e.WriteVarUint(r.count - 2)
		}
	}
}

// Bytes flushes the pending run and returns the column.
func (r *UintOptRleEncoder) Bytes() []byte {
	r.flush()
	r.count = 0
	return r.e.Bytes()
}

// UintOptRleDecoder reads a UintOptRleEncoder column.
type UintOptRleDecoder struct {
	d     Decoder
	s     uint64
	count uint64
}

// NewUintOptRleDecoder returns a decoder over b.
func NewUintOptRleDecoder(b []byte) *UintOptRleDecoder {
	return &UintOptRleDecoder{d: Decoder{buf: b}}
}

// Read returns the next value.
func (r *UintOptRleDecoder) Read() (uint64, error) {
	if r.count == 0 {
		m, neg, err := r.d.ReadVarIntSign()
		if err != nil {
			return 0, err
		}
		r.s = m
		r.count = 1
		if neg {
			c, err := r.d.ReadVarUint()
			if err != nil {
				return 0, err
			}
			r.count = c + 2
		}
	}
	r.count--
	return r.s, nil
}

// IntDiffOptRleEncoder encodes integers as runs of equal differences:
// varInt(diff*2 + hasCount), then count-2 when the run is longer than one.
type IntDiffOptRleEncoder struct {
	e     Encoder
	s     int64
	diff  int64
	count uint64
}

// Write appends v.
func (r *IntDiffOptRleEncoder) Write(v int64) {
	if r.count > 0 && r.diff == v-r.s {
		r.s = v
		r.count++
		return
	}
	r.flush()
	r.count = 1
	r.diff = v - r.s
	r.s = v
}

func (r *IntDiffOptRleEncoder) flush() {
	if r.count > 0 {
		enc := r.diff * 2
		if r.count > 1 {
			enc++
		}
		r.e.WriteVarInt(enc)
		if r.count > 1 {
			r.e.WriteVarUint(r.count - 2)
		}
	}
}

// Bytes flushes the pending run and returns the column.
func (r *IntDiffOptRleEncoder) Bytes() []byte {
	r.flush()
	r.count = 0
	return r.e.Bytes()
}

// IntDiffOptRleDecoder reads an IntDiffOptRleEncoder column.
type IntDiffOptRleDecoder struct {
	d     Decoder
	s     int64
	diff  int64
	count uint64
}

// NewIntDiffOptRleDecoder returns a decoder over b.
func NewIntDiffOptRleDecoder(b []byte) *IntDiffOptRleDecoder {
	return &IntDiffOptRleDecoder{d: Decoder{buf: b}}
}

// Read returns the next value.
func (r *IntDiffOptRleDecoder) Read() (int64, error) {
	if r.count == 0 {
		v, err := r.d.ReadVarInt()
		if err != nil {
			return 0, err
		}
		r.diff = v >> 1 // floor(v/2), as JavaScript computes it
		r.count = 1
		if v&1 != 0 {
			c, err := r.d.ReadVarUint()
			if err != nil {
				return 0, err
			}
			r.count = c + 2
		}
	}
	r.s += r.diff
	r.count--
	return r.s, nil
}

// StringEncoder concatenates strings into one varString followed by a
// UintOptRle column of their UTF-16 lengths.
type StringEncoder struct {
	s    []byte
	lens UintOptRleEncoder
}

// Write appends s.
func (r *StringEncoder) Write(s string) {
	r.s = append(r.s, s...)
	r.lens.Write(uint64(UTF16Len(s)))
}

// WriteBytes appends UTF-8 text given as bytes.
func (r *StringEncoder) WriteBytes(b []byte) {
	r.s = append(r.s, b...)
	r.lens.Write(uint64(UTF16Len(string(b))))
}

// Bytes returns the column.
func (r *StringEncoder) Bytes() []byte {
	var e Encoder
	e.WriteVarString(string(r.s))
	e.WriteBytes(r.lens.Bytes())
	return e.Bytes()
}

// StringDecoder reads a StringEncoder column, slicing by UTF-16 lengths.
type StringDecoder struct {
	s    string
	pos  int // byte offset into s
	lens *UintOptRleDecoder
}

// NewStringDecoder returns a decoder over b.
func NewStringDecoder(b []byte) (*StringDecoder, error) {
	d := NewDecoder(b)
	s, err := d.ReadVarString()
	if err != nil {
		return nil, err
	}
	return &StringDecoder{s: s, lens: NewUintOptRleDecoder(d.Rest())}, nil
}

// Read returns the next string. A length that ends inside a surrogate pair
// splits it into two U+FFFD, as JavaScript's slice and TextEncoder do.
func (r *StringDecoder) Read() (string, error) {
	n, err := r.lens.Read()
	if err != nil {
		return "", err
	}
	if n > uint64(len(r.s)-r.pos)*2 {
		return "", ErrUnexpectedEnd
	}
	start := r.pos
	units := uint64(0)
	var prefix string
	if r.pos < 0 { // continuing after a split surrogate pair
		r.pos = -r.pos - 1
		start = r.pos
		prefix = "\uFFFD"
		units = 1
		if n == 0 {
			r.pos = -r.pos - 1
			return "", nil
		}
	}
	i := start
	for units < n {
		if i >= len(r.s) {
			return "", ErrUnexpectedEnd
		}
		c := r.s[i]
		if c < utf8.RuneSelf {
			units++
			i++
			continue
		}
		rr, size := utf8.DecodeRuneInString(r.s[i:])
		if rr >= 0x10000 {
			if units+1 == n {
				// Split pair: this string ends with U+FFFD, the next starts with one.
				out := prefix + r.s[start:i] + "\uFFFD"
				r.pos = -(i + size) - 1
				return out, nil
			}
			units += 2
		} else {
			units++
		}
		i += size
	}
	r.pos = i
	return prefix + r.s[start:i], nil
}
