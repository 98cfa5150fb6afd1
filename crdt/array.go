package crdt

import (
	"fmt"

	"github.com/yardhq/yard/crdt/lib0"
)

// Array is a Y.Array.
type Array struct{ b *branch }

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
