package crdt

import (
	"unicode/utf8"
)

// ID identifies one clock tick of one client. Every unit of content (a
// UTF-16 code unit of text, an array element, a map value) has an ID.
type ID struct {
	Client uint64
	Clock  uint64
}

// Content kinds (the low five bits of a struct's info byte).
const (
	kindGC      = 0
	kindDeleted = 1
	kindJSON    = 2
	kindBinary  = 3
	kindString  = 4
	kindEmbed   = 5
	kindFormat  = 6
	kindType    = 7
	kindAny     = 8
	kindDoc     = 9
	kindSkip    = 10
)

// Item flags.
const (
	fDeleted = 1 << iota
	fKeep
	fOrigin      // origin is set
	fRightOrigin // rightOrigin is set
	fParentSub   // parentSub is set (may be the empty key)
	fMarker
)

// Parent reference kinds of a decoded, not yet integrated item.
const (
	parentNone = iota // copy parent from the left or right neighbour
	parentRoot        // a root type by name
	parentItem        // the type held by the item with parentID
)

// item is one struct of the store: an item of content, or (kind GC) a run
// of garbage-collected clocks, or (kind Skip, only in decoded updates) a hole.
// Rarely used fields live in ext so the common text and deleted items stay small.
type item struct {
	id          ID
	origin      ID
	rightOrigin ID
	length      int
	left, right *item
	parent      *branch
	parentSub   string
	str         []byte // String: UTF-8 text; Binary: bytes; Doc: guid
	ext         *itemExt
	kind        uint8
	flags       uint8
}

type itemExt struct {
	vals       []any   // Any and JSON values; the single value of Embed, Format, Doc options
	key        string  // Format key
	typ        *branch // Type content
	parentName string  // decoded parent root name
	parentID   ID      // decoded parent item
	parentKind uint8
}

func (it *item) x() *itemExt {
	if it.ext == nil {
		it.ext = &itemExt{}
	}
	return it.ext
}

func (it *item) deleted() bool      { return it.flags&fDeleted != 0 }
func (it *item) isGC() bool         { return it.kind == kindGC }
func (it *item) isSkip() bool       { return it.kind == kindSkip }
func (it *item) hasParentSub() bool { return it.flags&fParentSub != 0 }
func (it *item) hasOrigin() bool    { return it.flags&fOrigin != 0 }
func (it *item) hasRight() bool     { return it.flags&fRightOrigin != 0 }
func (it *item) keep() bool         { return it.flags&fKeep != 0 }

// countable reports whether the content counts towards a list's length.
func (it *item) countable() bool {
	return it.kind != kindDeleted && it.kind != kindFormat && it.kind != kindGC && it.kind != kindSkip
}

func (it *item) lastID() ID { return ID{it.id.Client, it.id.Clock + uint64(it.length) - 1} }

func (it *item) typ() *branch {
	if it.kind == kindType && it.ext != nil {
		return it.ext.typ
	}
	return nil
}

// spliceContent cuts the content at offset: the item keeps the first offset
// units and the returned item carries the rest (content fields only).
func (it *item) spliceContent(right *item, offset int) {
	right.kind = it.kind
	switch it.kind {
	case kindString:
		l, r := splitUTF16(it.str, it.length, offset)
		it.str = l
		right.str = r
	case kindAny, kindJSON:
		vals := it.ext.vals
		right.x().vals = vals[offset:]
		it.ext.vals = vals[:offset:offset]
	}
}

// splitUTF16 splits UTF-8 text at a UTF-16 offset. A split inside a
// surrogate pair turns both halves into U+FFFD, as JavaScript strings do
// when a lone surrogate is encoded. The left half is capped so appending to
// it never writes into the right half.
func splitUTF16(b []byte, units, offset int) ([]byte, []byte) {
	if len(b) == units { // ASCII
		return b[:offset:offset], b[offset:]
	}
	n := 0
	for i := 0; i < len(b); {
		if n == offset {
			return b[:i:i], b[i:]
		}
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x10000 {
			if n+1 == offset {
				l := make([]byte, 0, i+3)
				l = append(append(l, b[:i]...), "\uFFFD"...)
				rr := make([]byte, 0, len(b)-i-size+3)
				rr = append(append(rr, "\uFFFD"...), b[i+size:]...)
				return l, rr
			}
			n += 2
		} else {
			n++
		}
		i += size
	}
	return b, nil
}

// sliceUTF16From returns the text from a UTF-16 offset, with U+FFFD for a
// split surrogate pair.
func sliceUTF16From(b []byte, units, offset int) []byte {
	if offset == 0 {
		return b
	}
	_, r := splitUTF16(b, units, offset)
	return r
}

// mergeContent appends right's content to it, reporting whether the kind merges.
func (it *item) mergeContent(right *item) bool {
	switch it.kind {
	case kindDeleted:
		return true
	case kindString:
		it.str = append(it.str, right.str...)
		return true
	case kindAny, kindJSON:
		it.ext.vals = append(it.ext.vals, right.ext.vals...)
		return true
	}
	return false
}

func mergeableKind(k uint8) bool {
	return k == kindDeleted || k == kindString || k == kindAny || k == kindJSON
}

// mergeWith appends right (the next struct of the same client) to it when
// yjs would: same kind, adjacent in both clock and list order, same origins
// and deletion state.
func (it *item) mergeWith(right *item) bool {
	if it.kind == kindGC {
		if right.kind != kindGC {
			return false
		}
		it.length += right.length
		return true
	}
	if it.kind != right.kind || !mergeableKind(it.kind) || right.kind == kindGC ||
		!right.hasOrigin() || right.origin != it.lastID() || it.right != right ||
		it.hasRight() != right.hasRight() || (it.hasRight() && it.rightOrigin != right.rightOrigin) ||
		it.id.Client != right.id.Client || it.id.Clock+uint64(it.length) != right.id.Clock ||
		it.deleted() != right.deleted() {
		return false
	}
	if p := it.parent; p != nil && p.markItem == right {
		p.markItem = it
		if it.countable() && !it.deleted() {
			p.markIndex -= it.length
		}
	}
	it.mergeContent(right)
	if right.keep() {
		it.flags |= fKeep
	}
	it.right = right.right
	if it.right != nil {
		it.right.left = it
	}
	it.length += right.length
	return true
}
