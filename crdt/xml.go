package crdt

import (
	"sort"
	"strconv"
	"strings"

	"github.com/yardhq/yard/crdt/lib0"
)

// XmlFragment is a Y.XmlFragment (read access).
type XmlFragment struct{ b *branch }

// XmlElement is a Y.XmlElement (read access).
type XmlElement struct{ b *branch }

// XmlText is a Y.XmlText (read access).
type XmlText struct{ b *branch }

// String renders the fragment's children like yjs toString().
func (x *XmlFragment) String() string { return x.b.xmlString() }

// Len returns the number of children.
func (x *XmlFragment) Len() int { return x.b.length }

// String renders the element like yjs toString().
func (x *XmlElement) String() string { return x.b.xmlString() }

// NodeName returns the element's tag name.
func (x *XmlElement) NodeName() string { return x.b.nodeName }

// Attributes returns the element's attributes.
func (x *XmlElement) Attributes() map[string]any { return (&Map{x.b}).ToJSON() }

// String returns the text.
func (x *XmlText) String() string { return x.b.xmlText() }

func (b *branch) xmlString() string {
	var sb strings.Builder
	if b.typeRef == typeXmlElement {
		name := strings.ToLower(b.nodeName)
		sb.WriteString("<" + name)
		keys := (&Map{b}).Keys()
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := (&Map{b}).Get(k)
			sb.WriteString(" " + k + `="` + jsString(v) + `"`)
		}
		sb.WriteString(">")
		b.writeXmlChildren(&sb)
		return sb.String() + "</" + name + ">"
	}
	b.writeXmlChildren(&sb)
	return sb.String()
}

func (b *branch) writeXmlChildren(sb *strings.Builder) {
	for n := b.start; n != nil; n = n.right {
		if n.deleted() || !n.countable() {
			continue
		}
		for i := 0; i < n.length; i++ {
			switch v := itemValue(n, i).(type) {
			case *XmlElement:
				sb.WriteString(v.b.xmlString())
			case *XmlText:
				sb.WriteString(v.b.xmlText())
			case *XmlFragment:
				sb.WriteString(v.b.xmlString())
			case string:
				sb.WriteString(v)
			default:
				sb.WriteString(jsString(v))
			}
		}
	}
}

// xmlText renders text with its formatting marks as nested tags, as yjs's
// YXmlText.toString does.
func (b *branch) xmlText() string {
	var sb strings.Builder
	attrs := lib0.Object{}
	var run []byte
	flush := func() {
		if len(run) == 0 {
			return
		}
		var names []string
		for _, f := range attrs {
			if f.Value != nil {
				names = append(names, f.Key)
			}
		}
		sort.Strings(names)
		for _, nm := range names {
			sb.WriteString("<" + nm)
			v, _ := attrs.Get(nm)
			for _, f := range forInFields(v) {
				sb.WriteString(" " + f.Key + `="` + jsString(f.Value) + `"`)
			}
			sb.WriteString(">")
		}
		sb.Write(run)
		for i := len(names) - 1; i >= 0; i-- {
			sb.WriteString("</" + names[i] + ">")
		}
		run = run[:0]
	}
	for n := b.start; n != nil; n = n.right {
		if n.deleted() {
			continue
		}
		switch n.kind {
		case kindFormat:
			flush()
			attrs.Set(n.ext.key, n.ext.vals[0])
		case kindString:
			run = append(run, n.str...)
		}
	}
	flush()
	return sb.String()
}

// jsString renders a value as JavaScript's String(v) would for JSON-like
// values.
func jsString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return lib0.FormatNumber(t)
	case nil:
		return "null"
	case lib0.Undefined:
		return "undefined"
	case bool:
		if t {
			return "true"
		}
		return "false"
	case lib0.Object:
		return "[object Object]"
	case []any:
		// Array#toString joins with commas; null and undefined become "".
		parts := make([]string, len(t))
		for i, e := range t {
			switch e.(type) {
			case nil, lib0.Undefined:
			default:
				parts[i] = jsString(e)
			}
		}
		return strings.Join(parts, ",")
	case []byte:
		parts := make([]string, len(t))
		for i, b := range t {
			parts[i] = strconv.Itoa(int(b))
		}
		return strings.Join(parts, ",")
	}
	s, _ := lib0.StringifyJSON(v)
	return s
}

// forInFields lists what JavaScript's for...in yields for a value, sorted by
// key as yjs sorts attributes: object keys, array indices, or the indices
// of a string's UTF-16 units; nothing for other values.
func forInFields(v any) []lib0.Field {
	var out []lib0.Field
	switch t := v.(type) {
	case lib0.Object:
		out = append(out, t...)
	case []any:
		for i, e := range t {
			out = append(out, lib0.Field{Key: strconv.Itoa(i), Value: e})
		}
	case string:
		i := 0
		for _, r := range t {
			if r >= 0x10000 {
				// Each half of a surrogate pair is a lone surrogate in
				// JavaScript, which encodes as U+FFFD.
				out = append(out, lib0.Field{Key: strconv.Itoa(i), Value: "\uFFFD"}, lib0.Field{Key: strconv.Itoa(i + 1), Value: "\uFFFD"})
				i += 2
				continue
			}
			out = append(out, lib0.Field{Key: strconv.Itoa(i), Value: string(r)})
			i++
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
