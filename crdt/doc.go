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
//     are retried when they arrive (and relayed by EncodeStateAsUpdate, not
//     by EncodeIntegrated), indexed by what they wait for and bounded by
//     Options.PendingLimit (pending.go).
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
//
// The files follow yjs's and yrs's layout, so a reader who knows either
// finds each piece where they expect it:
//
//   - doc.go, transaction.go (Doc, Transaction and its end-of-transaction
//     cleanup), gc.go (garbage collection of deleted content);
//   - store.go, item.go, branch.go, deleteset.go: the struct store, items,
//     the state every shared type shares, delete sets;
//   - map.go, array.go, text.go, xml.go: one file per shared type;
//   - integrate.go (YATA), encoding.go (applying updates, encoding state),
//     pending.go (what waits for missing updates),
//     merge.go (updates merged, diffed and converted without a document);
//   - encoder.go and decoder.go hold the v1 and v2 formats side by side, as
//     yjs's UpdateEncoder.js/UpdateDecoder.js and yrs's encoder.rs/decoder.rs
//     do: the two formats implement one interface field by field, and
//     reading them next to each other is how a difference is spotted;
//     update.go reads and writes structs through that interface.
package crdt

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/yardhq/yard/crdt/lib0"
)

// Doc is a Yjs document.
type Doc struct {
	clientID uint64
	gc       bool
	store    structStore
	share    map[string]*branch
	order    []string // root names in creation order (doc.toJSON order)
	pend     pendingStructs
	pendDS   pendingDeletes
	limit    PendingLimit
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
	// PendingLimit bounds the structs and deletions the document holds
	// while they wait for missing updates; the zero value does not bound
	// them (as yjs). An update that would exceed it is refused with
	// ErrPendingLimit.
	PendingLimit PendingLimit
}

// ErrInvalidOptions is wrapped by Options.Validate errors.
var ErrInvalidOptions = errors.New("crdt: invalid options")

// Validate checks that the options describe a document JavaScript peers can
// read.
func (o Options) Validate() error {
	if o.ClientID > lib0.MaxSafeInteger {
		return fmt.Errorf("%w: client ID %d is above 2^53-1", ErrInvalidOptions, o.ClientID)
	}
	if o.PendingLimit.Structs < 0 || o.PendingLimit.Bytes < 0 {
		return fmt.Errorf("%w: negative pending limit", ErrInvalidOptions)
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
	d := &Doc{clientID: o.ClientID, gc: !o.DisableGC, share: map[string]*branch{}, limit: o.PendingLimit}
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
