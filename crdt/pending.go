package crdt

import (
	"container/heap"
	"errors"
	"slices"
	"sort"

	"github.com/yardhq/yard/crdt/lib0"
)

// Pending data: structs whose dependencies have not arrived, and deletions of
// clocks not yet known. yjs keeps them as one merged update, re-applied
// whole whenever anything it waits for may have arrived, and re-applies
// every pending deletion on every update; a peer sending updates that never
// integrate thus costs quadratic time. Here each client's pending structs
// wait, clock-sorted, for exactly the struct their first one depends on
// (indexed by that dependency), and pending deletions are re-applied only
// for clients whose state moved past them. The document reached, the update
// events and the encodings are the same as yjs's for any delivery order:
// every struct integrates as soon as all it depends on has, and YATA places
// it the same whatever the order.

// ErrPendingLimit is returned for an update that would make the document hold
// more pending data than its PendingLimit allows. The document is left
// unchanged.
var ErrPendingLimit = errors.New("crdt: pending data limit reached")

// PendingLimit bounds what a document holds while it waits for missing
// updates. Zero fields do not bound.
type PendingLimit struct {
	// Structs bounds pending structs plus pending deletion ranges.
	Structs int
	// Bytes bounds their size, as PendingBytes counts it.
	Bytes int
}

// ApplyResult says what an update did to a document.
type ApplyResult struct {
	// Integrated: the document changed (structs or deletions were
	// integrated, from the update or from pending data it completed), and
	// OnUpdate observers saw the transaction's update.
	Integrated bool
	// Deferred: structs or deletions of the update were added to the
	// pending data, waiting for updates the document has not seen.
	Deferred bool
}

// Approximate sizes of pending data: a struct's bookkeeping, a deletion
// range.
const (
	pendingStructOverhead = 48
	pendingRangeBytes     = 16
)

// pendingStructs holds the structs waiting for missing dependencies.
type pendingStructs struct {
	clients map[uint64]*pendingClient
	waits   map[uint64]*waitHeap // dependency client -> who waits for which of its clocks
	nWaits  int                  // entries in waits, stale ones included
	structs int
	bytes   int
}

// pendingClient is one client's pending structs, sorted by clock, none
// covered by another. Only the first can be next to integrate: it waits
// until state(waitFor) > waitClock.
type pendingClient struct {
	client             uint64
	refs               []*item
	waitFor, waitClock uint64
	indexed            bool // waits holds an entry for (waitFor, waitClock)
}

type waitEntry struct {
	clock uint64
	p     *pendingClient
}

// waitHeap orders waiting clients by the clock they wait for.
type waitHeap []waitEntry

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].clock < h[j].clock }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waitEntry)) }
func (h *waitHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = waitEntry{}
	*h = old[:len(old)-1]
	return e
}

// pendingDeletes holds the deletion ranges beyond the known state, per client
// sorted and merged.
type pendingDeletes struct {
	clients map[uint64][]dsRange
	ranges  int
}

// refBytes approximates what a pending struct holds.
func refBytes(it *item) int {
	n := pendingStructOverhead + len(it.str) + len(it.parentSub)
	if x := it.ext; x != nil {
		n += len(x.key) + len(x.parentName)
		if x.typ != nil {
			n += len(x.typ.nodeName)
		}
		for _, v := range x.vals {
			n += valueBytes(v)
		}
	}
	return n
}

func valueBytes(v any) int {
	switch t := v.(type) {
	case string:
		return 8 + len(t)
	case []byte:
		return 8 + len(t)
	case lib0.Object:
		n := 8
		for _, f := range t {
			n += len(f.Key) + valueBytes(f.Value)
		}
		return n
	case []any:
		n := 8
		for _, e := range t {
			n += valueBytes(e)
		}
		return n
	}
	return 8
}

// covered reports whether a struct of the same client already pending holds
// all of it, and where it would be inserted.
func (pc *pendingClient) covered(it *item) (int, bool) {
	refs := pc.refs
	i := sort.Search(len(refs), func(i int) bool { return refs[i].id.Clock > it.id.Clock })
	if i > 0 {
		prev := refs[i-1]
		if prev.id.Clock+uint64(prev.length) >= it.id.Clock+uint64(it.length) {
			return i, true
		}
	}
	return i, false
}

// add makes the leftover of an update pending and returns how many structs
// it added and the clients whose first struct is ready to integrate already.
func (p *pendingStructs) add(d *Doc, rest []clientRefs, ready []*pendingClient) (int, []*pendingClient) {
	added := 0
	for _, cr := range rest {
		pc := p.clients[cr.client]
		fresh := pc == nil
		if fresh {
			if p.clients == nil {
				p.clients = make(map[uint64]*pendingClient)
			}
			pc = &pendingClient{client: cr.client}
		}
		var first *item
		if !fresh {
			first = pc.refs[0]
		}
		for _, it := range cr.refs {
			if it.isSkip() {
				continue
			}
			i, dup := pc.covered(it)
			if dup {
				continue
			}
			pc.refs = slices.Insert(pc.refs, i, it)
			p.structs++
			p.bytes += refBytes(it)
			added++
		}
		if len(pc.refs) == 0 {
			continue
		}
		if fresh {
			p.clients[cr.client] = pc
		}
		if fresh || pc.refs[0] != first {
			if p.rewait(d, pc) {
				ready = append(ready, pc)
			}
		}
	}
	return added, ready
}

