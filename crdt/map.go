package crdt

import (
	"fmt"
	"strings"

	"github.com/yardhq/yard/crdt/lib0"
)

// Map is a Y.Map.
type Map struct{ b *branch }

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
