package crdt

import (
	"strings"

	"github.com/yardhq/yard/crdt/lib0"
)

// Text is a Y.Text. Indexes and lengths count UTF-16 code units, as in yjs.
type Text struct{ b *branch }

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
