// Package crdt is a Yjs 13.6-compatible CRDT document engine in pure Go.
//
// A Doc holds the same structures as a yjs Y.Doc, so it exchanges updates
// byte-compatibly with yjs peers (v1 on the wire, v2 for compact storage)
// and encodes documents to the same bytes yjs does:
//
//   - the struct store: per client, a clock-sorted slice of items with no
//     gaps, searched by binary search (findIndex);
//   - items linked into their parent type's list (YATA, integrate.go) or
//     map chain, split when an edit lands inside one and merged back after
//     each transaction, as yjs does, so documents stay as compact as yjs's;
//   - delete sets, garbage collection of deleted content (content becomes
//     ContentDeleted; the children of deleted types become GC structs);
//   - pending structs and deletions that wait for missing dependencies and
//     are retried when they arrive (and relayed by EncodeStateAsUpdate).
//
// An update is decoded and validated completely before anything is
// integrated, so a malformed update changes nothing. Root Map, Array and
// Text types, nested types, and read access to XML types are available
// from Go; writes happen inside Doc.Transact, and OnUpdate observers get
// the v1 update each transaction produced.
//
// Values read from a document (Get, ToJSON) share memory with it: treat
// them as read-only. A Doc is not safe for concurrent use; callers
// serialize access (one goroutine or a mutex per document).
package crdt

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/yardhq/yard/crdt/lib0"
)

// Doc is a Yjs document.
type Doc struct {
	clientID uint64
	gc       bool
	store    structStore
	share    map[string]*branch
	order    []string // root names in creation order (doc.toJSON order)
	pending  *pendingStructs
	pendDS   deleteSet
	tx       *Transaction
	updateFn []updateObserver
	nextObs  int

	// Reused scratch space for integration.
	scratchBefore   []*item
	scratchConflict []*item
	scratchDec      v1Decoder
	scratchUpdate   decodedUpdate
	scratchCursors  []refCursor
	scratchStack    []stackEntry
	txBuf           Transaction
	conflictSets    struct{ before, conflicting map[*item]struct{} }
}

type updateObserver struct {
	id int
	fn func([]byte)
}

// Options configures a document. The zero value gives a random client ID
// and garbage collection on, like a yjs server document.
type Options struct {
	// ClientID is this replica's client ID; 0 picks a random one below 2^32.
	// It must be below 2^53 for JavaScript peers to read it.
	ClientID uint64
	// DisableGC keeps deleted content (needed only for snapshots/history).
	DisableGC bool
}

// ErrInvalidOptions is wrapped by Options.Validate errors.
var ErrInvalidOptions = errors.New("crdt: invalid options")

// Validate checks that the options describe a document JavaScript peers can
// read.
func (o Options) Validate() error {
	if o.ClientID > lib0.MaxSafeInteger {
		return fmt.Errorf("%w: client ID %d is above 2^53-1", ErrInvalidOptions, o.ClientID)
	}
	return nil
}

// NewDoc returns an empty document with a random client ID below 2^32.
func NewDoc() *Doc { return NewDocWithOptions(Options{}) }

// NewDocWithClientID returns an empty document writing as client id.
func NewDocWithClientID(id uint64) *Doc { return NewDocWithOptions(Options{ClientID: id}) }

// NewDocWithOptions returns an empty document configured by o, which should
// pass Validate.
func NewDocWithOptions(o Options) *Doc {
	d := &Doc{clientID: o.ClientID, gc: !o.DisableGC, share: map[string]*branch{}}
	if d.clientID == 0 {
		d.clientID = randomClientID()
	}
	return d
}

func randomClientID() uint64 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return uint64(binary.LittleEndian.Uint32(b[:]))
}

// ClientID returns the client ID local writes are made with.
func (d *Doc) ClientID() uint64 { return d.clientID }

// OnUpdate registers fn to receive the v1 update of every transaction that
// changed the document (local writes and applied remote updates alike, as
// yjs's 'update' event). The returned function unregisters it.
func (d *Doc) OnUpdate(fn func(update []byte)) (cancel func()) {
	d.nextObs++
	id := d.nextObs
	d.updateFn = append(d.updateFn, updateObserver{id, fn})
	return func() {
		for i, o := range d.updateFn {
			if o.id == id {
				d.updateFn = append(d.updateFn[:i:i], d.updateFn[i+1:]...)
				return
			}
		}
	}
}

// Transaction groups changes; observers see one update per transaction.
type Transaction struct {
	doc          *Doc
	local        bool
	before       []clientClock  // state before the transaction of every client it added structs to
	beforeIdx    map[uint64]int // index into before, once it is long
	ds           deleteSet      // what this transaction deleted
	mergeStructs []*item
}

type clientClock struct {
	client uint64
	clock  uint64
}

// beforeState returns the client's clock when the transaction started.
func (tx *Transaction) beforeState(client uint64) uint64 {
	if i := tx.beforeIndex(client); i >= 0 {
		return tx.before[i].clock
	}
	return tx.doc.store.state(client)
}

func (tx *Transaction) beforeIndex(client uint64) int {
	if tx.beforeIdx != nil {
		if i, ok := tx.beforeIdx[client]; ok {
			return i
		}
		return -1
	}
	for i, b := range tx.before {
		if b.client == client {
			return i
		}
	}
	return -1
}

