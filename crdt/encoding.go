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
// EncodeStateAsUpdate) until the dependencies arrive; an update that would
// make them exceed the document's PendingLimit is refused with
// ErrPendingLimit, the document unchanged.
func (d *Doc) ApplyUpdate(update []byte) error {
	_, err := d.ApplyUpdateResult(update)
	return err
}

// ApplyUpdateResult is ApplyUpdate, also saying what the update did.
func (d *Doc) ApplyUpdateResult(update []byte) (ApplyResult, error) {
	d.scratchDec.d.Reset(update)
	u, err := decodeUpdateInto(&d.scratchDec, &d.scratchUpdate)
	if err != nil {
		return ApplyResult{}, err
	}
	return d.applyDecoded(u)
}

// ApplyUpdateV2 integrates a v2 update, with ApplyUpdate's guarantees.
func (d *Doc) ApplyUpdateV2(update []byte) error {
	_, err := d.ApplyUpdateV2Result(update)
	return err
}

// ApplyUpdateV2Result is ApplyUpdateV2, also saying what the update did.
func (d *Doc) ApplyUpdateV2Result(update []byte) (ApplyResult, error) {
	dec, err := newV2Decoder(update)
	if err != nil {
		return ApplyResult{}, err
	}
	u, err := decodeUpdate(dec)
	if err != nil {
		return ApplyResult{}, err
	}
	return d.applyDecoded(u)
}

func (d *Doc) applyDecoded(u *decodedUpdate) (ApplyResult, error) {
	if err := d.checkPendingLimit(u); err != nil {
		return ApplyResult{}, err
	}
	var res ApplyResult
	d.transact(false, func(tx *Transaction) {
		var ready []*pendingClient
		if rest := tx.integrateStructs(u.clients, false); len(rest) > 0 {
			var added int
			added, ready = d.pend.add(d, rest, nil)
			res.Deferred = added > 0
		}
		if d.pend.structs > 0 {
			tx.retryPending(d.movedClients(tx), ready)
		}
		dsRest := tx.applyDeleteSet(&u.ds)
		if d.pendDS.ranges > 0 {
			tx.retryPendingDeletes(d.movedClients(tx))
		}
		if d.pendDS.add(&dsRest) > 0 {
			res.Deferred = true
		}
		res.Integrated = len(tx.ds.clients) > 0 || tx.changedStructs()
	})
	return res, nil
}

// movedClients lists the clients whose state may have moved since pending
// data was last retried, the only ones whose pending data may now integrate:
// those the transaction added structs to, and this document's own client,
// which local writes move between updates.
func (d *Doc) movedClients(tx *Transaction) []uint64 {
	moved := make([]uint64, 0, len(tx.before)+1)
	for _, b := range tx.before {
		moved = append(moved, b.client)
	}
	return append(moved, d.clientID)
}

// SetPendingLimit bounds the pending data from now on (see
// Options.PendingLimit). Data pending already is kept.
func (d *Doc) SetPendingLimit(l PendingLimit) { d.limit = l }

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
// set; pending structs and deletions are included, as yjs does, so a peer
// that has what they wait for can integrate them. A server keeping or
// replaying a document it accepts from untrusted clients wants
// EncodeIntegrated instead.
func (d *Doc) EncodeStateAsUpdate(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV1Encoder() }, false, true)
}

// EncodeStateAsUpdateV2 is EncodeStateAsUpdate in the v2 format.
func (d *Doc) EncodeStateAsUpdateV2(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV2Encoder() }, true, true)
}

// EncodeIntegrated is EncodeStateAsUpdate without the pending data: only
// what the document integrated, so snapshots and sync replies never carry
// (and replay to everyone) structs that wait for updates nobody may send.
func (d *Doc) EncodeIntegrated(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV1Encoder() }, false, false)
}

// EncodeIntegratedV2 is EncodeIntegrated in the v2 format.
func (d *Doc) EncodeIntegratedV2(stateVector []byte) ([]byte, error) {
	return d.encodeStateAsUpdate(stateVector, func() updateEncoder { return newV2Encoder() }, true, false)
}

func (d *Doc) encodeStateAsUpdate(stateVector []byte, newEnc func() updateEncoder, v2, withPending bool) ([]byte, error) {
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
	if !withPending || !d.HasPending() {
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
	extra := &decodedUpdate{ds: d.pendDS.deleteSet()}
	if d.pend.structs > 0 {
		// Pending structs below the local state are already integrated
		// (with valid updates they carry the same content); the integrated
		// ones take precedence.
		pending := d.pend.clientRefs()
		known := make(map[uint64]uint64, len(sv))
		for c, k := range sv {
			known[c] = k
		}
		for _, pc := range pending {
			if st := d.store.state(pc.client); st > known[pc.client] {
				known[pc.client] = st
			}
		}
		extra.clients = diffRefs(pending, known)
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
func (d *Doc) HasPending() bool { return d.pend.structs > 0 || d.pendDS.ranges > 0 }

// PendingSize reports how many structs and delete ranges wait for missing
// updates, so a caller can bound what a misbehaving peer makes it hold.
func (d *Doc) PendingSize() (structs, deleteRanges int) {
	return d.pend.structs, d.pendDS.ranges
}

// PendingBytes approximates the memory the pending structs and deletions
// hold: their content plus a fixed cost each. PendingLimit.Bytes bounds it.
func (d *Doc) PendingBytes() int {
	return d.pend.bytes + d.pendDS.ranges*pendingRangeBytes
}
