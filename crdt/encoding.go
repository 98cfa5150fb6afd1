package crdt

import (
	"sort"

	"github.com/yardhq/yard/crdt/lib0"
)

// ApplyUpdate integrates a v1 update. A malformed update returns an error
// wrapping ErrMalformedUpdate and leaves the document unchanged: the update
// is decoded and validated completely before anything is integrated.
// Trailing bytes after the delete set are ignored, as yjs ignores them.
// Structs whose dependencies are missing wait (and are included in
// EncodeStateAsUpdate) until the dependencies arrive.
func (d *Doc) ApplyUpdate(update []byte) error {
	d.scratchDec.d.Reset(update)
	u, err := decodeUpdateInto(&d.scratchDec, &d.scratchUpdate)
	if err != nil {
		return err
	}
	d.applyDecoded(u)
	return nil
}

// ApplyUpdateV2 integrates a v2 update, with ApplyUpdate's guarantees.
func (d *Doc) ApplyUpdateV2(update []byte) error {
	dec, err := newV2Decoder(update)
	if err != nil {
		return err
	}
	u, err := decodeUpdate(dec)
	if err != nil {
		return err
	}
	d.applyDecoded(u)
	return nil
}

func (d *Doc) applyDecoded(u *decodedUpdate) {
	d.transact(false, func(tx *Transaction) {
		rest := tx.integrateStructs(u.clients)
		retry := false
		if p := d.pending; p != nil {
			for _, m := range p.missing {
				if m.clock < d.store.state(m.client) {
					retry = true
					break
				}
			}
			if rest != nil {
				for _, m := range rest.missing {
					found := false
					for i := range p.missing {
						if p.missing[i].client == m.client {
							found = true
							if m.clock < p.missing[i].clock {
								p.missing[i].clock = m.clock
							}
						}
					}
					if !found {
						p.missing = append(p.missing, m)
					}
				}
				p.clients = mergeClientRefs(p.clients, rest.clients)
			}
		} else {
			d.pending = rest
		}
		dsRest := tx.applyDeleteSet(&u.ds)
		if len(d.pendDS.clients) > 0 {
			old := d.pendDS
			d.pendDS = deleteSet{}
			dsRest2 := tx.applyDeleteSet(&old)
			dsRest.clients = append(dsRest.clients, dsRest2.clients...)
			dsRest.sortAndMerge()
		}
		d.pendDS = dsRest
		if retry {
			p := d.pending
			d.pending = nil
			d.applyDecoded(&decodedUpdate{clients: p.clients})
		}
	})
}

// mergeClientRefs unions per-client ref lists, keeping clock order and
// dropping exact duplicates.
func mergeClientRefs(a, b []clientRefs) []clientRefs {
	out := append([]clientRefs(nil), a...)
	idx := make(map[uint64]int, len(out))
	for i, c := range out {
		idx[c.client] = i
	}
	for _, cb := range b {
		found := false
		if i, ok := idx[cb.client]; ok {
			m := mergeRefLists(out[i].refs, cb.refs)
			j := 0
			for k := 0; k < len(m); k++ {
				if j > 0 && m[j-1].id.Clock == m[k].id.Clock && m[j-1].length >= m[k].length {
					continue
				}
				m[j] = m[k]
				j++
			}
			out[i].refs = m[:j]
			found = true
		}
		if !found {
			idx[cb.client] = len(out)
			out = append(out, cb)
		}
	}
	return out
}

// applyDeleteSet deletes the ranges the store knows and returns the rest.
func (tx *Transaction) applyDeleteSet(ds *deleteSet) deleteSet {
	var unapplied deleteSet
	store := &tx.doc.store
	for _, cr := range ds.clients {
		c := store.get(cr.client)
		var state uint64
		if c != nil {
			state = c.state()
		}
		for _, r := range cr.ranges {
			clock, end := r.clock, r.clock+r.len
			if clock >= state {
				unapplied.add(cr.client, clock, end-clock)
				continue
			}
			if state < end {
				unapplied.add(cr.client, state, end-state)
			}
			index := findIndex(c.structs, clock)
			it := c.structs[index]
			if !it.deleted() && it.id.Clock < clock {
				c.insertAt(index+1, tx.splitItem(it, int(clock-it.id.Clock)))
				index++
			}
			for index < len(c.structs) {
				it = c.structs[index]
				index++
				if it.id.Clock >= end {
					break
				}
				if !it.deleted() {
					if end < it.id.Clock+uint64(it.length) {
						c.insertAt(index, tx.splitItem(it, int(end-it.id.Clock)))
					}
					tx.deleteItem(it)
				}
			}
		}
	}
	unapplied.sortAndMerge()
	return unapplied
}

// StateVector returns the next expected clock of every client.
func (d *Doc) StateVector() map[uint64]uint64 {
	sv := make(map[uint64]uint64, len(d.store.clients))
	for id, c := range d.store.clients {
		if st := c.state(); st > 0 {
			sv[id] = st
		}
	}
	return sv
}

