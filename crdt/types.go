package crdt

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

var decodeRune = utf8.DecodeRune

// ErrOutOfRange is returned for an index or length beyond a list's end.
var ErrOutOfRange = errors.New("crdt: index out of range")

// Map is a Y.Map.
type Map struct{ b *branch }

// Array is a Y.Array.
type Array struct{ b *branch }

// Text is a Y.Text. Indexes and lengths count UTF-16 code units, as in yjs.
type Text struct{ b *branch }

// XmlFragment is a Y.XmlFragment (read access).
type XmlFragment struct{ b *branch }

// XmlElement is a Y.XmlElement (read access).
type XmlElement struct{ b *branch }

// XmlText is a Y.XmlText (read access).
type XmlText struct{ b *branch }

// ---- Map ----

// Get returns the value of key: a JSON-like value (numbers are float64,
// objects lib0.Object), []byte, or a nested *Map, *Array, *Text.
func (m *Map) Get(key string) (any, bool) {
	it := m.b.mp[key]
	if it == nil || it.deleted() {
		return nil, false
	}
	return itemValue(it, it.length-1), true
}

// Has reports whether key is set.
func (m *Map) Has(key string) bool { _, ok := m.Get(key); return ok }

// Keys returns the set keys in yjs iteration order.
func (m *Map) Keys() []string {
	var out []string
	for _, k := range m.b.keys {
		if it := m.b.mp[k]; it != nil && !it.deleted() {
			out = append(out, k)
		}
	}
	return out
}

// Len returns the number of set keys.
func (m *Map) Len() int { return len(m.Keys()) }

// ToJSON returns the map like yjs toJSON(), as plain Go values.
func (m *Map) ToJSON() map[string]any { return m.b.mapJSON().Map() }

// MarshalJSON renders the map as JSON.stringify(map.toJSON()) would, key
// order included.
func (m *Map) MarshalJSON() ([]byte, error) { return lib0.AppendJSON(nil, m.b.mapJSON()) }

// Set sets key to value (anything lib0.Normalize accepts; []byte is stored as
// binary content).
func (m *Map) Set(tx *Transaction, key string, value any) error {
	it, err := newValueItem(value)
	if err != nil {
		return err
	}
	tx.mapSet(m.b, key, it)
	return nil
}

// SetMap sets key to a new nested map and returns it.
func (m *Map) SetMap(tx *Transaction, key string) *Map {
	return &Map{tx.mapSet(m.b, key, newTypeItem(typeMap)).ext.typ}
}

// SetArray sets key to a new nested array and returns it.
func (m *Map) SetArray(tx *Transaction, key string) *Array {
	return &Array{tx.mapSet(m.b, key, newTypeItem(typeArray)).ext.typ}
}

// SetText sets key to a new nested text and returns it.
func (m *Map) SetText(tx *Transaction, key string) *Text {
	return &Text{tx.mapSet(m.b, key, newTypeItem(typeText)).ext.typ}
}

// Delete removes key.
func (m *Map) Delete(tx *Transaction, key string) {
	if it := m.b.mp[key]; it != nil {
		tx.deleteItem(it)
	}
}

func (tx *Transaction) mapSet(b *branch, key string, it *item) *item {
	tx.checkDoc(b)
	key = strings.ToValidUTF8(key, "\uFFFD")
	left := b.mp[key]
	d := tx.doc
	it.id = ID{d.clientID, d.store.state(d.clientID)}
	it.left = left
	if left != nil {
		it.origin = left.lastID()
		it.flags |= fOrigin
	}
	it.parent = b
	it.parentSub = key
	it.flags |= fParentSub
	tx.integrate(it, 0)
	return it
}

func (tx *Transaction) checkDoc(b *branch) {
	if b.doc != tx.doc {
		panic("crdt: type used with another document's transaction")
	}
}

