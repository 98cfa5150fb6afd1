package crdt

import (
	"errors"
	"fmt"

	"github.com/yardhq/yard/crdt/lib0"
)

// ErrMalformedUpdate is wrapped by every error about undecodable or invalid
// update bytes. A document given such an update is left unchanged.
var ErrMalformedUpdate = errors.New("crdt: malformed update")

func errMalformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedUpdate}, args...)...)
}

func wrapMalformed(err error) error {
	if err == nil || errors.Is(err, ErrMalformedUpdate) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformedUpdate, err)
}

// maxClock bounds clocks to what JavaScript peers can represent.
const maxClock = lib0.MaxSafeInteger

// clientRefs are one client's decoded structs, consecutive in clock order.
type clientRefs struct {
	client uint64
	refs   []*item
}

// decodedUpdate is an update read fully into memory and validated.
type decodedUpdate struct {
	clients []clientRefs
	ds      deleteSet
}

func decodeUpdate(dec updateDecoder) (*decodedUpdate, error) {
	return decodeUpdateInto(dec, &decodedUpdate{})
}

// decodeUpdateInto decodes into u, reusing its slices.
func decodeUpdateInto(dec updateDecoder, u *decodedUpdate) (*decodedUpdate, error) {
	for i := range u.clients {
		clear(u.clients[i].refs)
	}
	u.clients = u.clients[:0]
	u.ds.clients = u.ds.clients[:0]
	r := dec.rest()
	n, err := r.ReadVarUint()
	if err != nil {
		return nil, wrapMalformed(err)
	}
	budget := dec.structBudget()
	if n > uint64(budget) {
		return nil, errMalformed("client count %d exceeds input", n)
	}
	for i := uint64(0); i < n; i++ {
		ns, err := r.ReadVarUint()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		if ns > uint64(budget) {
			return nil, errMalformed("struct count %d exceeds input", ns)
		}
		client, err := dec.readClient()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		clock, err := r.ReadVarUint()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		if ns > uint64(budget) {
			return nil, errMalformed("struct count exceeds input")
		}
		budget -= int(ns)
		var refs []*item
		if k := len(u.clients); k < cap(u.clients) && cap(u.clients[:k+1][k].refs) >= int(ns) {
			refs = u.clients[:k+1][k].refs[:0]
		} else {
			refs = make([]*item, 0, min(ns, 1024))
		}
		for j := uint64(0); j < ns; j++ {
			it, err := readStruct(dec, client, clock)
			if err != nil {
				return nil, wrapMalformed(err)
			}
			clock += uint64(it.length)
			if clock > maxClock {
				return nil, errMalformed("clock beyond 2^53")
			}
			refs = append(refs, it)
		}
		if len(refs) == 0 {
			continue
		}
		// A client appears once in updates yjs writes; tolerate repeats
		// (checked only against the previous block, or all blocks when the
		// order is not descending, so thousands of clients stay linear).
		merged := false
		if k := len(u.clients); k > 0 && (u.clients[k-1].client <= client) {
			for k := range u.clients {
				if u.clients[k].client == client {
					u.clients[k].refs = mergeRefLists(u.clients[k].refs, refs)
					merged = true
				}
			}
		}
		if !merged {
			u.clients = append(u.clients, clientRefs{client, refs})
		}
	}
	if err := readDeleteSetInto(dec, &u.ds); err != nil {
		return nil, wrapMalformed(err)
	}
	return u, nil
}

