package lib0

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// ParseJSON parses JSON text the way JavaScript's JSON.parse does: numbers
// become float64, objects become Object with JavaScript property order.
// The string "undefined" is not JSON; callers that accept it check first.
func ParseJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("trailing data after JSON value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxAnyDepth {
		return nil, malformed("JSON nested deeper than %d", maxAnyDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed("invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			b := objectBuilder{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, malformed("invalid JSON: %v", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, malformed("invalid JSON object key")
				}
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				b.set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, malformed("invalid JSON: %v", err)
			}
			return b.object(), nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, malformed("invalid JSON: %v", err)
			}
			return a, nil
		}
		return nil, malformed("invalid JSON delimiter")
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return f, nil // JSON.parse gives ±Infinity or 0 too
			}
			return nil, malformed("invalid JSON number")
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, malformed("invalid JSON token")
}

// ErrNotSerializable is returned by AppendJSON for values JSON.stringify
// rejects (bigint).
var ErrNotSerializable = errors.New("lib0: value cannot be serialized to JSON")

// StringifyJSON renders v as JavaScript's JSON.stringify would. A top-level
// undefined renders as "undefined" (the form ContentJSON stores).
func StringifyJSON(v any) (string, error) {
	if _, ok := v.(Undefined); ok {
		return "undefined", nil
	}
	b, err := AppendJSON(nil, v)
	return string(b), err
}

// AppendJSON appends the JSON.stringify rendering of v: keys in Object
// order (map keys in SortKeysJS order), undefined properties omitted,
// undefined array elements as null, non-finite numbers as null, byte
// arrays as {"0":b0,...} like a Uint8Array.
func AppendJSON(buf []byte, v any) ([]byte, error) {
	return appendJSON(buf, v, 0)
}

func appendJSON(buf []byte, v any, depth int) ([]byte, error) {
	if depth > maxAnyDepth*2 {
		return buf, fmt.Errorf("%w: nested too deep", ErrNotSerializable)
	}
	var err error
	switch t := v.(type) {
	case nil, Undefined:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, t), nil
	case string:
		return AppendJSONString(buf, t), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return append(buf, "null"...), nil
		}
		return append(buf, FormatNumber(t)...), nil
	case BigInt:
		return buf, fmt.Errorf("%w: bigint", ErrNotSerializable)
	case []byte:
		buf = append(buf, '{')
		for i, b := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '"')
			buf = append(buf, formatIndex(i)...)
			buf = append(buf, '"', ':')
			buf = strconv.AppendUint(buf, uint64(b), 10)
		}
		return append(buf, '}'), nil
	case Object:
		buf = append(buf, '{')
		first := true
		for _, f := range t {
			if _, ok := f.Value.(Undefined); ok {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = AppendJSONString(buf, f.Key)
			buf = append(buf, ':')
			if buf, err = appendJSON(buf, f.Value, depth+1); err != nil {
				return buf, err
			}
		}
		return append(buf, '}'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendJSON(buf, e, depth+1); err != nil {
				return buf, err
			}
		}
		return append(buf, ']'), nil
	case json.Marshaler:
		b, err := t.MarshalJSON()
		if err != nil {
			return buf, err
		}
		return append(buf, b...), nil
	}
	n, err := Normalize(v)
	if err != nil {
		return buf, err
	}
	return appendJSON(buf, n, depth+1)
}

// AppendJSONString appends s as a JSON string literal with JSON.stringify's
// escaping (only quotes, backslashes and control characters are escaped).
func AppendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			buf = append(buf, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\ufffd"...)
			} else {
				buf = append(buf, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
	}
	return append(buf, '"')
}

// FormatNumber renders a finite float64 as JavaScript's Number#toString.
func FormatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.IsNaN(f) {
		return "NaN"
	}
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	// Shortest round-trip digits and decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddddde±XX
	mant, expStr, _ := cut(e, 'e')
	exp, _ := strconv.Atoi(expStr)
	digits := make([]byte, 0, len(mant))
	for i := 0; i < len(mant); i++ {
		if mant[i] != '.' {
			digits = append(digits, mant[i])
		}
	}
	k := len(digits)
	n := exp + 1 // position of the decimal point
	var out []byte
	if neg {
		out = append(out, '-')
	}
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		for i := 0; i < n-k; i++ {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		for i := 0; i < -n; i++ {
			out = append(out, '0')
		}
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return string(out)
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
