package crdt

import "sort"

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
