package crdt

import (
	"sort"

	"github.com/yardhq/yard/crdt/lib0"
)

// sliceRef returns a copy of a decoded struct starting offset units later,
// leaving the original untouched.
func sliceRef(it *item, offset int) *item {
	if offset == 0 {
		return it
	}
	n := &item{
		id:          ID{it.id.Client, it.id.Clock + uint64(offset)},
		rightOrigin: it.rightOrigin,
		length:      it.length - offset,
		parentSub:   it.parentSub,
		kind:        it.kind,
		flags:       it.flags,
	}
	if it.kind == kindGC || it.kind == kindSkip {
		return n
	}
	n.origin = ID{it.id.Client, it.id.Clock + uint64(offset) - 1}
	n.flags |= fOrigin
	switch it.kind {
	case kindString:
		n.str = sliceUTF16From(it.str, it.length, offset)
	case kindAny, kindJSON:
		n.x().vals = it.ext.vals[offset:]
	}
	return n
}

// diffRefs drops what a state vector already covers.
func diffRefs(clients []clientRefs, sv map[uint64]uint64) []clientRefs {
	var out []clientRefs
	for _, c := range clients {
		remote := sv[c.client]
		var refs []*item
		for _, r := range c.refs {
			end := r.id.Clock + uint64(r.length)
			if end <= remote {
				continue
			}
			if r.id.Clock < remote {
				r = sliceRef(r, int(remote-r.id.Clock))
			}
			refs = append(refs, r)
		}
		if len(refs) > 0 {
			out = append(out, clientRefs{c.client, refs})
		}
	}
	return out
}

// mergeDecoded merges updates without integrating them: per client the
// structs are sorted, overlaps sliced away, gaps filled with Skip structs,
// and delete sets unioned.
func mergeDecoded(updates []*decodedUpdate) *decodedUpdate {
	byClient := map[uint64][]*item{}
	out := &decodedUpdate{}
	for _, u := range updates {
		for _, c := range u.clients {
			for _, r := range c.refs {
				// Skips carry nothing; gaps are recomputed below.
				if !r.isSkip() {
					byClient[c.client] = append(byClient[c.client], r)
				}
			}
		}
		out.ds.clients = append(out.ds.clients, cloneRanges(u.ds.clients)...)
	}
	out.ds.sortAndMerge()
	clients := make([]uint64, 0, len(byClient))
	for c := range byClient {
		clients = append(clients, c)
	}
	sort.Slice(clients, func(i, j int) bool { return clients[i] > clients[j] })
	for _, client := range clients {
		refs := byClient[client]
		sort.SliceStable(refs, func(i, j int) bool {
			if refs[i].id.Clock != refs[j].id.Clock {
				return refs[i].id.Clock < refs[j].id.Clock
			}
			return refs[i].length > refs[j].length
		})
		var res []*item
		var next uint64
		for _, r := range refs {
			end := r.id.Clock + uint64(r.length)
			if len(res) > 0 {
				if end <= next {
					continue
				}
				if r.id.Clock < next {
					r = sliceRef(r, int(next-r.id.Clock))
				} else if r.id.Clock > next {
					res = append(res, &item{id: ID{client, next}, length: int(r.id.Clock - next), kind: kindSkip})
				}
				last := res[len(res)-1]
				if last.isGC() && r.isGC() {
					res[len(res)-1] = &item{id: last.id, length: last.length + r.length, kind: last.kind, flags: last.flags}
					next = end
					continue
				}
			}
			res = append(res, r)
			next = end
		}
		if len(res) > 0 {
			out.clients = append(out.clients, clientRefs{client, res})
		}
	}
	return out
}

func cloneRanges(cs []clientRanges) []clientRanges {
	out := make([]clientRanges, len(cs))
	for i, c := range cs {
		out[i] = clientRanges{c.client, append([]dsRange(nil), c.ranges...)}
	}
	return out
}

// write encodes a decoded update (clients in the order held, which
// mergeDecoded makes descending).
func (u *decodedUpdate) write(enc updateEncoder) {
	r := enc.rest()
	r.WriteVarUint(uint64(len(u.clients)))
	for _, c := range u.clients {
		r.WriteVarUint(uint64(len(c.refs)))
		enc.writeClient(c.client)
		r.WriteVarUint(c.refs[0].id.Clock)
		for _, it := range c.refs {
			writeStruct(enc, it, 0)
		}
	}
	u.ds.write(enc)
}

