package lib0

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Any tags, as written by lib0's writeAny.
const (
	TagUndefined  = 127
	TagNull       = 126
	TagInteger    = 125
	TagFloat32    = 124
	TagFloat64    = 123
	TagBigInt     = 122
	TagFalse      = 121
	TagTrue       = 120
	TagString     = 119
	TagObject     = 118
	TagArray      = 117
	TagUint8Array = 116
)

// maxAnyDepth bounds nesting so hostile input cannot exhaust the stack.
const maxAnyDepth = 512

// Undefined is JavaScript's undefined, which lib0 keeps distinct from null (nil).
type Undefined struct{}

// MarshalJSON renders undefined as null, as JSON.stringify does inside arrays.
func (Undefined) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// BigInt is a JavaScript bigint (tag 122): a signed 64-bit integer.
type BigInt int64

// Field is one property of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JavaScript object with its property order. JavaScript orders
// integer-like keys first (ascending), then other keys in insertion order;
// Set keeps that order so re-encoding reproduces the bytes yjs writes.
type Object []Field

// Get returns the value of key.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// Set assigns key like a JavaScript property assignment: an existing key keeps
// its position, a new integer-like key goes in numeric order before the
// other keys, any other new key goes last.
func (o *Object) Set(key string, value any) {
	s := *o
	for i := range s {
		if s[i].Key == key {
			s[i].Value = value
			return
		}
	}
	idx, isIndex := arrayIndex(key)
	if !isIndex {
		*o = append(s, Field{key, value})
		return
	}
	pos := 0
	for pos < len(s) {
		j, ok := arrayIndex(s[pos].Key)
		if !ok || j > idx {
			break
		}
		pos++
	}
	s = append(s, Field{})
	copy(s[pos+1:], s[pos:])
	s[pos] = Field{key, value}
	*o = s
}

// Map converts the object (deeply) to plain Go maps, losing key order.
func (o Object) Map() map[string]any {
	m := make(map[string]any, len(o))
	for _, f := range o {
		m[f.Key] = ToPlain(f.Value)
	}
	return m
}

// ToPlain converts Objects nested anywhere in v to map[string]any.
func ToPlain(v any) any {
	switch t := v.(type) {
	case Object:
		return t.Map()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = ToPlain(e)
		}
		return out
	}
	return v
}

// arrayIndex reports whether key is a canonical JavaScript array index
// ("0", "1", ... up to 2^32-2), which engines enumerate before other keys.
func arrayIndex(key string) (uint64, bool) {
	if len(key) == 0 || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, v < 1<<32-1
}

// SortKeysJS orders keys the way a JavaScript object built by assigning them
// in sorted order would enumerate them: array indices ascending, then the
// rest in byte order. Go maps have no order, so this is the deterministic
// choice for them.
func SortKeysJS(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, aok := arrayIndex(keys[i])
		b, bok := arrayIndex(keys[j])
		switch {
		case aok && bok:
			return a < b
		case aok != bok:
			return aok
		}
		return keys[i] < keys[j]
	})
}

// Normalize converts a Go value into the canonical Any representation:
// nil, Undefined, bool, float64 (every number, as JavaScript has one number
// type), BigInt, string, Object, []any or []byte. Maps get their keys in
// SortKeysJS order. Unsupported types are an error.
func Normalize(v any) (any, error) {
	return normalize(v, 0)
}

