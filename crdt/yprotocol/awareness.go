package yprotocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

// OutdatedTimeout is how long a remote awareness state lives without being renewed; peers renew
// theirs every OutdatedTimeout/2.
const OutdatedTimeout = 30 * time.Second

// CheckInterval is how often y-protocols looks for outdated states; callers of Awareness.Tick
// use it for their ticker.
const CheckInterval = OutdatedTimeout / 10

// nullState is how a removed state travels.
var nullState = json.RawMessage("null")

// AwarenessEntry is one client's state in an awareness update. State is the JSON text exactly as
// the client sent it (re-serializing could reorder keys); "null" means the client is gone.
type AwarenessEntry struct {
	ClientID uint64
	Clock    uint64
	State    json.RawMessage
}

// IsRemoval reports whether the entry removes the client's state.
func (e AwarenessEntry) IsRemoval() bool { return isNull(e.State) }

// AwarenessUpdate is the payload of a MessageAwareness.
type AwarenessUpdate struct {
	Clients []AwarenessEntry
}

// Encode returns the update's bytes; an entry with no State is encoded as a removal.
func (u AwarenessUpdate) Encode() []byte {
	var e lib0.Encoder
	e.WriteVarUint(uint64(len(u.Clients)))
	for _, c := range u.Clients {
		e.WriteVarUint(c.ClientID)
		e.WriteVarUint(c.Clock)
		state := c.State
		if len(state) == 0 {
			state = nullState
		}
		e.WriteVarUint8Array(state) // a varString is a varUint8Array of its UTF-8 bytes
	}
	return e.Bytes()
}

// minEntrySize is the fewest bytes one entry can take (three one-byte fields), which bounds how
// many entries an input can justify before any is read.
const minEntrySize = 3

// DecodeAwarenessUpdate decodes an awareness update. Every state must be JSON text (y-protocols
// peers JSON.parse it) and every id and clock a safe JS integer; otherwise nothing is returned.
func DecodeAwarenessUpdate(b []byte) (AwarenessUpdate, error) {
	d := lib0.NewDecoder(b)
	n, err := d.ReadVarUint()
	if err != nil {
		return AwarenessUpdate{}, errorf(CodeMalformed, "awareness client count: %w", err)
	}
	if n > uint64(d.Remaining()/minEntrySize) {
		return AwarenessUpdate{}, errorf(CodeMalformed, "awareness update claims %d clients in %d bytes", n, d.Remaining())
	}
	u := AwarenessUpdate{Clients: make([]AwarenessEntry, 0, n)}
	for i := uint64(0); i < n; i++ {
		var c AwarenessEntry
		if c.ClientID, err = d.ReadVarUint(); err != nil {
			return AwarenessUpdate{}, errorf(CodeMalformed, "awareness client %d id: %w", i, err)
		}
		if c.Clock, err = d.ReadVarUint(); err != nil {
			return AwarenessUpdate{}, errorf(CodeMalformed, "awareness client %d clock: %w", i, err)
		}
		if c.ClientID > maxSafeInteger || c.Clock > maxSafeInteger {
			return AwarenessUpdate{}, errorf(CodeMalformed, "awareness client %d: id or clock above 2^53-1", i)
		}
		state, err := d.ReadVarUint8Array()
		if err != nil {
			return AwarenessUpdate{}, errorf(CodeMalformed, "awareness client %d state: %w", i, err)
		}
		if err := validState(state); err != nil {
			return AwarenessUpdate{}, err
		}
		c.State = state
		u.Clients = append(u.Clients, c)
	}
	return u, nil
}

func validState(state []byte) error {
	if !utf8.Valid(state) || !json.Valid(state) {
		return errorf(CodeInvalidState, "awareness state is not JSON text")
	}
	return nil
}

func isNull(state json.RawMessage) bool {
	return len(state) == 0 || bytes.Equal(bytes.Trim(state, " \t\r\n"), nullState)
}

