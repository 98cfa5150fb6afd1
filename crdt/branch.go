package crdt

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

// Type refs of ContentType.
const (
	typeArray       = 0
	typeMap         = 1
	typeText        = 2
	typeXmlElement  = 3
	typeXmlFragment = 4
	typeXmlHook     = 5
	typeXmlText     = 6
	typeUnknown     = -1 // a root whose type the application has not named yet
)

// branch is the shared state of every Y type: a list of items (arrays,
// text, XML children) and a map of keys to the newest item of each key.
type branch struct {
	doc      *Doc
	item     *item // the item holding this type; nil for a root
	name     string
	typeRef  int8
	nodeName string
	start    *item
	mp       map[string]*item
	keys     []string // map keys in first-set order (JavaScript Map order)
	length   int      // countable, undeleted length of the list

	hasFormats bool // a formatting mark was ever integrated (text only)

	// A position cache for index lookups in long lists and text: markItem's
	// start index among countable, undeleted units is markIndex.
	markItem  *item
	markIndex int
}

func (b *branch) setMapEntry(key string, it *item) {
	if b.mp == nil {
		b.mp = make(map[string]*item)
	}
	if _, ok := b.mp[key]; !ok {
		b.keys = append(b.keys, key)
	}
	b.mp[key] = it
}

func (d *Doc) root(name string) *branch {
	b := d.share[name]
	if b == nil {
		b = &branch{doc: d, name: name, typeRef: typeUnknown}
		d.share[name] = b
		d.order = append(d.order, name)
	}
	return b
}

func (d *Doc) typedRoot(name string, ref int8) *branch {
	// Names travel as UTF-8; peers see invalid bytes as U+FFFD.
	b := d.root(strings.ToValidUTF8(name, "\uFFFD"))
	if b.typeRef == typeUnknown {
		b.typeRef = ref
	}
	return b
}

// GetMap returns the root map called name.
func (d *Doc) GetMap(name string) *Map { return &Map{d.typedRoot(name, typeMap)} }

// GetArray returns the root array called name.
func (d *Doc) GetArray(name string) *Array { return &Array{d.typedRoot(name, typeArray)} }

// GetText returns the root text called name.
func (d *Doc) GetText(name string) *Text { return &Text{d.typedRoot(name, typeText)} }

// GetXmlFragment returns the root XML fragment called name (read access).
func (d *Doc) GetXmlFragment(name string) *XmlFragment {
	return &XmlFragment{d.typedRoot(name, typeXmlFragment)}
}

// RootNames lists the root types in the order they were created.
func (d *Doc) RootNames() []string { return append([]string(nil), d.order...) }

// RootJSON returns every root type by name, like yjs doc.toJSON(). Roots
// never named through GetMap/GetArray/GetText are read as a map if they hold
// keys, as text if they hold only text, else as an array.
func (d *Doc) RootJSON() map[string]any {
	out := make(map[string]any, len(d.order))
	for _, name := range d.order {
		out[name] = lib0.ToPlain(d.share[name].toJSON())
	}
	return out
}

// MarshalJSON renders the document like JSON.stringify(doc.toJSON()).
func (d *Doc) MarshalJSON() ([]byte, error) {
	o := lib0.Object{}
	for _, name := range d.order {
		o.Set(name, d.share[name].toJSON())
	}
	return lib0.AppendJSON(nil, o)
}

// toJSON returns the ordered JSON value of a type (lib0.Object for maps).
func (b *branch) toJSON() any {
	switch b.typeRef {
	case typeMap, typeXmlHook:
		return b.mapJSON()
	case typeArray:
		return b.listJSON()
	case typeText:
		return b.text()
	case typeXmlText:
		return b.xmlText()
	case typeXmlElement, typeXmlFragment:
		return b.xmlString()
	}
	// An untyped root: infer.
	for _, k := range b.keys {
		if it := b.mp[k]; it != nil && !it.deleted() {
			return b.mapJSON()
		}
	}
	hasText, xml, other := false, false, false
	for n := b.start; n != nil; n = n.right {
		switch {
		case n.kind == kindString || n.kind == kindFormat:
			hasText = true
		case n.kind == kindType:
			switch n.ext.typ.typeRef {
			case typeXmlElement, typeXmlText, typeXmlHook:
				xml = true
			default:
				other = true
			}
		case n.countable():
			other = true
		}
	}
	switch {
	case hasText:
		return b.text()
	case xml && !other:
		return b.xmlString()
	}
	return b.listJSON()
}

func (b *branch) mapJSON() lib0.Object {
	o := make(lib0.Object, 0, len(b.keys))
	for _, k := range b.keys {
		it := b.mp[k]
		if it == nil || it.deleted() {
			continue
		}
		o.Set(k, jsonValue(itemValue(it, it.length-1)))
	}
	return o
}

func (b *branch) listJSON() []any {
	out := []any{}
	for n := b.start; n != nil; n = n.right {
		if n.deleted() || !n.countable() {
			continue
		}
		for i := 0; i < n.length; i++ {
			out = append(out, jsonValue(itemValue(n, i)))
		}
	}
	return out
}

func (b *branch) text() string {
	var s []byte
	for n := b.start; n != nil; n = n.right {
		if !n.deleted() && n.kind == kindString {
			s = append(s, n.str...)
		}
	}
	return string(s)
}

// itemValue returns the i-th value of an item's content as yjs's
// getContent()[i] would: Y types come back as *Map, *Array, *Text or the
// XML wrappers.
func itemValue(it *item, i int) any {
	switch it.kind {
	case kindAny, kindJSON:
		return it.ext.vals[i]
	case kindBinary:
		return it.str
	case kindString:
		return stringUnitAt(it.str, i)
	case kindEmbed:
		return it.ext.vals[0]
	case kindType:
		return wrapBranch(it.ext.typ)
	case kindDoc:
		// An unloaded subdocument; JSON.stringify renders it as {}.
		return lib0.Object{}
	}
	return lib0.Undefined{}
}

// stringUnitAt returns the i-th UTF-16 unit of text as a string (a whole
// surrogate pair is returned for either of its halves).
func stringUnitAt(b []byte, i int) string {
	n := 0
	for k := 0; k < len(b); {
		r, size := decodeRune(b[k:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if i < n+w {
			return string(b[k : k+size])
		}
		n += w
		k += size
	}
	return ""
}

func wrapBranch(t *branch) any {
	switch t.typeRef {
	case typeMap, typeXmlHook:
		return &Map{t}
	case typeArray:
		return &Array{t}
	case typeText:
		return &Text{t}
	case typeXmlText:
		return &XmlText{t}
	case typeXmlElement:
		return &XmlElement{t}
	case typeXmlFragment:
		return &XmlFragment{t}
	}
	return &Array{t}
}

// jsonValue turns a value into its toJSON form: types become their JSON.
func jsonValue(v any) any {
	switch t := v.(type) {
	case *Map:
		return t.b.toJSON()
	case *Array:
		return t.b.toJSON()
	case *Text:
		return t.b.toJSON()
	case *XmlText:
		return t.b.toJSON()
	case *XmlElement:
		return t.b.toJSON()
	case *XmlFragment:
		return t.b.toJSON()
	}
	return v
}

var decodeRune = utf8.DecodeRune

// ErrOutOfRange is returned for an index or length beyond a list's end.
var ErrOutOfRange = errors.New("crdt: index out of range")

func (tx *Transaction) checkDoc(b *branch) {
	if b.doc != tx.doc {
		panic("crdt: type used with another document's transaction")
	}
}
