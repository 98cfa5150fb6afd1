package room

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/room/backend"
)

// Awareness leaves a room as one update per flush, for every client changed since the last.
// Stock y-websocket clients send every awareness update they receive back to the server, their
// peers' included, so one update forwarded to a room of n clients costs n messages out and n back
// in, and n clients changing at once cost n² each way. 200 clients that joined together (they
// become visible with their first renewal, 15 s later, all within a second) stalled every client
// process for 117-361 ms and the room with them (docs/benchmarks.md, "Rooms").
const (
	// awarenessEvery spaces the flushes of changed states (cursor moves, joins, leaves): a change
	// after a quiet spell leaves at once, changes during a busy one wait for the next flush. It
	// is under the 40 ms at which the web client sends its cursor, so one person's moves are not
	// held.
	awarenessEvery = 30 * time.Millisecond
	// renewalDelay is the longest a renewal (a clock bump that leaves the state as it was) waits.
	// Peers drop a state 30 s after its last renewal; renewals come every 15 s.
	renewalDelay = time.Second
)

// maxOwnedClients bounds the awareness client ids one connection may speak for (a y-websocket
// client speaks for one).
const maxOwnedClients = 4

// awareness is a room's presence states and what waits to go out (queueAwareness).
type awareness struct {
	states *yprotocol.Awareness
	owners map[uint64]*conn // awareness client id -> the local connection speaking for it

	// Waiting to go out as one update: local clients' (also published to the other replicas) and
	// other replicas' clients' (sent to local ones only).
	pending   map[uint64]bool // client id -> a local client's (true) or another replica's
	changed   bool            // a pending entry changes a state, so it waits for awarenessEvery only
	lastFlush time.Time       // when the last awareness update left
	alarm     alarm
}

func (r *room) clientAwareness(c *conn, payload []byte) {
	u, err := yprotocol.DecodeAwarenessUpdate(payload)
	if err != nil {
		r.refuse(c, "awareness rejected: malformed")
		return
	}
	kept := u.Clients[:0]
	for _, e := range u.Clients {
		e.State = asUser(e.State, c.user)
		if c.owns(e.ClientID) {
			kept = append(kept, e)
			continue
		}
		if _, taken := r.aw.owners[e.ClientID]; taken || !c.claim(e.ClientID, maxOwnedClients) {
			continue
		}
		r.aw.owners[e.ClientID] = c
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return
	}
	ch := r.aw.states.Apply(yprotocol.AwarenessUpdate{Clients: kept})
	if ch.IsUpdate() {
		r.queueAwareness(true, ch)
	}
}

// asUser makes a state that names a user (its userId or name, which the web client shows) name the
// connection's user: a client cannot appear as someone else. A state naming nobody, a removal
// (null) and a state already naming the right user are kept as they are.
func asUser(state json.RawMessage, u identity.User) json.RawMessage {
	if !bytes.Contains(state, []byte(`"userId"`)) && !bytes.Contains(state, []byte(`"name"`)) {
		return state
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(state, &fields) != nil || fields == nil {
		return state
	}
	_, hasID := fields["userId"]
	_, hasName := fields["name"]
	if !hasID && !hasName {
		return state
	}
	id, idErr := json.Marshal(u.ID)
	name, nameErr := json.Marshal(cmp.Or(u.Name, u.ID))
	if idErr != nil || nameErr != nil {
		return state
	}
	if bytes.Equal(fields["userId"], id) && bytes.Equal(fields["name"], name) {
		return state
	}
	fields["userId"], fields["name"] = id, name
	out, err := json.Marshal(fields)
	if err != nil {
		return state
	}
	return out
}

// remoteAwareness handles an awareness message from another replica.
func (r *room) remoteAwareness(msg backend.AwarenessMessage) {
	switch {
	case msg.Query:
		if ids := r.localClientIDs(); len(ids) > 0 {
			r.publish(r.aw.states.EncodeUpdate(ids))
		}
	case msg.Update != nil:
		ch, err := r.aw.states.ApplyUpdate(msg.Update)
		if err == nil && ch.IsUpdate() {
			r.queueAwareness(false, ch)
		}
	}
}

// removeAwareness removes a leaving client's states for everyone, at once.
func (r *room) removeAwareness(c *conn) {
	ids := c.ownedIDs()
	for _, id := range ids {
		delete(r.aw.owners, id)
	}
	if len(ids) == 0 {
		return
	}
	// Removals at the same clock: receivers accept a null state at an equal clock.
	ch := r.aw.states.Remove(ids)
	if len(ch.Removed) > 0 {
		u := r.aw.states.EncodeUpdate(ch.Removed)
		r.broadcast(yprotocol.EncodeAwareness(u))
		r.publish(u)
	}
}

// expireAwareness removes states not renewed for 30 s (another replica's clients, when it died).
func (r *room) expireAwareness() {
	_, expired := r.aw.states.Tick()
	if len(expired.Removed) > 0 {
		r.broadcast(yprotocol.EncodeAwareness(r.aw.states.EncodeUpdate(expired.Removed)))
	}
}

func (r *room) localClientIDs() []uint64 {
	var ids []uint64
	for c := range r.conns {
		for _, id := range c.ownedIDs() {
			if _, ok := r.aw.states.State(id); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// queueAwareness holds what ch touched for the next flush (awarenessEvery, renewalDelay), or
// flushes at once when ch changes a state and the last flush is awarenessEvery old.
func (r *room) queueAwareness(local bool, ch yprotocol.Change) {
	if r.aw.pending == nil {
		r.aw.pending = map[uint64]bool{}
	}
	for _, id := range ch.Clients() {
		r.aw.pending[id] = r.aw.pending[id] || local
	}
	now := r.clk.Now()
	due := now.Add(renewalDelay)
	if ch.IsChange() {
		r.aw.changed = true
		due = r.aw.lastFlush.Add(awarenessEvery)
		if !due.After(now) {
			r.flushAwareness()
			return
		}
	}
	r.aw.alarm.armBy(due)
}

// flushAwareness sends every held state (at its newest clock; null for a removed one) to every
// local client as one update, the senders included: the echo of a lone y-websocket client's
// renewal is what keeps it from timing out at 30 s. The local clients' states go to the other
// replicas too.
func (r *room) flushAwareness() {
	r.aw.alarm.stop()
	pending, changed := r.aw.pending, r.aw.changed
	r.aw.pending, r.aw.changed = nil, false
	r.aw.lastFlush = r.clk.Now()
	if len(pending) == 0 {
		return
	}
	all := make([]uint64, 0, len(pending))
	var local []uint64
	for id, isLocal := range pending {
		all = append(all, id)
		if isLocal {
			local = append(local, id)
		}
	}
	r.broadcast(yprotocol.EncodeAwareness(r.aw.states.EncodeUpdate(all)))
	if len(local) > 0 {
		r.publish(r.aw.states.EncodeUpdate(local))
	}
	if changed && len(local) > 0 {
		r.m.kickPresence() // the presence registry carries local clients' states
	}
}

// publish relays local clients' awareness to the other replicas (not during an outage: the
// store relays it).
func (r *room) publish(update []byte) {
	if r.upd.outage {
		return
	}
	ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
	defer cancel()
	if err := r.m.be.Publish(ctx, r.id, backend.AwarenessMessage{Update: update}); err != nil {
		r.m.opts.Logger.Debug("publishing awareness", "room", r.id, "err", err)
	}
}
