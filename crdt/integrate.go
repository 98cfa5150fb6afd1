package crdt

import "sort"

// getMissing resolves an item's references against the store. It returns
// the client whose structs are missing (and false) when a dependency has
// not arrived yet; otherwise it links left/right and the parent.
func (tx *Transaction) getMissing(it *item) (uint64, bool) {
	store := &tx.doc.store
	if client, _, ok := missingDependency(it, store.state); ok {
		return client, true
	}
	x := it.ext
	// Same-client references were checked at decode time to lie before the
	// item; the item's own clock is integrated only when its client's state
	// reached it, so they resolve.
	if it.hasOrigin() {
		it.left = tx.cleanEnd(it.origin)
		if it.left == nil {
			return it.origin.Client, true
		}
		it.origin = it.left.lastID()
	}
	if it.hasRight() {
		it.right = tx.cleanStart(it.rightOrigin)
		if it.right == nil {
			return it.rightOrigin.Client, true
		}
		it.rightOrigin = it.right.id
	}
	switch {
	case (it.left != nil && it.left.isGC()) || (it.right != nil && it.right.isGC()):
		it.parent = nil
	case x == nil || x.parentKind == parentNone:
		if it.left != nil {
			it.parent = it.left.parent
			it.setParentSubFrom(it.left)
		} else if it.right != nil {
			it.parent = it.right.parent
			it.setParentSubFrom(it.right)
		}
	case x.parentKind == parentRoot:
		it.parent = tx.doc.root(x.parentName)
	case x.parentKind == parentItem:
		p := store.find(x.parentID)
		if p == nil {
			return x.parentID.Client, true
		}
		it.parent = p.typ() // nil for GC or non-type content: the item becomes GC
	}
	return 0, false
}

// missingDependency returns the first other client's struct an item refers to
// (origin, right origin, parent) that state says has not arrived: the item
// can integrate once state(client) > clock.
func missingDependency(it *item, state func(client uint64) uint64) (client, clock uint64, missing bool) {
	if it.hasOrigin() && it.origin.Client != it.id.Client && it.origin.Clock >= state(it.origin.Client) {
		return it.origin.Client, it.origin.Clock, true
	}
	if it.hasRight() && it.rightOrigin.Client != it.id.Client && it.rightOrigin.Clock >= state(it.rightOrigin.Client) {
		return it.rightOrigin.Client, it.rightOrigin.Clock, true
	}
	if x := it.ext; x != nil && x.parentKind == parentItem && x.parentID.Client != it.id.Client && x.parentID.Clock >= state(x.parentID.Client) {
		return x.parentID.Client, x.parentID.Clock, true
	}
	return 0, 0, false
}

func (it *item) setParentSubFrom(n *item) {
	it.parentSub = n.parentSub
	it.flags = it.flags&^fParentSub | n.flags&fParentSub
}

// integrate links a resolved item into its parent's list (YATA) and adds it
// to the store. offset > 0 integrates only the part from that clock on.
func (tx *Transaction) integrate(it *item, offset int) {
	if offset > 0 {
		it.id.Clock += uint64(offset)
		it.left = tx.cleanEnd(ID{it.id.Client, it.id.Clock - 1})
		it.origin = it.left.lastID()
		it.flags |= fOrigin
		tail := &item{}
		it.spliceContent(tail, offset)
		it.str = tail.str
		if tail.ext != nil {
			it.ext.vals = tail.ext.vals
		}
		it.length -= offset
		if it.left.isGC() {
			it.parent = nil
		}
	}
	if it.parent == nil {
		gc := &item{id: it.id, length: it.length, kind: kindGC, flags: fDeleted}
		tx.addStruct(gc)
		return
	}
	parent := it.parent
	parent.markItem = nil
	if (it.left == nil && (it.right == nil || it.right.left != nil)) || (it.left != nil && it.left.right != it.right) {
		tx.resolveConflict(it)
	}
	if it.left != nil {
		it.right = it.left.right
		it.left.right = it
	} else {
		var r *item
		if it.hasParentSub() {
			r = parent.mp[it.parentSub]
			for r != nil && r.left != nil {
				r = r.left
			}
		} else {
			r = parent.start
			parent.start = it
		}
		it.right = r
	}
	if it.right != nil {
		it.right.left = it
	} else if it.hasParentSub() {
		parent.setMapEntry(it.parentSub, it)
		if it.left != nil {
			tx.deleteItem(it.left)
		}
	}
	if !it.hasParentSub() && it.countable() && !it.deleted() {
		parent.length += it.length
	}
	tx.addStruct(it)
	// Content integration.
	switch it.kind {
	case kindDeleted:
		tx.ds.add(it.id.Client, it.id.Clock, uint64(it.length))
		it.flags |= fDeleted
	case kindType:
		t := it.ext.typ
		t.doc = tx.doc
		t.item = it
	case kindFormat:
		parent.hasFormats = true
	}
	if (parent.item != nil && parent.item.deleted()) || (it.hasParentSub() && it.right != nil) {
		tx.deleteItem(it)
	}
}