func newValueItem(v any) (*item, error) {
	if bin, ok := v.([]byte); ok {
		return &item{kind: kindBinary, str: append([]byte(nil), bin...), length: 1}, nil
	}
	n, err := lib0.Normalize(v)
	if err != nil {
		return nil, fmt.Errorf("crdt: %w", err)
	}
	it := &item{kind: kindAny, length: 1}
	it.x().vals = []any{n}
	return it, nil
}

func newTypeItem(ref int8) *item {
	it := &item{kind: kindType, length: 1}
	it.x().typ = &branch{typeRef: ref}
	return it
}

// ---- Array ----

// Len returns the number of elements.
func (a *Array) Len() int { return a.b.length }

// Get returns element i.
func (a *Array) Get(i int) (any, bool) {
	if i < 0 || i >= a.b.length {
		return nil, false
	}
	for n := a.b.start; n != nil; n = n.right {
		if n.deleted() || !n.countable() {
			continue
		}
		if i < n.length {
			return itemValue(n, i), true
		}
		i -= n.length
	}
	return nil, false
}

// ToJSON returns the array like yjs toJSON().
func (a *Array) ToJSON() []any {
	l := a.b.listJSON()
	for i, v := range l {
		l[i] = lib0.ToPlain(v)
	}
	return l
}

// MarshalJSON renders the array as JSON.stringify(array.toJSON()) would.
func (a *Array) MarshalJSON() ([]byte, error) { return lib0.AppendJSON(nil, a.b.listJSON()) }

// Insert inserts values at index. Consecutive plain values share one item;
// []byte values become binary items.
func (a *Array) Insert(tx *Transaction, index int, values ...any) error {
	tx.checkDoc(a.b)
	if index < 0 || index > a.b.length {
		return ErrOutOfRange
	}
	items := make([]*item, 0, 1)
	var pack []any
	flush := func() {
		if len(pack) > 0 {
			it := &item{kind: kindAny, length: len(pack)}
			it.x().vals = pack
			items = append(items, it)
			pack = nil
		}
	}
	for _, v := range values {
		if bin, ok := v.([]byte); ok {
			flush()
			items = append(items, &item{kind: kindBinary, str: append([]byte(nil), bin...), length: 1})
			continue
		}
		n, err := lib0.Normalize(v)
		if err != nil {
			return fmt.Errorf("crdt: %w", err)
		}
		pack = append(pack, n)
	}
	flush()
	left := tx.listRefAt(a.b, index)
	tx.insertAfter(a.b, left, items)
	return nil
}

// Push appends values.
func (a *Array) Push(tx *Transaction, values ...any) error {
	return a.Insert(tx, a.b.length, values...)
}

// InsertMap inserts a new nested map at index and returns it.
func (a *Array) InsertMap(tx *Transaction, index int) (*Map, error) {
	t, err := a.insertType(tx, index, typeMap)
	if err != nil {
		return nil, err
	}
	return &Map{t}, nil
}

// InsertArray inserts a new nested array at index and returns it.
func (a *Array) InsertArray(tx *Transaction, index int) (*Array, error) {
	t, err := a.insertType(tx, index, typeArray)
	if err != nil {
		return nil, err
	}
	return &Array{t}, nil
}

// InsertText inserts a new nested text at index and returns it.
func (a *Array) InsertText(tx *Transaction, index int) (*Text, error) {
	t, err := a.insertType(tx, index, typeText)
	if err != nil {
		return nil, err
	}
	return &Text{t}, nil
}

func (a *Array) insertType(tx *Transaction, index int, ref int8) (*branch, error) {
	tx.checkDoc(a.b)
	if index < 0 || index > a.b.length {
		return nil, ErrOutOfRange
	}
	it := newTypeItem(ref)
	tx.insertAfter(a.b, tx.listRefAt(a.b, index), []*item{it})
	return it.ext.typ, nil
}

// Delete removes length elements from index.
func (a *Array) Delete(tx *Transaction, index, length int) error {
	tx.checkDoc(a.b)
	if index < 0 || length < 0 || index+length > a.b.length {
		return ErrOutOfRange
	}
	tx.listDelete(a.b, index, length)
	return nil
}