func normalize(v any, depth int) (any, error) {
	if depth > maxAnyDepth {
		return nil, fmt.Errorf("lib0: value nested deeper than %d", maxAnyDepth)
	}
	switch t := v.(type) {
	case string:
		// Peers see invalid UTF-8 as U+FFFD (it is written that way), so
		// store it that way too.
		if !validUTF8(t) {
			return toValidUTF8(t), nil
		}
		return t, nil
	case nil, Undefined, bool, float64, BigInt:
		return v, nil
	case []byte:
		return t, nil
	case float32:
		return float64(t), nil
	case int:
		return float64(t), nil
	case int8:
		return float64(t), nil
	case int16:
		return float64(t), nil
	case int32:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint:
		return float64(t), nil
	case uint8:
		return float64(t), nil
	case uint16:
		return float64(t), nil
	case uint32:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("lib0: %w", err)
		}
		return f, nil
	case Object:
		out := make(Object, 0, len(t))
		for _, f := range t {
			nv, err := normalize(f.Value, depth+1)
			if err != nil {
				return nil, err
			}
			out.Set(toValidUTF8(f.Key), nv)
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		SortKeysJS(keys)
		out := make(Object, 0, len(t))
		for _, k := range keys {
			nv, err := normalize(t[k], depth+1)
			if err != nil {
				return nil, err
			}
			out.Set(toValidUTF8(k), nv)
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			nv, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = toValidUTF8(e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("lib0: cannot encode a %T as Any", v)
}

// WriteAny writes v in lib0's Any format. v is normalized first, so any type
// Normalize accepts can be written.
func (e *Encoder) WriteAny(v any) error {
	n, err := Normalize(v)
	if err != nil {
		return err
	}
	e.writeAny(n)
	return nil
}

// writeAny writes a normalized value.
func (e *Encoder) writeAny(v any) {
	switch t := v.(type) {
	case nil:
		e.WriteUint8(TagNull)
	case Undefined:
		e.WriteUint8(TagUndefined)
	case bool:
		if t {
			e.WriteUint8(TagTrue)
		} else {
			e.WriteUint8(TagFalse)
		}
	case float64:
		e.WriteNumber(t)
	case BigInt:
		e.WriteUint8(TagBigInt)
		e.WriteBigInt64(int64(t))
	case string:
		e.WriteUint8(TagString)
		e.WriteVarString(t)
	case Object:
		e.WriteUint8(TagObject)
		e.WriteVarUint(uint64(len(t)))
		for _, f := range t {
			e.WriteVarString(f.Key)
			e.writeAny(f.Value)
		}
	case []any:
		e.WriteUint8(TagArray)
		e.WriteVarUint(uint64(len(t)))
		for _, x := range t {
			e.writeAny(x)
		}
	case []byte:
		e.WriteUint8(TagUint8Array)
		e.WriteVarUint8Array(t)
	default:
		// Unreachable for normalized values; keep the stream well formed.
		e.WriteUint8(TagUndefined)
	}
}

// WriteNumber writes a JavaScript number with lib0's choice of tag: a
// varInt for integers of magnitude <= 2^31-1 (negative zero included), a
// float32 when that is exact, otherwise a float64.
func (e *Encoder) WriteNumber(f float64) {
	if f == math.Trunc(f) && math.Abs(f) <= 0x7fffffff {
		e.WriteUint8(TagInteger)
		if math.Signbit(f) {
			e.WriteVarIntSign(uint64(-f), true)
		} else {
			e.WriteVarIntSign(uint64(f), false)
		}
		return
	}
	if f32 := float32(f); float64(f32) == f {
		e.WriteUint8(TagFloat32)
		e.WriteFloat32(f32)
		return
	}
	e.WriteUint8(TagFloat64)
	if f != f {
		// JavaScript has a single NaN bit pattern.
		e.WriteBigInt64(0x7ff8000000000000)
		return
	}
	e.WriteFloat64(f)
}

// ReadAny reads one lib0 Any value. Numbers come back as float64, objects as
// Object (in JavaScript property order), arrays as []any, binary as []byte
// (aliasing the input), undefined as Undefined and null as nil.
func (d *Decoder) ReadAny() (any, error) {
	return d.readAny(0)
}

func (d *Decoder) readAny(depth int) (any, error) {
	if depth > maxAnyDepth {
		return nil, malformed("Any nested deeper than %d", maxAnyDepth)
	}
	tag, err := d.ReadUint8()
	if err != nil {
		return nil, err
	}
	switch tag {
	case TagUndefined:
		return Undefined{}, nil
	case TagNull:
		return nil, nil
	case TagInteger:
		m, neg, err := d.ReadVarIntSign()
		if err != nil {
			return nil, err
		}
		f := float64(m)
		if neg {
			f = -f
		}
		return f, nil
	case TagFloat32:
		f, err := d.ReadFloat32()
		return float64(f), err
	case TagFloat64:
		return d.ReadFloat64()
	case TagBigInt:
		v, err := d.ReadBigInt64()
		return BigInt(v), err
	case TagFalse:
		return false, nil
	case TagTrue:
		return true, nil
	case TagString:
		return d.ReadVarString()
	case TagObject:
		n, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		// Each property takes at least two bytes (empty key, one-byte value).
		if n > uint64(d.Remaining()/2) {
			return nil, ErrUnexpectedEnd
		}
		b := objectBuilder{}
		for i := uint64(0); i < n; i++ {
			k, err := d.ReadVarString()
			if err != nil {
				return nil, err
			}
			v, err := d.readAny(depth + 1)
			if err != nil {
				return nil, err
			}
			b.set(k, v)
		}
		o := b.object()
		return o, nil
	case TagArray:
		n, err := d.ReadVarUint()
		if err != nil {
			return nil, err
		}
		if n > uint64(d.Remaining()) {
			return nil, ErrUnexpectedEnd
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = d.readAny(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case TagUint8Array:
		return d.ReadVarUint8Array()
	}
	return nil, malformed("unknown Any tag %d", tag)
}

// formatIndex renders an array index key (used for Uint8Array JSON).
func formatIndex(i int) string { return strconv.Itoa(i) }

// objectBuilder assembles an Object from properties in stream order with
// JavaScript assignment semantics in O(n log n), so a hostile object with
// many keys cannot make decoding quadratic.
type objectBuilder struct {
	index []Field // array-index keys
	rest  []Field
	pos   map[string]int // key -> position; negative = -(i+1) in index
}

func (b *objectBuilder) set(k string, v any) {
	if b.pos == nil {
		b.pos = make(map[string]int)
	}
	if p, ok := b.pos[k]; ok {
		if p < 0 {
			b.index[-p-1].Value = v
		} else {
			b.rest[p].Value = v
		}
		return
	}
	if _, ok := arrayIndex(k); ok {
		b.index = append(b.index, Field{k, v})
		b.pos[k] = -len(b.index)
		return
	}
	b.rest = append(b.rest, Field{k, v})
	b.pos[k] = len(b.rest) - 1
}

func (b *objectBuilder) object() Object {
	if len(b.index) > 1 {
		sort.SliceStable(b.index, func(i, j int) bool {
			x, _ := arrayIndex(b.index[i].Key)
			y, _ := arrayIndex(b.index[j].Key)
			return x < y
		})
	}
	o := make(Object, 0, len(b.index)+len(b.rest))
	o = append(o, b.index...)
	return append(o, b.rest...)
}

// WriteNormalizedAny writes a value already in canonical form (as returned
// by Normalize or ReadAny) without normalizing it again.
func (e *Encoder) WriteNormalizedAny(v any) { e.writeAny(v) }