// sameState is lib0's equalityDeep on the parsed states: key order and number spelling do not
// matter, so a renewal with re-serialized content is not reported as a change.
func sameState(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// Change lists the clients an operation touched, in the order y-protocols reports them.
type Change struct {
	Added   []uint64
	Updated []uint64 // every accepted state, renewals with equal content included
	Changed []uint64 // the subset of Updated whose content differs
	Removed []uint64
}

// IsUpdate reports whether y-protocols would emit 'update': something was accepted. A server
// broadcasts the states of Clients() then (renewals included, which keeps lone clients' sockets
// busy).
func (c Change) IsUpdate() bool { return len(c.Added)+len(c.Updated)+len(c.Removed) > 0 }

// IsChange reports whether y-protocols would emit 'change': a state was added, removed or changed.
func (c Change) IsChange() bool { return len(c.Added)+len(c.Changed)+len(c.Removed) > 0 }

// Clients returns the added, updated and removed clients: the ones to broadcast.
func (c Change) Clients() []uint64 {
	out := make([]uint64, 0, len(c.Added)+len(c.Updated)+len(c.Removed))
	out = append(out, c.Added...)
	out = append(out, c.Updated...)
	return append(out, c.Removed...)
}

type clientMeta struct {
	clock       uint64
	lastUpdated time.Time
}

// Awareness tracks the awareness states of one document's peers the way a y-protocols Awareness
// does: a state is accepted when its clock is higher than the known one, or when it is a removal
// at the same clock; the entry for a client that left keeps its clock so late messages stay
// ignored. It starts no goroutine: the owner calls Tick every CheckInterval. Safe for concurrent
// use.
type Awareness struct {
	mu       sync.Mutex
	clientID uint64
	now      func() time.Time
	states   map[uint64]json.RawMessage
	meta     map[uint64]clientMeta
}

// NewAwareness returns the awareness of the local client clientID, reading time from now
// (time.Now when nil). Like y-protocols, the local state starts as {} at clock 0; a server,
// which has no presence of its own, calls SetLocalState(nil).
func NewAwareness(clientID uint64, now func() time.Time) *Awareness {
	if now == nil {
		now = time.Now
	}
	a := &Awareness{
		clientID: clientID,
		now:      now,
		states:   map[uint64]json.RawMessage{},
		meta:     map[uint64]clientMeta{},
	}
	a.states[clientID] = json.RawMessage("{}")
	a.meta[clientID] = clientMeta{clock: 0, lastUpdated: now()}
	return a
}

// ClientID returns the local client's id.
func (a *Awareness) ClientID() uint64 { return a.clientID }

// LocalState returns the local client's state, nil when it has none.
func (a *Awareness) LocalState() json.RawMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.states[a.clientID]
}

// State returns one client's state.
func (a *Awareness) State(clientID uint64) (json.RawMessage, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.states[clientID]
	return s, ok
}

// Clock returns the last clock seen for a client, including clients whose state was removed.
func (a *Awareness) Clock(clientID uint64) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.meta[clientID]
	return m.clock, ok
}

// States returns a copy of every present state by client id.
func (a *Awareness) States() map[uint64]json.RawMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[uint64]json.RawMessage, len(a.states))
	for id, s := range a.states {
		out[id] = s
	}
	return out
}