// listRefAt returns the item after which index falls, splitting an item when
// index is inside it (yjs typeListInsertGenerics).
func (tx *Transaction) listRefAt(b *branch, index int) *item {
	if index == 0 {
		return nil
	}
	n, rem := b.seek(index)
	for ; n != nil; n = n.right {
		if !n.deleted() && n.countable() {
			if rem <= n.length {
				if rem < n.length {
					tx.cleanStart(ID{n.id.Client, n.id.Clock + uint64(rem)})
				}
				b.markItem, b.markIndex = n, index-rem
				return n
			}
			rem -= n.length
		}
	}
	return nil
}

// seek returns an item to start walking from and the remaining count, using
// the position cache when it is valid.
func (b *branch) seek(index int) (*item, int) {
	n, idx := b.markItem, b.markIndex
	if n == nil || n.parent != b || index == 0 {
		return b.start, index
	}
	// Start strictly before index so the walk ends where a walk from the
	// start would.
	for idx >= index && n != nil {
		n = n.left
		if n != nil && !n.deleted() && n.countable() {
			idx -= n.length
		}
	}
	if n == nil {
		return b.start, index
	}
	return n, index - idx
}

func (tx *Transaction) insertAfter(b *branch, left *item, items []*item) {
	var right *item
	if left == nil {
		right = b.start
	} else {
		right = left.right
	}
	d := tx.doc
	for _, it := range items {
		it.id = ID{d.clientID, d.store.state(d.clientID)}
		it.left, it.right, it.parent = left, right, b
		if left != nil {
			it.origin = left.lastID()
			it.flags |= fOrigin
		}
		if right != nil {
			it.rightOrigin = right.id
			it.flags |= fRightOrigin
		}
		tx.integrate(it, 0)
		left = it
	}
}

func (tx *Transaction) listDelete(b *branch, index, length int) {
	n, rem := b.seek(index)
	for ; n != nil && rem > 0; n = n.right {
		if !n.deleted() && n.countable() {
			if rem < n.length {
				tx.cleanStart(ID{n.id.Client, n.id.Clock + uint64(rem)})
			}
			rem -= n.length
		}
	}
	for length > 0 && n != nil {
		if !n.deleted() {
			if length < n.length {
				tx.cleanStart(ID{n.id.Client, n.id.Clock + uint64(length)})
			}
			tx.deleteItem(n)
			length -= n.length
		}
		n = n.right
	}
	b.markItem, b.markIndex = nil, 0
}

// ---- Text ----

// String returns the text.
func (t *Text) String() string { return t.b.text() }

// Len returns the length in UTF-16 code units.
func (t *Text) Len() int { return t.b.length }

// MarshalJSON renders the text as a JSON string.
func (t *Text) MarshalJSON() ([]byte, error) { return lib0.AppendJSONString(nil, t.b.text()), nil }

// textPos is a position between two items of a text.
type textPos struct {
	left, right *item
	index       int
	attrs       lib0.Object // formatting in effect (tracked only in texts with marks)
}

// findTextPos walks to UTF-16 index like yjs findPosition: it stops as
// soon as the count is reached, splitting an item when index is inside it.
func (tx *Transaction) findTextPos(b *branch, index int) textPos {
	n, rem := b.seek(index)
	if b.hasFormats {
		n, rem = b.searchStart(index)
	}
	pos := textPos{right: n, index: index - rem}
	if n != nil {
		pos.left = n.left
	}
	for pos.right != nil && rem > 0 {
		r := pos.right
		if r.kind == kindFormat && !r.deleted() {
			pos.applyFormat(r)
		}
		if !r.deleted() && r.kind != kindFormat {
			if rem < r.length {
				tx.cleanStart(ID{r.id.Client, r.id.Clock + uint64(rem)})
			}
			if r.countable() {
				pos.index += r.length
				rem -= r.length
			}
		}
		pos.left = r
		pos.right = r.right
	}
	return pos
}