func readStruct(dec updateDecoder, client, clock uint64) (*item, error) {
	info, err := dec.readInfo()
	if err != nil {
		return nil, err
	}
	id := ID{client, clock}
	switch info & 0x1f {
	case kindGC:
		l, err := dec.readLen()
		if err != nil {
			return nil, err
		}
		if l == 0 || l > maxClock {
			return nil, errMalformed("GC length %d", l)
		}
		return &item{id: id, length: int(l), kind: kindGC, flags: fDeleted}, nil
	case kindSkip:
		l, err := dec.rest().ReadVarUint()
		if err != nil {
			return nil, err
		}
		if l == 0 || l > maxClock {
			return nil, errMalformed("skip length %d", l)
		}
		return &item{id: id, length: int(l), kind: kindSkip}, nil
	}
	it := &item{id: id}
	if info&0x80 != 0 {
		if it.origin, err = dec.readLeftID(); err != nil {
			return nil, err
		}
		it.flags |= fOrigin
		if it.origin.Client == client && it.origin.Clock >= clock {
			return nil, errMalformed("origin not before the item")
		}
	}
	if info&0x40 != 0 {
		if it.rightOrigin, err = dec.readRightID(); err != nil {
			return nil, err
		}
		it.flags |= fRightOrigin
		if it.rightOrigin.Client == client && it.rightOrigin.Clock >= clock {
			return nil, errMalformed("right origin not before the item")
		}
	}
	if info&0xc0 == 0 {
		root, err := dec.readParentInfo()
		if err != nil {
			return nil, err
		}
		x := it.x()
		if root {
			x.parentKind = parentRoot
			if x.parentName, err = dec.readString(); err != nil {
				return nil, err
			}
		} else {
			x.parentKind = parentItem
			if x.parentID, err = dec.readLeftID(); err != nil {
				return nil, err
			}
			if x.parentID.Client == client && x.parentID.Clock >= clock {
				return nil, errMalformed("parent not before the item")
			}
		}
		if info&0x20 != 0 {
			if it.parentSub, err = dec.readString(); err != nil {
				return nil, err
			}
			it.flags |= fParentSub
		}
	}
	// With an origin the key is not written: it is copied from the
	// neighbour when the item is integrated. Until then the item has none,
	// as in yjs, so pending and merged structs are written without the flag.
	if err := readContent(dec, it, info&0x1f); err != nil {
		return nil, err
	}
	if it.length <= 0 {
		return nil, errMalformed("empty content")
	}
	return it, nil
}

