package lib0

import (
	"encoding/binary"
	"math"
)

// Encoder appends lib0-encoded values to a growing buffer. The zero value is
// ready to use.
type Encoder struct {
	buf []byte
}

// NewEncoderSize returns an encoder whose buffer starts with capacity n, to
// avoid regrowth when the caller knows roughly how much it will write.
func NewEncoderSize(n int) *Encoder { return &Encoder{buf: make([]byte, 0, n)} }

// Bytes returns the encoded bytes. The slice aliases the encoder's buffer
// until the next write.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len reports how many bytes have been written.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the encoder, keeping its buffer for reuse.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// WriteUint8 writes one byte.
func (e *Encoder) WriteUint8(b byte) { e.buf = append(e.buf, b) }

// WriteBytes appends raw bytes without a length prefix.
func (e *Encoder) WriteBytes(b []byte) { e.buf = append(e.buf, b...) }

// WriteVarUint writes v in 7-bit groups, least significant first.
func (e *Encoder) WriteVarUint(v uint64) {
	for v > 0x7f {
		e.buf = append(e.buf, byte(v)|0x80)
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
}

// WriteVarInt writes a signed integer: the first byte holds a continuation
// bit, a sign bit and 6 bits of magnitude.
func (e *Encoder) WriteVarInt(v int64) {
	neg := v < 0
	var m uint64
	if neg {
		m = uint64(-v)
	} else {
		m = uint64(v)
	}
	e.WriteVarIntSign(m, neg)
}

// WriteVarIntSign writes a signed integer given as magnitude and sign, which
// is the only way to write negative zero (the byte 0x40); lib0's run-length
// encoders use negative zero as a flag.
func (e *Encoder) WriteVarIntSign(magnitude uint64, negative bool) {
	b := byte(magnitude & 0x3f)
	if negative {
		b |= 0x40
	}
	magnitude >>= 6
	if magnitude > 0 {
		b |= 0x80
	}
	e.buf = append(e.buf, b)
	for magnitude > 0 {
		b = byte(magnitude & 0x7f)
		magnitude >>= 7
		if magnitude > 0 {
			b |= 0x80
		}
		e.buf = append(e.buf, b)
	}
}

// WriteVarUint8Array writes a length-prefixed byte array.
func (e *Encoder) WriteVarUint8Array(b []byte) {
	e.WriteVarUint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// WriteVarString writes a length-prefixed UTF-8 string. Invalid UTF-8 is
// replaced by U+FFFD, as JavaScript's TextEncoder does for lone surrogates,
// because a JavaScript reader rejects invalid UTF-8 outright.
func (e *Encoder) WriteVarString(s string) {
	if !validUTF8(s) {
		s = toValidUTF8(s)
	}
	e.WriteVarUint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// WriteFloat32 writes a big-endian IEEE 754 single.
func (e *Encoder) WriteFloat32(f float32) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, math.Float32bits(f))
}

// WriteFloat64 writes a big-endian IEEE 754 double.
func (e *Encoder) WriteFloat64(f float64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// WriteBigInt64 writes a big-endian two's-complement 64-bit integer.
func (e *Encoder) WriteBigInt64(v int64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
}