// rewait indexes pc under what its first struct waits for, or reports that it
// waits for nothing.
func (p *pendingStructs) rewait(d *Doc, pc *pendingClient) (ready bool) {
	h := pc.refs[0]
	st := d.store.state(pc.client)
	switch {
	case h.id.Clock+uint64(h.length) <= st:
		return true
	case h.id.Clock > st:
		p.wait(pc, pc.client, h.id.Clock-1)
	default:
		client, clock, missing := missingDependency(h, d.store.state)
		if !missing {
			return true
		}
		p.wait(pc, client, clock)
	}
	return false
}

func (p *pendingStructs) wait(pc *pendingClient, client, clock uint64) {
	if pc.indexed && pc.waitFor == client && pc.waitClock == clock {
		return // one entry per client, or the index grows with every change of its first struct
	}
	pc.waitFor, pc.waitClock, pc.indexed = client, clock, true
	if p.waits == nil {
		p.waits = make(map[uint64]*waitHeap)
	}
	h := p.waits[client]
	if h == nil {
		h = &waitHeap{}
		p.waits[client] = h
	}
	heap.Push(h, waitEntry{clock, pc})
	p.nWaits++
	if p.nWaits > 2*len(p.clients)+64 {
		p.compactWaits()
	}
}

// compactWaits drops index entries left behind when a client's first struct
// changed.
func (p *pendingStructs) compactWaits() {
	n := 0
	for client, h := range p.waits {
		live := (*h)[:0]
		for _, e := range *h {
			if p.live(e, client) {
				live = append(live, e)
			}
		}
		clear((*h)[len(live):])
		*h = live
		heap.Init(h)
		if len(live) == 0 {
			delete(p.waits, client)
		}
		n += len(live)
	}
	p.nWaits = n
}

func (p *pendingStructs) live(e waitEntry, client uint64) bool {
	pc := e.p
	return p.clients[pc.client] == pc && pc.waitFor == client && pc.waitClock == e.clock
}

// retryPending integrates the pending structs that the states of the given
// clients (which moved) or ready make possible, and whatever that in turn
// makes possible.
func (tx *Transaction) retryPending(moved []uint64, ready []*pendingClient) {
	d := tx.doc
	p := &d.pend
	queue := moved
	for _, pc := range ready {
		if tx.retryClient(pc) {
			queue = append(queue, pc.client)
		}
	}
	for len(queue) > 0 && p.structs > 0 {
		x := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		// The client's own first struct may be known now (delivered by
		// another update): drop it, as a yjs retry would.
		if pc := p.clients[x]; pc != nil && pc.waitFor != x && pc.refs[0].id.Clock+uint64(pc.refs[0].length) <= d.store.state(x) {
			tx.retryClient(pc)
		}
		st := d.store.state(x)
		h := p.waits[x]
		for h != nil && h.Len() > 0 && (*h)[0].clock < st {
			e := heap.Pop(h).(waitEntry)
			p.nWaits--
			if !p.live(e, x) {
				continue
			}
			e.p.indexed = false
			if tx.retryClient(e.p) {
				queue = append(queue, e.p.client)
			}
		}
		// (compactWaits may have replaced the heap meanwhile.)
		if h != nil && h.Len() == 0 && p.waits[x] == h {
			delete(p.waits, x)
		}
	}
}

// retryClient integrates pc's structs from the first on while they can be,
// and reports whether any was.
func (tx *Transaction) retryClient(pc *pendingClient) (progressed bool) {
	d := tx.doc
	p := &d.pend
	if p.clients[pc.client] != pc {
		return false // integrated already
	}
	for len(pc.refs) > 0 {
		it := pc.refs[0]
		st := d.store.state(pc.client)
		if it.id.Clock > st {
			p.wait(pc, pc.client, it.id.Clock-1)
			return progressed
		}
		known := it.id.Clock+uint64(it.length) <= st
		if !known {
			if client, clock, missing := missingDependency(it, d.store.state); missing {
				p.wait(pc, client, clock)
				return progressed
			}
		}
		p.structs--
		p.bytes -= refBytes(it)
		pc.refs[0] = nil
		pc.refs = pc.refs[1:]
		if known {
			continue
		}
		if client, missing := tx.getMissing(it); missing {
			// Unreachable: missingDependency checked every reference.
			pc.refs = slices.Insert(pc.refs, 0, it)
			p.structs++
			p.bytes += refBytes(it)
			p.wait(pc, client, d.store.state(client))
			return progressed
		}
		tx.integrate(it, int(st-it.id.Clock))
		progressed = true
	}
	delete(p.clients, pc.client)
	pc.indexed = false
	return progressed
}