// Insert inserts s at UTF-16 index.
func (t *Text) Insert(tx *Transaction, index int, s string) error {
	tx.checkDoc(t.b)
	if index < 0 || index > t.b.length {
		return ErrOutOfRange
	}
	if s == "" {
		return nil
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	pos := tx.findTextPos(t.b, index)
	// Move past deleted items and marks that change nothing, as yjs's
	// minimizeAttributeChanges does; the new text inherits the formatting
	// in effect, so no marks are inserted.
	for r := pos.right; r != nil; r = pos.right {
		if !r.deleted() {
			if r.kind != kindFormat {
				break
			}
			cur, _ := pos.attrs.Get(r.ext.key)
			if !equalAttr(cur, r.ext.vals[0]) {
				break
			}
			pos.applyFormat(r)
		}
		pos.left = r
		pos.right = r.right
	}
	it := &item{kind: kindString, str: []byte(s), length: lib0.UTF16Len(s)}
	t.insertItemBetween(tx, pos.left, pos.right, it)
	t.b.markItem, t.b.markIndex = it, index
	return nil
}

func (t *Text) insertItemBetween(tx *Transaction, left, right *item, it *item) {
	d := tx.doc
	it.id = ID{d.clientID, d.store.state(d.clientID)}
	it.left, it.right, it.parent = left, right, t.b
	if left != nil {
		it.origin = left.lastID()
		it.flags |= fOrigin
	}
	if right != nil {
		it.rightOrigin = right.id
		it.flags |= fRightOrigin
	}
	tx.integrate(it, 0)
}

// Delete removes length UTF-16 units from index.
func (t *Text) Delete(tx *Transaction, index, length int) error {
	tx.checkDoc(t.b)
	if index < 0 || length < 0 || index+length > t.b.length {
		return ErrOutOfRange
	}
	pos := tx.findTextPos(t.b, index)
	start := pos.right
	startAttrs := append(lib0.Object(nil), pos.attrs...)
	for length > 0 && pos.right != nil {
		r := pos.right
		if !r.deleted() {
			switch r.kind {
			case kindType, kindEmbed, kindString:
				if length < r.length {
					tx.cleanStart(ID{r.id.Client, r.id.Clock + uint64(length)})
				}
				length -= r.length
				tx.deleteItem(r)
			case kindFormat:
				pos.applyFormat(r)
			}
		}
		pos.left = r
		pos.right = r.right
	}
	if start != nil && t.b.hasFormats {
		tx.cleanupFormattingGap(start, pos.right, startAttrs, &pos)
	}
	if pos.right != nil {
		t.b.markItem, t.b.markIndex = pos.right, index
	} else {
		t.b.markItem = nil
	}
	return nil
}

// DeltaOp is one operation of a rich-text delta: inserted text, or an
// embed or nested type, with the formatting in effect.
type DeltaOp struct {
	Insert     any         `json:"insert"`
	Attributes lib0.Object `json:"attributes,omitempty"`
}

// ToDelta returns the text with its formatting, like yjs's toDelta().
func (t *Text) ToDelta() []DeltaOp {
	var ops []DeltaOp
	var attrs lib0.Object
	var str []byte
	pack := func() {
		if len(str) > 0 {
			ops = append(ops, DeltaOp{Insert: string(str), Attributes: append(lib0.Object(nil), attrs...)})
			str = str[:0]
		}
	}
	for n := t.b.start; n != nil; n = n.right {
		if n.deleted() {
			continue
		}
		switch n.kind {
		case kindString:
			str = append(str, n.str...)
		case kindType, kindEmbed:
			pack()
			ops = append(ops, DeltaOp{Insert: itemValue(n, 0), Attributes: append(lib0.Object(nil), attrs...)})
		case kindFormat:
			pack()
			p := textPos{attrs: attrs}
			p.applyFormat(n)
			attrs = p.attrs
		}
	}
	pack()
	return ops
}

// MarshalJSON renders the op as yjs's delta JSON.
func (op DeltaOp) MarshalJSON() ([]byte, error) {
	o := lib0.Object{{Key: "insert", Value: jsonValue(op.Insert)}}
	if len(op.Attributes) > 0 {
		o = append(o, lib0.Field{Key: "attributes", Value: op.Attributes})
	}
	return lib0.AppendJSON(nil, o)
}

// ---- XML (read access) ----

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

// applyFormat updates the formatting in effect after passing a mark.
func (p *textPos) applyFormat(r *item) {
	key, v := r.ext.key, r.ext.vals[0]
	if v == nil {
		for i, f := range p.attrs {
			if f.Key == key {
				p.attrs = append(p.attrs[:i:i], p.attrs[i+1:]...)
				break
			}
		}
		return
	}
	p.attrs.Set(key, v)
}

// equalAttr compares mark values as yjs's equalAttrs does: identical
// values, or objects with the same keys and identical values.
func equalAttr(a, b any) bool {
	ao, aok := a.(lib0.Object)
	bo, bok := b.(lib0.Object)
	if aok && bok {
		if len(ao) != len(bo) {
			return false
		}
		for _, f := range ao {
			v, ok := bo.Get(f.Key)
			if !ok || !scalarEqual(f.Value, v) {
				return false
			}
		}
		return true
	}
	return scalarEqual(a, b)
}

func scalarEqual(a, b any) bool {
	switch a.(type) {
	case nil, bool, string, float64, lib0.Undefined, lib0.BigInt:
		return a == b
	}
	return false
}

// searchStart returns where yjs starts its position search in a text with
// formatting marks: the item its search marker for index would point at
// (found as from the start of the list). yjs tracks the formatting in effect
// only from there, so marks before it are ignored when choosing where new
// text goes; following it makes Go writes place text exactly as yjs does.
func (b *branch) searchStart(index int) (*item, int) {
	p := b.start
	if index == 0 || p == nil {
		return p, index
	}
	pindex := 0
	for p.right != nil && pindex < index {
		if !p.deleted() && p.countable() {
			if index < pindex+p.length {
				break
			}
			pindex += p.length
		}
		p = p.right
	}
	for p.left != nil && pindex > index {
		p = p.left
		if !p.deleted() && p.countable() {
			pindex -= p.length
		}
	}
	// yjs never leaves a marker on an item that could merge with its left.
	for p.left != nil && p.left.id.Client == p.id.Client && p.left.id.Clock+uint64(p.left.length) == p.id.Clock {
		p = p.left
		if !p.deleted() && p.countable() {
			pindex -= p.length
		}
	}
	return p, index - pindex
}

// cleanupFormattingGap deletes marks made redundant by a deletion between
// start and the next visible content, as yjs does after deleting text.
func (tx *Transaction) cleanupFormattingGap(start, curr *item, startAttrs lib0.Object, pos *textPos) {
	end := start
	endFormats := map[string]*item{}
	for end != nil && (!end.countable() || end.deleted()) {
		if !end.deleted() && end.kind == kindFormat {
			endFormats[end.ext.key] = end
		}
		end = end.right
	}
	reachedCurr := false
	for ; start != end; start = start.right {
		if curr == start {
			reachedCurr = true
		}
		if start.deleted() || start.kind != kindFormat {
			continue
		}
		key, value := start.ext.key, start.ext.vals[0]
		startValue, _ := startAttrs.Get(key)
		if endFormats[key] != start || identical(startValue, value) {
			tx.deleteItem(start)
			curValue, _ := pos.attrs.Get(key)
			if !reachedCurr && identical(curValue, value) && !identical(startValue, value) {
				if startValue == nil {
					pos.applyFormat(&item{ext: &itemExt{key: key, vals: []any{nil}}})
				} else {
					pos.attrs.Set(key, startValue)
				}
			}
		}
		if !reachedCurr && !start.deleted() {
			pos.applyFormat(start)
		}
	}
}

// identical is JavaScript's === on mark values: scalars by value, objects
// and arrays by identity.
func identical(a, b any) bool {
	switch x := a.(type) {
	case lib0.Object:
		y, ok := b.(lib0.Object)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	}
	return scalarEqual(a, b)
}