// noteClient records the client's state before the transaction adds to it.
func (tx *Transaction) noteClient(client uint64, state uint64) {
	if tx.beforeIndex(client) >= 0 {
		return
	}
	tx.before = append(tx.before, clientClock{client, state})
	if tx.beforeIdx != nil {
		tx.beforeIdx[client] = len(tx.before) - 1
	} else if len(tx.before) > 16 {
		tx.beforeIdx = make(map[uint64]int, len(tx.before))
		for i, b := range tx.before {
			tx.beforeIdx[b.client] = i
		}
	}
}

// Transact runs fn in a transaction. Writes made through tx are emitted as
// one update to OnUpdate observers when fn returns. Nested calls join the
// outer transaction. tx is valid only while fn runs.
func (d *Doc) Transact(fn func(tx *Transaction)) {
	d.transact(true, fn)
}

func (d *Doc) transact(local bool, fn func(tx *Transaction)) {
	if d.tx != nil {
		fn(d.tx)
		return
	}
	tx := &d.txBuf
	tx.reset(d, local)
	d.tx = tx
	defer func() { d.tx = nil }()
	fn(tx)
	d.cleanup(tx)
}

// reset readies a reused transaction.
func (tx *Transaction) reset(d *Doc, local bool) {
	tx.doc = d
	tx.local = local
	tx.before = tx.before[:0]
	tx.beforeIdx = nil
	for i := range tx.ds.clients {
		tx.ds.clients[i].ranges = tx.ds.clients[i].ranges[:0]
	}
	tx.ds.clients = tx.ds.clients[:0]
	tx.ds.idx = nil
	clear(tx.mergeStructs)
	tx.mergeStructs = tx.mergeStructs[:0]
}

// cleanup runs the end-of-transaction work yjs does: garbage-collect what
// was deleted, merge structs back together, then emit the update.
func (d *Doc) cleanup(tx *Transaction) {
	tx.ds.sortAndMerge()
	store := &d.store
	if d.gc {
		d.tryGCDeleteSet(&tx.ds)
	}
	d.tryMergeDeleteSet(&tx.ds)
	for _, b := range tx.before {
		c := store.get(b.client)
		if c == nil || c.state() == b.clock {
			continue
		}
		first := findIndex(c.structs, b.clock)
		if first < 1 {
			first = 1
		}
		for i := len(c.structs) - 1; i >= first; {
			i -= 1 + c.tryMergeWithLefts(i)
		}
	}
	for i := len(tx.mergeStructs) - 1; i >= 0; i-- {
		id := tx.mergeStructs[i].id
		c := store.get(id.Client)
		if c == nil {
			continue
		}
		pos := findIndex(c.structs, id.Clock)
		if pos < 0 {
			continue
		}
		if pos+1 < len(c.structs) {
			if c.tryMergeWithLefts(pos+1) > 1 {
				continue
			}
		}
		if pos > 0 {
			c.tryMergeWithLefts(pos)
		}
	}
	if !tx.local {
		// Someone else wrote with our client ID: pick a new one, as yjs does.
		for _, b := range tx.before {
			if b.client == d.clientID && store.state(b.client) != b.clock {
				d.clientID = randomClientID()
				break
			}
		}
	}
	if len(d.updateFn) > 0 && (len(tx.ds.clients) > 0 || tx.changedStructs()) {
		u := d.encodeTransaction(tx, newV1Encoder())
		// Observers may start new transactions.
		d.tx = nil
		obs := append([]updateObserver(nil), d.updateFn...)
		for _, o := range obs {
			o.fn(u)
		}
	}
}

func (tx *Transaction) changedStructs() bool {
	for _, b := range tx.before {
		if tx.doc.store.state(b.client) != b.clock {
			return true
		}
	}
	return false
}

// encodeTransaction writes the structs added since the transaction began
// and the transaction's delete set.
func (d *Doc) encodeTransaction(tx *Transaction, enc updateEncoder) []byte {
	var sv []clientClock
	for _, b := range tx.before {
		if d.store.state(b.client) > b.clock {
			sv = append(sv, b)
		}
	}
	sort.Slice(sv, func(i, j int) bool { return sv[i].client > sv[j].client })
	enc.rest().WriteVarUint(uint64(len(sv)))
	for _, b := range sv {
		writeStructs(enc, d.store.get(b.client), b.clock)
	}
	tx.ds.write(enc)
	return enc.toBytes()
}

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

func (d *Doc) tryMergeDeleteSet(ds *deleteSet) {
	for ci := range ds.clients {
		cr := &ds.clients[ci]
		c := d.store.get(cr.client)
		if c == nil {
			continue
		}
		for di := len(cr.ranges) - 1; di >= 0; di-- {
			r := cr.ranges[di]
			last := findIndex(c.structs, r.clock+r.len-1)
			if last < 0 {
				continue
			}
			si := last + 1
			if si > len(c.structs)-1 {
				si = len(c.structs) - 1
			}
			for si > 0 && c.structs[si].id.Clock >= r.clock {
				si -= 1 + c.tryMergeWithLefts(si)
			}
		}
	}
}

// Doc returns the document the transaction belongs to.
func (tx *Transaction) Doc() *Doc { return tx.doc }
