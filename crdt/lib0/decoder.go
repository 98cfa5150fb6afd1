package lib0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("lib0: malformed input")

// ErrUnexpectedEnd reports input that ends inside a value. It wraps ErrMalformed.
var ErrUnexpectedEnd = fmt.Errorf("%w: unexpected end of input", ErrMalformed)

// MaxSafeInteger is the largest integer a JavaScript reader accepts (2^53-1).
const MaxSafeInteger = 1<<53 - 1

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Decoder reads lib0-encoded values from a byte slice. Reads after an error
// keep failing; slices returned by the decoder alias the input.
type Decoder struct {
	buf []byte
	pos int
}

// NewDecoder returns a decoder over b. It does not copy b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Remaining reports how many unread bytes are left.
func (d *Decoder) Remaining() int { return len(d.buf) - d.pos }

// Pos reports the read offset.
func (d *Decoder) Pos() int { return d.pos }

// Rest returns the unread bytes (aliasing the input) without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.pos:] }

// ReadUint8 reads one byte.
func (d *Decoder) ReadUint8() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, ErrUnexpectedEnd
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

// PeekUint8 returns the next byte without consuming it.
func (d *Decoder) PeekUint8() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, ErrUnexpectedEnd
	}
	return d.buf[d.pos], nil
}

// ReadBytes reads n raw bytes, aliasing the input.
func (d *Decoder) ReadBytes(n int) ([]byte, error) {
	if n < 0 || n > len(d.buf)-d.pos {
		return nil, ErrUnexpectedEnd
	}
	b := d.buf[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// ReadVarUint reads an unsigned variable-length integer. Values above
// 2^53-1 are rejected, as the JavaScript reader rejects them.
func (d *Decoder) ReadVarUint() (uint64, error) {
	// Fast path for the very common one-byte case.
	if d.pos < len(d.buf) && d.buf[d.pos] < 0x80 {
		v := d.buf[d.pos]
		d.pos++
		return uint64(v), nil
	}
	var v uint64
	var shift uint
	for {
		if d.pos >= len(d.buf) {
			return 0, ErrUnexpectedEnd
		}
		b := d.buf[d.pos]
		d.pos++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if v > MaxSafeInteger {
				return 0, malformed("integer out of range")
			}
			return v, nil
		}
		shift += 7
		if shift > 53 {
			return 0, malformed("integer out of range")
		}
	}
}

// ReadVarInt reads a signed variable-length integer. Negative zero reads as 0;
// use ReadVarIntSign to tell it apart.
func (d *Decoder) ReadVarInt() (int64, error) {
	m, neg, err := d.ReadVarIntSign()
	if err != nil {
		return 0, err
	}
	if neg {
		return -int64(m), nil
	}
	return int64(m), nil
}

// ReadVarIntSign reads a signed variable-length integer as magnitude and sign,
// so negative zero is visible.
func (d *Decoder) ReadVarIntSign() (magnitude uint64, negative bool, err error) {
	if d.pos >= len(d.buf) {
		return 0, false, ErrUnexpectedEnd
	}
	b := d.buf[d.pos]
	d.pos++
	m := uint64(b & 0x3f)
	neg := b&0x40 != 0
	if b&0x80 == 0 {
		return m, neg, nil
	}
	shift := uint(6)
	for {
		if d.pos >= len(d.buf) {
			return 0, false, ErrUnexpectedEnd
		}
		b = d.buf[d.pos]
		d.pos++
		m |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if m > MaxSafeInteger {
				return 0, false, malformed("integer out of range")
			}
			return m, neg, nil
		}
		shift += 7
		if shift > 53 {
			return 0, false, malformed("integer out of range")
		}
	}
}

// ReadLen reads a varUint used as a count or length and checks it fits an int.
func (d *Decoder) ReadLen() (int, error) {
	v, err := d.ReadVarUint()
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt32*2 {
		return 0, malformed("length %d out of range", v)
	}
	return int(v), nil
}

// ReadVarUint8Array reads a length-prefixed byte array. The result aliases
// the input (nothing is copied).
func (d *Decoder) ReadVarUint8Array() ([]byte, error) {
	n, err := d.ReadVarUint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)-d.pos) {
		return nil, ErrUnexpectedEnd
	}
	return d.ReadBytes(int(n))
}

// ReadVarString reads a length-prefixed UTF-8 string. Invalid UTF-8 is an
// error, as it is for JavaScript's fatal TextDecoder.
func (d *Decoder) ReadVarString() (string, error) {
	b, err := d.ReadVarUint8Array()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", malformed("invalid UTF-8 in string")
	}
	return string(b), nil
}

// ReadFloat32 reads a big-endian IEEE 754 single.
func (d *Decoder) ReadFloat32() (float32, error) {
	b, err := d.ReadBytes(4)
	if err != nil {
		return 0, err
	}
	return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
}

// ReadFloat64 reads a big-endian IEEE 754 double.
func (d *Decoder) ReadFloat64() (float64, error) {
	b, err := d.ReadBytes(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// ReadBigInt64 reads a big-endian two's-complement 64-bit integer.
func (d *Decoder) ReadBigInt64() (int64, error) {
	b, err := d.ReadBytes(8)
	if err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Reset makes the decoder read b from the start, so one decoder can be reused.
func (d *Decoder) Reset(b []byte) {
	d.buf = b
	d.pos = 0
}
