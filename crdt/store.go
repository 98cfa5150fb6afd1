package crdt

import "sort"

// clientStructs holds one client's structs sorted by clock with no gaps.
type clientStructs struct {
	client  uint64
	structs []*item
}

func (c *clientStructs) state() uint64 {
	if n := len(c.structs); n > 0 {
		last := c.structs[n-1]
		return last.id.Clock + uint64(last.length)
	}
	return 0
}

// structStore maps clients to their structs. The most recently used client
// is cached because updates touch one or two clients at a time.
type structStore struct {
	clients map[uint64]*clientStructs
	last    *clientStructs
}

func (s *structStore) get(client uint64) *clientStructs {
	if s.last != nil && s.last.client == client {
		return s.last
	}
	c := s.clients[client]
	if c != nil {
		s.last = c
	}
	return c
}

func (s *structStore) getOrCreate(client uint64) *clientStructs {
	if c := s.get(client); c != nil {
		return c
	}
	if s.clients == nil {
		s.clients = make(map[uint64]*clientStructs)
	}
	c := &clientStructs{client: client}
	s.clients[client] = c
	s.last = c
	return c
}

func (s *structStore) state(client uint64) uint64 {
	if c := s.get(client); c != nil {
		return c.state()
	}
	return 0
}

// sortedClients returns the client IDs in descending order, the order yjs
// writes them in.
func (s *structStore) sortedClients() []uint64 {
	ids := make([]uint64, 0, len(s.clients))
	for id, c := range s.clients {
		if len(c.structs) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	return ids
}

// findIndex returns the index of the struct containing clock, or -1. The
// first probe guesses the position from the clock, which is exact for
// evenly sized structs.
func findIndex(structs []*item, clock uint64) int {
	left, right := 0, len(structs)-1
	if right < 0 {
		return -1
	}
	mid := structs[right]
	if mid.id.Clock == clock {
		return right
	}
	end := mid.id.Clock + uint64(mid.length)
	if clock >= end {
		return -1
	}
	midIndex := int(float64(clock) / float64(end) * float64(right))
	for left <= right {
		if midIndex < left || midIndex > right {
			midIndex = (left + right) / 2
		}
		mid = structs[midIndex]
		if mid.id.Clock <= clock {
			if clock < mid.id.Clock+uint64(mid.length) {
				return midIndex
			}
			left = midIndex + 1
		} else {
			right = midIndex - 1
		}
		midIndex = (left + right) / 2
	}
	return -1
}

// find returns the struct containing id, or nil.
func (s *structStore) find(id ID) *item {
	c := s.get(id.Client)
	if c == nil {
		return nil
	}
	i := findIndex(c.structs, id.Clock)
	if i < 0 {
		return nil
	}
	return c.structs[i]
}

// insertAt inserts it at index i of the client's structs.
func (c *clientStructs) insertAt(i int, it *item) {
	c.structs = append(c.structs, nil)
	copy(c.structs[i+1:], c.structs[i:])
	c.structs[i] = it
}

// cleanStart returns the struct starting exactly at id, splitting the one
// containing it (GC structs are returned whole).
func (tx *Transaction) cleanStart(id ID) *item {
	c := tx.doc.store.get(id.Client)
	if c == nil {
		return nil
	}
	i := findIndex(c.structs, id.Clock)
	if i < 0 {
		return nil
	}
	it := c.structs[i]
	if it.id.Clock < id.Clock && !it.isGC() {
		it = tx.splitItem(it, int(id.Clock-it.id.Clock))
		c.insertAt(i+1, it)
	}
	return it
}

// cleanEnd returns the struct ending exactly at id, splitting the one
// containing it (GC structs are returned whole).
func (tx *Transaction) cleanEnd(id ID) *item {
	c := tx.doc.store.get(id.Client)
	if c == nil {
		return nil
	}
	i := findIndex(c.structs, id.Clock)
	if i < 0 {
		return nil
	}
	it := c.structs[i]
	if id.Clock != it.id.Clock+uint64(it.length)-1 && !it.isGC() {
		c.insertAt(i+1, tx.splitItem(it, int(id.Clock-it.id.Clock)+1))
	}
	return it
}

// splitItem cuts left at diff and returns the new right half, linked after it.
func (tx *Transaction) splitItem(left *item, diff int) *item {
	right := &item{
		id:          ID{left.id.Client, left.id.Clock + uint64(diff)},
		origin:      ID{left.id.Client, left.id.Clock + uint64(diff) - 1},
		rightOrigin: left.rightOrigin,
		length:      left.length - diff,
		left:        left,
		right:       left.right,
		parent:      left.parent,
		parentSub:   left.parentSub,
		flags:       fOrigin | left.flags&(fRightOrigin|fParentSub|fDeleted|fKeep),
	}
	left.spliceContent(right, diff)
	left.length = diff
	left.right = right
	if right.right != nil {
		right.right.left = right
	}
	tx.mergeStructs = append(tx.mergeStructs, right)
	if right.hasParentSub() && right.right == nil && right.parent != nil {
		right.parent.mp[right.parentSub] = right
	}
	return right
}

// tryMergeWithLefts merges structs[pos] into its left neighbours as far as
// possible and returns how many structs were removed.
func (c *clientStructs) tryMergeWithLefts(pos int) int {
	structs := c.structs
	right := structs[pos]
	left := structs[pos-1]
	i := pos
	for i > 0 {
		if left.deleted() != right.deleted() || (left.kind == kindGC) != (right.kind == kindGC) || !left.mergeWith(right) {
			break
		}
		if right.hasParentSub() && right.parent != nil && right.parent.mp[right.parentSub] == right {
			right.parent.mp[right.parentSub] = left
		}
		i--
		if i == 0 {
			break
		}
		right = left
		left = structs[i-1]
	}
	merged := pos - i
	if merged > 0 {
		copy(structs[pos+1-merged:], structs[pos+1:])
		for k := len(structs) - merged; k < len(structs); k++ {
			structs[k] = nil
		}
		c.structs = structs[:len(structs)-merged]
	}
	return merged
}