// resolveConflict finds it's left neighbour among concurrent insertions
// between origin and rightOrigin (the YATA rule yjs implements).
func (tx *Transaction) resolveConflict(it *item) {
	left := it.left
	var o *item
	if left != nil {
		o = left.right
	} else if it.hasParentSub() {
		o = it.parent.mp[it.parentSub]
		for o != nil && o.left != nil {
			o = o.left
		}
	} else {
		o = it.parent.start
	}
	store := &tx.doc.store
	// itemsBeforeOrigin and conflictingItems: slices while short, sets once
	// long, so many concurrent inserts at one position stay quadratic (as
	// in yjs) rather than cubic.
	sets := &tx.doc.conflictSets
	before := tx.doc.scratchBefore[:0]
	conflicting := tx.doc.scratchConflict[:0]
	useSets := false
	contains := func(s []*item, m map[*item]struct{}, x *item) bool {
		if useSets {
			_, ok := m[x]
			return ok
		}
		for _, e := range s {
			if e == x {
				return true
			}
		}
		return false
	}
	clearConflicting := func() {
		conflicting = conflicting[:0]
		if useSets {
			clear(sets.conflicting)
		}
	}
	for o != nil && o != it.right {
		before = append(before, o)
		conflicting = append(conflicting, o)
		if !useSets && len(before) > 32 {
			useSets = true
			if sets.before == nil {
				sets.before = map[*item]struct{}{}
				sets.conflicting = map[*item]struct{}{}
			}
			for _, e := range before {
				sets.before[e] = struct{}{}
			}
			for _, e := range conflicting {
				sets.conflicting[e] = struct{}{}
			}
		} else if useSets {
			sets.before[o] = struct{}{}
			sets.conflicting[o] = struct{}{}
		}
		if sameOptID(it.hasOrigin(), it.origin, o.hasOrigin(), o.origin) {
			if o.id.Client < it.id.Client {
				left = o
				clearConflicting()
			} else if sameOptID(it.hasRight(), it.rightOrigin, o.hasRight(), o.rightOrigin) {
				break
			}
		} else if o.hasOrigin() {
			oo := store.find(o.origin)
			if oo != nil && contains(before, sets.before, oo) {
				if !contains(conflicting, sets.conflicting, oo) {
					left = o
					clearConflicting()
				}
			} else {
				break
			}
		} else {
			break
		}
		o = o.right
	}
	if useSets {
		clear(sets.before)
		clear(sets.conflicting)
	}
	clear(before)
	clear(conflicting[:cap(conflicting)])
	tx.doc.scratchBefore = before[:0]
	tx.doc.scratchConflict = conflicting[:0]
	it.left = left
}

func sameOptID(ha bool, a ID, hb bool, b ID) bool {
	if ha != hb {
		return false
	}
	return !ha || a == b
}

// addStruct appends a struct at its client's state.
func (tx *Transaction) addStruct(it *item) {
	c := tx.doc.store.getOrCreate(it.id.Client)
	st := c.state()
	tx.noteClient(it.id.Client, st)
	c.structs = append(c.structs, it)
}

// deleteItem marks an item deleted, recording it in the transaction's
// delete set; deleting a type deletes everything in it.
func (tx *Transaction) deleteItem(it *item) {
	if it.deleted() {
		return
	}
	if it.countable() && !it.hasParentSub() && it.parent != nil {
		it.parent.length -= it.length
	}
	if it.parent != nil {
		it.parent.markItem = nil
	}
	it.flags |= fDeleted
	tx.ds.add(it.id.Client, it.id.Clock, uint64(it.length))
	if t := it.typ(); t != nil {
		for c := t.start; c != nil; c = c.right {
			if !c.deleted() {
				tx.deleteItem(c)
			} else if c.id.Clock < tx.beforeState(c.id.Client) {
				tx.mergeStructs = append(tx.mergeStructs, c)
			}
		}
		for _, k := range t.keys {
			c := t.mp[k]
			if c == nil {
				continue
			}
			if !c.deleted() {
				tx.deleteItem(c)
			} else if c.id.Clock < tx.beforeState(c.id.Client) {
				tx.mergeStructs = append(tx.mergeStructs, c)
			}
		}
	}
}

