package crdt

// tryGCDeleteSet replaces the content of deleted items with ContentDeleted
// (and the children of deleted types with GC structs).
func (d *Doc) tryGCDeleteSet(ds *deleteSet) {
	for ci := range ds.clients {
		cr := &ds.clients[ci]
		c := d.store.get(cr.client)
		if c == nil {
			continue
		}
		for di := len(cr.ranges) - 1; di >= 0; di-- {
			r := cr.ranges[di]
			end := r.clock + r.len
			si := findIndex(c.structs, r.clock)
			if si < 0 {
				continue
			}
			for ; si < len(c.structs); si++ {
				it := c.structs[si]
				if it.id.Clock >= end {
					break
				}
				if !it.isGC() && it.deleted() && !it.keep() {
					d.gcItem(it, false)
				}
			}
		}
	}
}

// gcItem drops a deleted item's content. Items inside a garbage-collected
// type become GC structs.
func (d *Doc) gcItem(it *item, parentGCd bool) {
	if t := it.typ(); t != nil {
		for c := t.start; c != nil; {
			next := c.right
			d.gcItem(c, true)
			c = next
		}
		t.start = nil
		for _, k := range t.keys {
			for c := t.mp[k]; c != nil; {
				next := c.left
				d.gcItem(c, true)
				c = next
			}
		}
		t.mp = nil
		t.keys = nil
	}
	if parentGCd {
		if it.isGC() {
			return
		}
		it.kind = kindGC
		it.flags = fDeleted
		it.str = nil
		it.ext = nil
		it.parent = nil
		it.parentSub = ""
		it.left, it.right = nil, nil
		return
	}
	it.kind = kindDeleted
	it.str = nil
	it.ext = nil
}