// EncodeStateVector encodes the state vector (clients descending). Pending
// structs are not included.
func (d *Doc) EncodeStateVector() []byte {
	var e lib0.Encoder
	ids := d.store.sortedClients()
	e.WriteVarUint(uint64(len(ids)))
	for _, id := range ids {
		e.WriteVarUint(id)
		e.WriteVarUint(d.store.get(id).state())
	}
	return e.Bytes()
}

// DecodeStateVector reads an encoded state vector.
func DecodeStateVector(sv []byte) (map[uint64]uint64, error) {
	d := lib0.NewDecoder(sv)
	n, err := d.ReadVarUint()
	if err != nil {
		return nil, wrapMalformed(err)
	}
	if n > uint64(d.Remaining()/2) {
		return nil, errMalformed("state vector size %d exceeds input", n)
	}
	m := make(map[uint64]uint64, n)
	for i := uint64(0); i < n; i++ {
		c, err := d.ReadVarUint()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		k, err := d.ReadVarUint()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		m[c] = k
	}
	return m, nil
}

// EncodeStateAsUpdate encodes everything the holder of stateVector lacks as
// a v1 update (nil: the whole document). The first struct of each client is
// sliced at the remote clock; the delete set is the document's whole delete
// set; pending structs and deletions are included, as yjs does.
func (d *Doc) EncodeStateAsUpdate(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV1Encoder() }, false)
}

// EncodeStateAsUpdateV2 is EncodeStateAsUpdate in the v2 format.
func (d *Doc) EncodeStateAsUpdateV2(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV2Encoder() }, true)
}

func (d *Doc) encodeStateAsUpdate(stateVector []byte, newEnc func() updateEncoder, v2 bool) ([]byte, error) {
	sv := map[uint64]uint64{}
	if len(stateVector) > 0 {
		var err error
		if sv, err = DecodeStateVector(stateVector); err != nil {
			return nil, err
		}
	}
	enc := newEnc()
	d.writeClientsStructs(enc, sv)
	ds := d.deleteSetFromStore()
	ds.write(enc)
	out := enc.toBytes()
	if d.pending == nil && len(d.pendDS.clients) == 0 {
		return out, nil
	}
	var first *decodedUpdate
	var err error
	if v2 {
		dec, derr := newV2Decoder(out)
		if derr != nil {
			return nil, derr
		}
		first, err = decodeUpdate(dec)
	} else {
		first, err = decodeUpdate(newV1Decoder(out))
	}
	if err != nil {
		return nil, err
	}
	extra := &decodedUpdate{ds: d.pendDS}
	if d.pending != nil {
		// Pending structs below the local state are already integrated
		// (with valid updates they carry the same content); the integrated
		// ones take precedence.
		known := make(map[uint64]uint64, len(sv))
		for c, k := range sv {
			known[c] = k
		}
		for _, pc := range d.pending.clients {
			if st := d.store.state(pc.client); st > known[pc.client] {
				known[pc.client] = st
			}
		}
		extra.clients = diffRefs(d.pending.clients, known)
	}
	merged := mergeDecoded([]*decodedUpdate{first, extra})
	e2 := newEnc()
	merged.write(e2)
	return e2.toBytes(), nil
}

func (d *Doc) writeClientsStructs(enc updateEncoder, sv map[uint64]uint64) {
	type cc struct{ client, clock uint64 }
	var list []cc
	for id, c := range d.store.clients {
		st := c.state()
		if st == 0 {
			continue
		}
		remote, ok := sv[id]
		if !ok {
			list = append(list, cc{id, 0})
		} else if st > remote {
			list = append(list, cc{id, remote})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].client > list[j].client })
	enc.rest().WriteVarUint(uint64(len(list)))
	for _, e := range list {
		writeStructs(enc, d.store.get(e.client), e.clock)
	}
}

// EncodeDeleteSet encodes the document's delete set (v1 layout), for
// comparing replicas.
func (d *Doc) EncodeDeleteSet() []byte {
	enc := newV1Encoder()
	ds := d.deleteSetFromStore()
	ds.write(enc)
	return enc.toBytes()
}

// HasPending reports whether structs or deletions wait for missing updates.
func (d *Doc) HasPending() bool { return d.pending != nil || len(d.pendDS.clients) > 0 }

// PendingSize reports how many structs and delete ranges wait for missing
// updates, so a caller can bound what a misbehaving peer makes it hold.
func (d *Doc) PendingSize() (structs, deleteRanges int) {
	if d.pending != nil {
		for _, c := range d.pending.clients {
			structs += len(c.refs)
		}
	}
	for _, c := range d.pendDS.clients {
		deleteRanges += len(c.ranges)
	}
	return structs, deleteRanges
}