// MergeUpdates merges v1 updates into one v1 update without a document, as
// yjs's mergeUpdates does: nothing is garbage-collected or integrated, so
// the result can be larger than a document's encoding. Merge in bounded
// batches; cost grows with the number of inputs.
func MergeUpdates(updates [][]byte) ([]byte, error) {
	decoded := make([]*decodedUpdate, 0, len(updates))
	for _, b := range updates {
		u, err := decodeUpdate(newV1Decoder(b))
		if err != nil {
			return nil, err
		}
		decoded = append(decoded, u)
	}
	if len(updates) == 1 {
		// yjs returns a lone update as it is (validated here).
		return append([]byte(nil), updates[0]...), nil
	}
	enc := newV1Encoder()
	mergeDecoded(decoded).write(enc)
	return enc.toBytes(), nil
}

// MergeUpdatesV2 is MergeUpdates for v2 updates.
func MergeUpdatesV2(updates [][]byte) ([]byte, error) {
	decoded := make([]*decodedUpdate, 0, len(updates))
	for _, b := range updates {
		dec, err := newV2Decoder(b)
		if err != nil {
			return nil, err
		}
		u, err := decodeUpdate(dec)
		if err != nil {
			return nil, err
		}
		decoded = append(decoded, u)
	}
	if len(updates) == 1 {
		return append([]byte(nil), updates[0]...), nil
	}
	enc := newV2Encoder()
	mergeDecoded(decoded).write(enc)
	return enc.toBytes(), nil
}

// ConvertUpdateV1ToV2 re-encodes a v1 update in the v2 format.
func ConvertUpdateV1ToV2(update []byte) ([]byte, error) {
	u, err := decodeUpdate(newV1Decoder(update))
	if err != nil {
		return nil, err
	}
	enc := newV2Encoder()
	u.write(enc)
	return enc.toBytes(), nil
}

// ConvertUpdateV2ToV1 re-encodes a v2 update in the v1 format.
func ConvertUpdateV2ToV1(update []byte) ([]byte, error) {
	dec, err := newV2Decoder(update)
	if err != nil {
		return nil, err
	}
	u, err := decodeUpdate(dec)
	if err != nil {
		return nil, err
	}
	enc := newV1Encoder()
	u.write(enc)
	return enc.toBytes(), nil
}

// EncodeStateVectorFromUpdate computes the state vector an update would give
// a fresh document, without integrating it: a client counts only from clock
// 0 up to its first gap.
func EncodeStateVectorFromUpdate(update []byte) ([]byte, error) {
	u, err := decodeUpdate(newV1Decoder(update))
	if err != nil {
		return nil, err
	}
	var e lib0.Encoder
	type cc struct{ client, clock uint64 }
	var list []cc
	for _, c := range u.clients {
		var clock uint64
		for _, r := range c.refs {
			if r.isSkip() || r.id.Clock != clock {
				break
			}
			clock = r.id.Clock + uint64(r.length)
		}
		if clock > 0 {
			list = append(list, cc{c.client, clock})
		}
	}
	e.WriteVarUint(uint64(len(list)))
	for _, c := range list {
		e.WriteVarUint(c.client)
		e.WriteVarUint(c.clock)
	}
	return e.Bytes(), nil
}

// DiffUpdate returns the part of a v1 update that a holder of stateVector
// lacks (structs sliced at the remote clocks; the delete set is kept whole),
// without a document, like yjs's diffUpdate.
func DiffUpdate(update, stateVector []byte) ([]byte, error) {
	u, err := decodeUpdate(newV1Decoder(update))
	if err != nil {
		return nil, err
	}
	sv, err := DecodeStateVector(stateVector)
	if err != nil {
		return nil, err
	}
	out := &decodedUpdate{clients: diffRefs(u.clients, sv), ds: u.ds}
	out.ds.sortAndMerge()
	enc := newV1Encoder()
	mergeDecoded([]*decodedUpdate{out}).write(enc)
	return enc.toBytes(), nil
}