// add makes the ranges of ds pending and returns for how many clients that
// added anything.
func (p *pendingDeletes) add(ds *deleteSet) int {
	added := 0
	for _, cr := range ds.clients {
		if len(cr.ranges) == 0 {
			continue
		}
		if p.clients == nil {
			p.clients = make(map[uint64][]dsRange)
		}
		old := p.clients[cr.client]
		merged := mergeRanges(old, cr.ranges)
		if !slices.Equal(merged, old) {
			added++
		}
		p.ranges += len(merged) - len(old)
		p.clients[cr.client] = merged
	}
	return added
}

// mergeRanges unions two sorted, merged range lists.
func mergeRanges(a, b []dsRange) []dsRange {
	ds := deleteSet{clients: []clientRanges{{ranges: append(append(make([]dsRange, 0, len(a)+len(b)), a...), b...)}}}
	ds.sortAndMerge()
	return ds.clients[0].ranges
}

// retryPendingDeletes applies the pending deletions of the given clients
// that their states now reach.
func (tx *Transaction) retryPendingDeletes(clients []uint64) {
	p := &tx.doc.pendDS
	for _, client := range clients {
		rs := p.clients[client]
		if len(rs) == 0 || rs[0].clock >= tx.doc.store.state(client) {
			continue
		}
		delete(p.clients, client)
		p.ranges -= len(rs)
		rest := tx.applyDeleteSet(&deleteSet{clients: []clientRanges{{client, rs}}})
		p.add(&rest)
	}
}

// deleteSet returns the pending deletions, clients descending.
func (p *pendingDeletes) deleteSet() deleteSet {
	var ds deleteSet
	for client, rs := range p.clients {
		ds.clients = append(ds.clients, clientRanges{client, append([]dsRange(nil), rs...)})
	}
	sort.Slice(ds.clients, func(i, j int) bool { return ds.clients[i].client > ds.clients[j].client })
	return ds
}

// clientRefs returns the pending structs per client.
func (p *pendingStructs) clientRefs() []clientRefs {
	out := make([]clientRefs, 0, len(p.clients))
	for _, pc := range p.clients {
		out = append(out, clientRefs{pc.client, pc.refs})
	}
	return out
}

// checkPendingLimit refuses an update that would take the pending data over
// the limit: what a dry run of its structs leaves over (less what is pending
// already) and its deletions beyond the states that run reaches. Pending
// data the update completes is not subtracted, so the check errs on the
// side of refusing only when the update itself brings what cannot integrate.
func (d *Doc) checkPendingLimit(u *decodedUpdate) error {
	if d.limit.Structs <= 0 && d.limit.Bytes <= 0 {
		return nil
	}
	// Most updates cannot reach the limit even if nothing of them
	// integrated: skip the dry run for them.
	structs, bytes := 0, 0
	for _, cr := range u.clients {
		for _, it := range cr.refs {
			if !it.isSkip() {
				structs++
				bytes += refBytes(it)
			}
		}
	}
	for _, cr := range u.ds.clients {
		structs += len(cr.ranges)
		bytes += len(cr.ranges) * pendingRangeBytes
	}
	if !d.overLimit(structs, bytes) {
		return nil
	}
	dry := Transaction{doc: d}
	rest := dry.integrateStructs(u.clients, true)
	structs, bytes = 0, 0
	final := map[uint64]uint64{}
	for _, cr := range rest {
		pc := d.pend.clients[cr.client]
		for _, it := range cr.refs {
			if it.isSkip() {
				continue
			}
			if pc != nil {
				if _, dup := pc.covered(it); dup {
					continue
				}
			}
			structs++
			bytes += refBytes(it)
		}
	}
	// States the update reaches: its structs before the first left over.
	firstLeft := make(map[uint64]uint64, len(rest))
	for _, cr := range rest {
		firstLeft[cr.client] = cr.refs[0].id.Clock
	}
	for _, cr := range u.clients {
		st := d.store.state(cr.client)
		stop, stops := firstLeft[cr.client]
		for _, it := range cr.refs {
			if stops && it.id.Clock >= stop {
				break
			}
			if !it.isSkip() && it.id.Clock <= st {
				st = max(st, it.id.Clock+uint64(it.length))
			}
		}
		final[cr.client] = st
	}
	for _, cr := range u.ds.clients {
		st, ok := final[cr.client]
		if !ok {
			st = d.store.state(cr.client)
		}
		for _, r := range cr.ranges {
			if r.clock+r.len > st {
				structs++
				bytes += pendingRangeBytes
			}
		}
	}
	if structs > 0 && d.overLimit(structs, bytes) {
		return ErrPendingLimit
	}
	return nil
}

// overLimit reports whether adding structs (and ranges) of bytes to the
// pending data would exceed the limit.
func (d *Doc) overLimit(structs, bytes int) bool {
	l := d.limit
	return (l.Structs > 0 && d.pend.structs+d.pendDS.ranges+structs > l.Structs) ||
		(l.Bytes > 0 && d.PendingBytes()+bytes > l.Bytes)
}