// SetLocalState replaces the local state (nil or "null" removes it) and bumps the local clock.
func (a *Awareness) SetLocalState(state json.RawMessage) (Change, error) {
	if !isNull(state) {
		if err := validState(state); err != nil {
			return Change{}, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.setLocalLocked(state), nil
}

func (a *Awareness) setLocalLocked(state json.RawMessage) Change {
	id := a.clientID
	clock := uint64(0)
	if m, ok := a.meta[id]; ok {
		clock = m.clock + 1
	}
	prev, had := a.states[id]
	if isNull(state) {
		delete(a.states, id)
	} else {
		a.states[id] = state
	}
	a.meta[id] = clientMeta{clock: clock, lastUpdated: a.now()}
	var ch Change
	switch {
	case isNull(state):
		ch.Removed = []uint64{id}
	case !had:
		ch.Added = []uint64{id}
	default:
		ch.Updated = []uint64{id}
		if !sameState(prev, state) {
			ch.Changed = []uint64{id}
		}
	}
	return ch
}

// ApplyUpdate decodes an encoded awareness update and applies it; undecodable input changes
// nothing.
func (a *Awareness) ApplyUpdate(update []byte) (Change, error) {
	u, err := DecodeAwarenessUpdate(update)
	if err != nil {
		return Change{}, err
	}
	return a.Apply(u), nil
}

// Apply applies a decoded awareness update with y-protocols' rules. A removal of the local
// client while it still has a state is refused: the local clock jumps past the removal's so the
// next broadcast of the local state wins (the change reports the client as removed, as
// y-protocols does, which makes a server broadcast exactly that).
func (a *Awareness) Apply(u AwarenessUpdate) Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var ch Change
	for _, c := range u.Clients {
		meta, known := a.meta[c.ClientID]
		prev, present := a.states[c.ClientID]
		removal := isNull(c.State)
		if !(meta.clock < c.Clock || (meta.clock == c.Clock && removal && present)) {
			continue
		}
		clock := c.Clock
		if removal {
			if c.ClientID == a.clientID && present {
				clock++
			} else {
				delete(a.states, c.ClientID)
			}
		} else {
			a.states[c.ClientID] = c.State
		}
		a.meta[c.ClientID] = clientMeta{clock: clock, lastUpdated: now}
		switch {
		case !known && !removal:
			ch.Added = append(ch.Added, c.ClientID)
		case known && removal:
			ch.Removed = append(ch.Removed, c.ClientID)
		case !removal:
			if !present || !sameState(c.State, prev) {
				ch.Changed = append(ch.Changed, c.ClientID)
			}
			ch.Updated = append(ch.Updated, c.ClientID)
		}
	}
	return ch
}

// Remove drops the states of clients (for a server: the ones a closed connection controlled).
// Their clocks stay, so broadcasting EncodeUpdate(change.Removed) sends null at the same clock,
// which y-protocols peers accept as a removal. Removing the local client bumps its clock.
func (a *Awareness) Remove(clients []uint64) Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.removeLocked(clients)
}

func (a *Awareness) removeLocked(clients []uint64) Change {
	var ch Change
	for _, id := range clients {
		if _, ok := a.states[id]; !ok {
			continue
		}
		delete(a.states, id)
		if id == a.clientID {
			m := a.meta[id]
			a.meta[id] = clientMeta{clock: m.clock + 1, lastUpdated: a.now()}
		}
		ch.Removed = append(ch.Removed, id)
	}
	return ch
}

// EncodeUpdate encodes the current state (or a removal) and clock of each client. Clients never
// seen are left out.
func (a *Awareness) EncodeUpdate(clients []uint64) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := AwarenessUpdate{Clients: make([]AwarenessEntry, 0, len(clients))}
	for _, id := range clients {
		m, ok := a.meta[id]
		if !ok {
			continue
		}
		u.Clients = append(u.Clients, AwarenessEntry{ClientID: id, Clock: m.clock, State: a.states[id]})
	}
	return u.Encode()
}

// EncodeAll encodes every present state: the answer to a query-awareness message and what a
// server sends a new connection. ok is false when there is nothing to send.
func (a *Awareness) EncodeAll() (update []byte, ok bool) {
	a.mu.Lock()
	ids := make([]uint64, 0, len(a.states))
	for id := range a.states {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil, false
	}
	return a.EncodeUpdate(ids), true
}

// Tick does the periodic work of a y-protocols Awareness, meant to run every CheckInterval: it
// renews the local state once half the timeout has passed since it was last set (renewed), and
// removes remote states not updated for OutdatedTimeout (expired).
func (a *Awareness) Tick() (renewed, expired Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if local, ok := a.states[a.clientID]; ok && now.Sub(a.meta[a.clientID].lastUpdated) >= OutdatedTimeout/2 {
		renewed = a.setLocalLocked(local)
	}
	var outdated []uint64
	for id, m := range a.meta {
		if _, present := a.states[id]; present && id != a.clientID && now.Sub(m.lastUpdated) >= OutdatedTimeout {
			outdated = append(outdated, id)
		}
	}
	if len(outdated) > 0 {
		slices.Sort(outdated)
		expired = a.removeLocked(outdated)
	}
	return renewed, expired
}