func readContent(dec updateDecoder, it *item, kind byte) error {
	it.kind = kind
	var err error
	switch kind {
	case kindDeleted:
		l, err := dec.readLen()
		if err != nil {
			return err
		}
		if l > maxClock {
			return errMalformed("length out of range")
		}
		it.length = int(l)
		it.flags |= fDeleted
	case kindJSON, kindAny:
		n, err := dec.readLen()
		if err != nil {
			return err
		}
		if n > uint64(dec.structBudget()) {
			return errMalformed("value count %d exceeds input", n)
		}
		vals := make([]any, 0, min(n, 1024))
		for i := uint64(0); i < n; i++ {
			var v any
			if kind == kindAny {
				v, err = dec.readAny()
			} else {
				var s string
				if s, err = dec.readString(); err == nil {
					if s == "undefined" {
						v = lib0.Undefined{}
					} else {
						v, err = lib0.ParseJSON(s)
					}
				}
			}
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		it.x().vals = vals
		it.length = len(vals)
	case kindBinary:
		if it.str, err = dec.readBuf(); err != nil {
			return err
		}
		it.length = 1
	case kindString:
		if it.str, err = dec.readStringBytes(); err != nil {
			return err
		}
		it.length = lib0.UTF16Len(string(it.str))
	case kindEmbed:
		v, err := dec.readJSON()
		if err != nil {
			return err
		}
		it.x().vals = []any{v}
		it.length = 1
	case kindFormat:
		k, err := dec.readKey()
		if err != nil {
			return err
		}
		v, err := dec.readJSON()
		if err != nil {
			return err
		}
		x := it.x()
		x.key = k
		x.vals = []any{v}
		it.length = 1
	case kindType:
		ref, err := dec.readTypeRef()
		if err != nil {
			return err
		}
		if ref > typeXmlText {
			return errMalformed("unknown type ref %d", ref)
		}
		b := &branch{typeRef: int8(ref)}
		if ref == typeXmlElement || ref == typeXmlHook {
			if b.nodeName, err = dec.readKey(); err != nil {
				return err
			}
		}
		it.x().typ = b
		it.length = 1
	case kindDoc:
		guid, err := dec.readString()
		if err != nil {
			return err
		}
		opts, err := dec.readAny()
		if err != nil {
			return err
		}
		it.str = []byte(guid)
		it.x().vals = []any{opts}
		it.length = 1
	default:
		return errMalformed("unknown content ref %d", kind)
	}
	return nil
}

// mergeRefLists merges two clock-sorted ref lists of one client.
func mergeRefLists(a, b []*item) []*item {
	out := make([]*item, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || (i < len(a) && a[i].id.Clock <= b[j].id.Clock) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// writeStructs writes a client's structs from clock on, slicing the first
// struct at that clock.
func writeStructs(enc updateEncoder, c *clientStructs, clock uint64) {
	structs := c.structs
	if structs[0].id.Clock > clock {
		clock = structs[0].id.Clock
	}
	start := findIndex(structs, clock)
	r := enc.rest()
	r.WriteVarUint(uint64(len(structs) - start))
	enc.writeClient(c.client)
	r.WriteVarUint(clock)
	first := structs[start]
	writeStruct(enc, first, int(clock-first.id.Clock))
	for _, s := range structs[start+1:] {
		writeStruct(enc, s, 0)
	}
}

// writeStruct writes one struct from offset on.
func writeStruct(enc updateEncoder, it *item, offset int) {
	switch it.kind {
	case kindGC:
		enc.writeInfo(kindGC)
		enc.writeLen(uint64(it.length - offset))
		return
	case kindSkip:
		enc.writeInfo(kindSkip)
		enc.rest().WriteVarUint(uint64(it.length - offset))
		return
	}
	origin, hasOrigin := it.origin, it.hasOrigin()
	if offset > 0 {
		origin, hasOrigin = ID{it.id.Client, it.id.Clock + uint64(offset) - 1}, true
	}
	info := it.kind
	if hasOrigin {
		info |= 0x80
	}
	if it.hasRight() {
		info |= 0x40
	}
	if it.hasParentSub() {
		info |= 0x20
	}
	enc.writeInfo(info)
	if hasOrigin {
		enc.writeLeftID(origin)
	}
	if it.hasRight() {
		enc.writeRightID(it.rightOrigin)
	}
	if !hasOrigin && !it.hasRight() {
		switch {
		case it.parent != nil && it.parent.item == nil:
			enc.writeParentInfo(true)
			enc.writeString(it.parent.name)
		case it.parent != nil:
			enc.writeParentInfo(false)
			enc.writeLeftID(it.parent.item.id)
		case it.ext != nil && it.ext.parentKind == parentRoot:
			enc.writeParentInfo(true)
			enc.writeString(it.ext.parentName)
		case it.ext != nil && it.ext.parentKind == parentItem:
			enc.writeParentInfo(false)
			enc.writeLeftID(it.ext.parentID)
		default:
			// Unreachable for valid structs; write something decodable.
			enc.writeParentInfo(true)
			enc.writeString("")
		}
		if it.hasParentSub() {
			enc.writeString(it.parentSub)
		}
	}
	writeContent(enc, it, offset)
}

func writeContent(enc updateEncoder, it *item, offset int) {
	switch it.kind {
	case kindDeleted:
		enc.writeLen(uint64(it.length - offset))
	case kindJSON:
		vals := it.ext.vals[offset:]
		enc.writeLen(uint64(len(vals)))
		for _, v := range vals {
			s, err := lib0.StringifyJSON(v)
			if err != nil {
				s = "null"
			}
			enc.writeString(s)
		}
	case kindAny:
		vals := it.ext.vals[offset:]
		enc.writeLen(uint64(len(vals)))
		for _, v := range vals {
			enc.writeAny(v)
		}
	case kindBinary:
		enc.writeBuf(it.str)
	case kindString:
		enc.writeStringBytes(sliceUTF16From(it.str, it.length, offset))
	case kindEmbed:
		enc.writeJSON(it.ext.vals[0])
	case kindFormat:
		enc.writeKey(it.ext.key)
		enc.writeJSON(it.ext.vals[0])
	case kindType:
		t := it.ext.typ
		enc.writeTypeRef(uint64(t.typeRef))
		if t.typeRef == typeXmlElement || t.typeRef == typeXmlHook {
			enc.writeKey(t.nodeName)
		}
	case kindDoc:
		enc.writeString(string(it.str))
		enc.writeAny(it.ext.vals[0])
	}
}
