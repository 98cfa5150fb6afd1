package crdt

import "sort"

type dsRange struct {
	clock, len uint64
}

type clientRanges struct {
	client uint64
	ranges []dsRange
}

// deleteSet lists deleted clock ranges per client. Transactions touch few
// clients, so a slice beats a map here.
type deleteSet struct {
	clients []clientRanges
	idx     map[uint64]int // index into clients, once there are many
}

func (ds *deleteSet) add(client, clock, length uint64) {
	if length == 0 {
		return
	}
	if ds.idx != nil {
		if i, ok := ds.idx[client]; ok {
			ds.clients[i].ranges = append(ds.clients[i].ranges, dsRange{clock, length})
			return
		}
	} else {
		for i := range ds.clients {
			if ds.clients[i].client == client {
				ds.clients[i].ranges = append(ds.clients[i].ranges, dsRange{clock, length})
				return
			}
		}
		if len(ds.clients) >= 16 {
			ds.idx = make(map[uint64]int, len(ds.clients)+1)
			for i, c := range ds.clients {
				ds.idx[c.client] = i
			}
		}
	}
	if ds.idx != nil {
		ds.idx[client] = len(ds.clients)
	}
	if n := len(ds.clients); n < cap(ds.clients) {
		ds.clients = ds.clients[:n+1]
		c := &ds.clients[n]
		c.client = client
		c.ranges = append(c.ranges[:0], dsRange{clock, length})
		return
	}
	ds.clients = append(ds.clients, clientRanges{client, []dsRange{{clock, length}}})
}

// sortAndMerge sorts ranges by clock, merges overlapping and adjacent ones,
// and orders clients descending (the wire order).
func (ds *deleteSet) sortAndMerge() {
	ds.idx = nil // clients are reordered
	for ci := range ds.clients {
		rs := ds.clients[ci].ranges
		if len(rs) > 1 {
			sort.Slice(rs, func(i, j int) bool { return rs[i].clock < rs[j].clock })
			j := 0
			for i := 1; i < len(rs); i++ {
				l := &rs[j]
				if l.clock+l.len >= rs[i].clock {
					if e := rs[i].clock + rs[i].len; e > l.clock+l.len {
						l.len = e - l.clock
					}
				} else {
					j++
					rs[j] = rs[i]
				}
			}
			ds.clients[ci].ranges = rs[:j+1]
		}
	}
	if len(ds.clients) > 1 {
		sort.Slice(ds.clients, func(i, j int) bool { return ds.clients[i].client > ds.clients[j].client })
		// Merge duplicate client entries (possible when sets were unioned).
		j := 0
		for i := 1; i < len(ds.clients); i++ {
			if ds.clients[i].client == ds.clients[j].client {
				ds.clients[j].ranges = append(ds.clients[j].ranges, ds.clients[i].ranges...)
				merged := deleteSet{clients: []clientRanges{ds.clients[j]}}
				merged.sortAndMerge()
				ds.clients[j] = merged.clients[0]
			} else {
				j++
				ds.clients[j] = ds.clients[i]
			}
		}
		ds.clients = ds.clients[:j+1]
	}
}

func (ds *deleteSet) write(enc updateEncoder) {
	r := enc.rest()
	n := 0
	for _, c := range ds.clients {
		if len(c.ranges) > 0 {
			n++
		}
	}
	r.WriteVarUint(uint64(n))
	for _, c := range ds.clients {
		if len(c.ranges) == 0 {
			continue
		}
		enc.resetDsCurVal()
		r.WriteVarUint(c.client)
		r.WriteVarUint(uint64(len(c.ranges)))
		for _, rg := range c.ranges {
			enc.writeDsClock(rg.clock)
			enc.writeDsLen(rg.len)
		}
	}
}

// readDeleteSetInto reads a delete set into ds, reusing its slices.
func readDeleteSetInto(dec updateDecoder, ds *deleteSet) error {
	spare := ds.clients[:cap(ds.clients)]
	ds.clients = ds.clients[:0]
	r := dec.rest()
	n, err := r.ReadVarUint()
	if err != nil {
		return err
	}
	if n > uint64(r.Remaining()) {
		return errMalformed("delete set client count %d", n)
	}
	for i := uint64(0); i < n; i++ {
		dec.resetDsCurVal()
		client, err := r.ReadVarUint()
		if err != nil {
			return err
		}
		nr, err := r.ReadVarUint()
		if err != nil {
			return err
		}
		if nr > uint64(r.Remaining()) {
			return errMalformed("delete set range count %d", nr)
		}
		var cr clientRanges
		cr.client = client
		if i < uint64(len(spare)) && cap(spare[i].ranges) >= int(nr) {
			cr.ranges = spare[i].ranges[:0]
		} else {
			cr.ranges = make([]dsRange, 0, min(nr, 1024))
		}
		for j := uint64(0); j < nr; j++ {
			clock, err := dec.readDsClock()
			if err != nil {
				return err
			}
			l, err := dec.readDsLen()
			if err != nil {
				return err
			}
			if clock+l > maxClock {
				return errMalformed("delete range beyond 2^53")
			}
			if l > 0 {
				cr.ranges = append(cr.ranges, dsRange{clock, l})
			}
		}
		ds.clients = append(ds.clients, cr)
	}
	return nil
}

// deleteSetFromStore derives the delete set of the whole document: runs of
// deleted structs per client.
func (d *Doc) deleteSetFromStore() deleteSet {
	var ds deleteSet
	for _, client := range d.store.sortedClients() {
		structs := d.store.get(client).structs
		var rs []dsRange
		for i := 0; i < len(structs); i++ {
			s := structs[i]
			if !s.deleted() {
				continue
			}
			clock := s.id.Clock
			l := uint64(s.length)
			for i+1 < len(structs) && structs[i+1].deleted() {
				i++
				l += uint64(structs[i].length)
			}
			rs = append(rs, dsRange{clock, l})
		}
		if len(rs) > 0 {
			ds.clients = append(ds.clients, clientRanges{client, rs})
		}
	}
	return ds
}