type refCursor struct {
	client uint64
	refs   []*item
	i      int
	state  uint64 // the client's state as integration proceeds
	known  bool   // state is set
}

type stackEntry struct {
	it  *item
	idx int
}

// integrateStructs integrates decoded structs, following dependencies
// across clients with a stack as yjs does, and returns what could not be
// integrated yet (copied, so refs may live in reused buffers). A dry run
// changes nothing: it only tracks each client's state, so it returns exactly
// what a real run would leave over.
func (tx *Transaction) integrateStructs(refs []clientRefs, dry bool) []clientRefs {
	if len(refs) == 0 {
		return nil
	}
	d := tx.doc
	store := &d.store
	cursors := d.scratchCursors[:0]
	for _, r := range refs {
		cursors = append(cursors, refCursor{client: r.client, refs: r.refs})
	}
	// Clients are processed in descending order: sort ascending and take
	// from the end; find is a binary search, so updates touching thousands
	// of clients stay fast.
	if len(cursors) > 1 {
		sort.Slice(cursors, func(i, j int) bool { return cursors[i].client < cursors[j].client })
	}
	stack := d.scratchStack[:0]
	var rest []clientRefs
	defer func() {
		clear(cursors)
		d.scratchCursors = cursors[:0]
		clear(stack[:cap(stack)])
		d.scratchStack = stack[:0]
	}()

	find := func(client uint64) *refCursor {
		i := sort.Search(len(cursors), func(i int) bool { return cursors[i].client >= client })
		if i < len(cursors) && cursors[i].client == client {
			return &cursors[i]
		}
		return nil
	}
	top := len(cursors) - 1
	nextTarget := func() *refCursor {
		for ; top >= 0; top-- {
			if c := &cursors[top]; c.i < len(c.refs) {
				return c
			}
		}
		return nil
	}
	// stateOf is a client's state as integration proceeds: a dry run leaves
	// the store as it is.
	stateOf := func(client uint64) uint64 {
		if dry {
			if c := find(client); c != nil && c.known {
				return c.state
			}
		}
		return store.state(client)
	}
	addStackToRest := func() {
		for _, e := range stack {
			c := find(e.it.id.Client)
			if c == nil || c.refs == nil {
				continue
			}
			from := e.idx
			for _, e2 := range stack {
				if e2.it.id.Client == e.it.id.Client && e2.idx < from {
					from = e2.idx
				}
			}
			rest = append(rest, clientRefs{c.client, append([]*item(nil), c.refs[from:]...)})
			c.refs = nil
			c.i = 0
		}
		stack = stack[:0]
	}

	cur := nextTarget()
	if cur == nil {
		return nil
	}
	head := stackEntry{cur.refs[cur.i], cur.i}
	cur.i++
	for {
		it := head.it
		if !it.isSkip() {
			c := find(it.id.Client)
			if !c.known {
				c.state, c.known = store.state(it.id.Client), true
			}
			local := c.state
			if it.id.Clock > local {
				stack = append(stack, head)
				addStackToRest()
			} else if end := it.id.Clock + uint64(it.length); end > local {
				var missing uint64
				var isMissing bool
				if dry {
					missing, _, isMissing = missingDependency(it, stateOf)
				} else {
					missing, isMissing = tx.getMissing(it)
				}
				if isMissing {
					stack = append(stack, head)
					mc := find(missing)
					if mc == nil || mc.i >= len(mc.refs) {
						addStackToRest()
					} else {
						head = stackEntry{mc.refs[mc.i], mc.i}
						mc.i++
						continue
					}
				} else {
					if !dry {
						tx.integrate(it, int(local-it.id.Clock))
					}
					c.state = end
				}
			}
		}
		if len(stack) > 0 {
			head = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		} else if cur != nil && cur.i < len(cur.refs) {
			head = stackEntry{cur.refs[cur.i], cur.i}
			cur.i++
		} else {
			cur = nextTarget()
			if cur == nil {
				break
			}
			head = stackEntry{cur.refs[cur.i], cur.i}
			cur.i++
		}
	}
	return rest
}
