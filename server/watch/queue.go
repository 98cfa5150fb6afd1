package watch

import (
	"container/list"
	"sync"
)

// Event types on the wire.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Synced   = "SYNCED"
	Reset    = "RESET"
	ErrorMsg = "error"
)

// entry is one pending message for a client: an object change (coalescable by key) or a marker
// (SYNCED, RESET, error) that keeps its place in the order.
type entry struct {
	key  string // kind + "\x00" + namespace/name for objects; unique for markers
	kind string
	ns   string
	typ  string
	// o is the object (object entries): its message for typ is encoded once and shared by every
	// stream, whatever type coalescing left. msg is a marker's message.
	o      *object
	msg    []byte
	marker bool
	// withdrawn: a DELETED that takes an object out of the view of a client whose access just
	// ended; sent although the namespace is no longer allowed (it tells nothing new).
	withdrawn bool
}

// message returns the wire message for e.
func (e *entry) message() []byte {
	if e.marker {
		return e.msg
	}
	return e.o.message(e.typ)
}

// queue is a client's pending messages: ordered by first arrival, with at most one entry per
// object. A newer change to an object that is still pending replaces it in place, so a client
// that cannot keep up gets the latest state of each object, and the queue never holds more than
// one entry per object (plus markers).
type queue struct {
	mu    sync.Mutex
	l     *list.List
	byKey map[string]*list.Element
	wake  chan struct{}
}

func newQueue() *queue {
	return &queue{l: list.New(), byKey: map[string]*list.Element{}, wake: make(chan struct{}, 1)}
}

// coalesce merges a pending change of type old with a newer one of type next. keep=false: the
// client never needs to hear of the object (it was added and deleted while pending).
func coalesce(old, next string) (typ string, keep bool) {
	switch {
	case old == Added && next == Modified:
		return Added, true
	case old == Added && next == Deleted:
		return "", false
	case old == Deleted && (next == Added || next == Modified):
		// The client still holds the object from before the delete: replace it.
		return Modified, true
	default:
		return next, true
	}
}

// push adds e, coalescing with a pending entry for the same object.
func (q *queue) push(e *entry) {
	q.mu.Lock()
	if el, ok := q.byKey[e.key]; ok && !e.marker {
		cur := el.Value.(*entry)
		typ, keep := coalesce(cur.typ, e.typ)
		if !keep {
			q.l.Remove(el)
			delete(q.byKey, e.key)
		} else {
			e.typ = typ
			el.Value = e
		}
		q.mu.Unlock()
		return
	}
	if el, ok := q.byKey[e.key]; ok { // a marker with a key (an error): the latest wins, in place
		el.Value = e
		q.mu.Unlock()
		return
	}
	q.byKey[e.key] = q.l.PushBack(e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// front returns the oldest entry without removing it.
func (q *queue) front() (*entry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	el := q.l.Front()
	if el == nil {
		return nil, false
	}
	return el.Value.(*entry), true
}

// take removes the entry for key if it is still e (it may have been coalesced meanwhile, in
// which case the caller sees the newer one on its next look) and, when send is given, only if
// send accepts its message.
func (q *queue) take(key string, send func([]byte) bool) (taken bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.byKey[key]
	if !ok {
		return true // gone already (coalesced away)
	}
	if send != nil && !send(el.Value.(*entry).message()) {
		return false
	}
	q.l.Remove(el)
	delete(q.byKey, key)
	return true
}

// pop removes the entry for key and returns its message.
func (q *queue) pop(key string) ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.byKey[key]
	if !ok {
		return nil, false
	}
	q.l.Remove(el)
	delete(q.byKey, key)
	return el.Value.(*entry).message(), true
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.l.Len()
}
