package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// room is one live document on this replica. Its goroutine (run) owns the document, the
// connection set and the log cursor; everyone else talks to it through events.
type room struct {
	id string
	m  *Manager

	// Guarded by m.mu.
	refs      int
	idleSince time.Time

	inbox chan event

	// From the backend's goroutines, which must never block: queued here, drained by run.
	extMu      sync.Mutex
	extEntries []backend.Entry
	extReload  bool
	extAware   []backend.AwarenessMessage
	extSignal  chan struct{}

	// Owned by run.
	doc          Doc
	aw           *yprotocol.Awareness
	changed      [][]byte
	pending      []*conn // senders of the updates in changed, until flushUpdates stores them
	conns        map[*conn]struct{}
	owners       map[uint64]*conn // awareness client id -> the local connection speaking for it
	own          map[backend.Pos]struct{}
	cursor       backend.Pos
	sinceCompact int
	degraded     bool
	unstored     [][]byte
	probing      bool
	stopFollow   func()
	stopSub      func()
	wg           sync.WaitGroup

	// Awareness waiting to go out as one update (queueAwareness): local clients' (also published
	// to the other replicas) and other replicas' clients' (sent to local ones only).
	awPending   map[uint64]bool // client id -> a local client's (true) or another replica's
	awChanged   bool            // a pending entry changes a state, so it waits for awarenessEvery only
	awLastFlush time.Time       // when the last awareness update left
	awAlarm     alarm

	// Stored updates waiting to be broadcast as one (sendSoon).
	outbox    [][]byte
	lastSend  time.Time
	sendAlarm alarm
}

// alarm is a timer of the room goroutine: C is nil while it is not armed, so the run loop's
// select waits on it only when something is due.
type alarm struct {
	t  *time.Timer
	C  <-chan time.Time
	at time.Time
}

// armBy makes the alarm fire at at, unless it is already armed to fire no later.
func (a *alarm) armBy(at time.Time) {
	if a.C != nil && !a.at.After(at) {
		return
	}
	if a.t == nil {
		a.t = time.NewTimer(time.Until(at))
	} else {
		a.t.Reset(time.Until(at))
	}
	a.C, a.at = a.t.C, at
}

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
	a.C = nil
}

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

type event interface{}

type joinEv struct {
	c    *conn
	done chan struct{}
}
type leaveEv struct{ c *conn }
type msgEv struct {
	c   *conn
	msg yprotocol.Message
}
type readEv struct {
	fn   func(Doc)
	done chan struct{}
}
type writeEv struct {
	fn   func(Doc)
	done chan error
}
type recoveredEv struct{}

// inboxSize bounds the events waiting for a room. A full inbox makes its clients' readers wait
// (and TCP push back on them) rather than drop anything, so it only needs to absorb a burst; each
// slot costs every loaded room 16 bytes whether it is used or not.
const inboxSize = 64

func newRoom(m *Manager, id string) *room {
	return &room{
		id: id, m: m,
		inbox:     make(chan event, inboxSize),
		extSignal: make(chan struct{}, 1),
		conns:     map[*conn]struct{}{},
		owners:    map[uint64]*conn{},
		own:       map[backend.Pos]struct{}{},
	}
}

// post hands ev to the room, waiting while its inbox is full.
func (r *room) post(ctx context.Context, ev event) error {
	select {
	case r.inbox <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.m.ctx.Done():
		return mux.Errorf(mux.CodeShuttingDown, "the server is stopping")
	}
}

func (r *room) signal() {
	select {
	case r.extSignal <- struct{}{}:
	default:
	}
}

func (r *room) onEntries(es []backend.Entry) {
	r.extMu.Lock()
	if es == nil {
		r.extReload = true
	}
	r.extEntries = append(r.extEntries, es...)
	r.extMu.Unlock()
	r.signal()
}

func (r *room) onAwareness(msg backend.AwarenessMessage) {
	r.extMu.Lock()
	r.extAware = append(r.extAware, msg)
	r.extMu.Unlock()
	r.signal()
}

func (r *room) run() {
	log := r.m.opts.Logger.With("room", r.id)
	if !r.load() {
		return
	}
	defer func() {
		r.stopFollow()
		r.stopSub()
		r.wg.Wait()
		r.awAlarm.stop()
		r.sendAlarm.stop()
	}()
	tick := time.NewTicker(yprotocol.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case ev := <-r.inbox:
			r.handleQueued(ev)
		case <-r.extSignal:
			r.drainExternal()
		case <-r.awAlarm.C:
			r.flushAwareness()
		case <-r.sendAlarm.C:
			r.sendNow()
		case <-tick.C:
			_, expired := r.aw.Tick()
			if len(expired.Removed) > 0 {
				r.broadcast(yprotocol.EncodeAwareness(r.aw.EncodeUpdate(expired.Removed)))
			}
			// A room holding updates the store has not taken yet stays until it has.
			if len(r.conns) == 0 && len(r.unstored) == 0 && r.m.tryUnload(r, false) {
				r.compact(true)
				log.Debug("room unloaded")
				return
			}
		case <-r.m.ctx.Done():
			r.flushUpdates() // client updates waiting for the next send are stored all the same
			for c := range r.conns {
				r.drop(c)
			}
			if len(r.unstored) > 0 {
				// Their authors still hold them and send them again when they next connect.
				log.Error("stopping with updates the store never took", "updates", len(r.unstored))
			}
			r.compact(true)
			return
		}
	}
}

// load reads the room from the store, retrying while the store is unreachable.
func (r *room) load() bool {
	r.aw = yprotocol.NewAwareness(0, nil)
	_, _ = r.aw.SetLocalState(nil)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.StoreTimeout)
		st, err := r.m.be.Load(ctx, r.id)
		cancel()
		if err == nil {
			r.doc = r.m.opts.NewDoc(randomClientID())
			r.doc.OnUpdate(func(u []byte) { r.changed = append(r.changed, u) })
			r.applyState(st)
			r.changed = nil
			break
		}
		if attempt == 0 {
			r.m.opts.Logger.Warn("loading room", "room", r.id, "err", err)
		}
		select {
		case <-r.m.ctx.Done():
			r.m.tryUnload(r, true)
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
	r.stopFollow = r.m.be.Follow(r.id, r.cursor, r.onEntries)
	r.stopSub = r.m.be.Subscribe(r.id, r.onAwareness)
	ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
	_ = r.m.be.Publish(ctx, r.id, backend.AwarenessMessage{Query: true})
	cancel()
	return true
}

func (r *room) applyState(st backend.State) {
	if st.Snapshot != nil {
		if err := r.doc.ApplyUpdateV2(st.Snapshot); err != nil {
			r.m.opts.Logger.Error("room snapshot does not apply", "room", r.id, "err", err)
		}
	}
	for _, e := range st.Entries {
		if err := r.doc.ApplyUpdate(e.Update); err != nil {
			r.m.opts.Logger.Error("stored update does not apply", "room", r.id, "pos", e.Pos.String(), "err", err)
		}
	}
	if r.cursor.Less(st.Last) {
		r.cursor = st.Last
	}
	r.sinceCompact = len(st.Entries)
}

func (r *room) takeChanged() [][]byte {
	c := r.changed
	r.changed = nil
	return c
}

// maxUpdateBatch bounds the client updates stored and sent as one (merging costs grow with
// their number).
const maxUpdateBatch = 32

// handleQueued handles ev and the events already waiting behind it. Client updates among them
// are applied one by one but stored as one merged update: under load that is one store round
// trip instead of one per update. What is stored leaves with sendSoon.
func (r *room) handleQueued(ev event) {
	for n := 1; ; n++ {
		if !isClientUpdate(ev) {
			r.flushUpdates()
		}
		r.handle(ev)
		if n >= maxUpdateBatch {
			break
		}
		var ok bool
		select {
		case ev, ok = <-r.inbox:
		default:
		}
		if !ok {
			break
		}
	}
	r.sendSoon()
}

// sendSoon sends what waits at once when the last send is Options.SendEvery old (an update after
// a quiet spell is not delayed), and otherwise when it will be: updates arriving meanwhile leave
// with it, merged into one message, so a busy room costs each client one frame, one system call
// and one update to apply per interval rather than one per update.
func (r *room) sendSoon() {
	if len(r.pending) == 0 && len(r.outbox) == 0 {
		return
	}
	every := r.m.opts.SendEvery
	due := r.lastSend.Add(every)
	if every <= 0 || !due.After(time.Now()) || len(r.pending) >= maxUpdateBatch {
		r.sendNow()
		return
	}
	r.sendAlarm.armBy(due)
}

// sendNow stores the client updates waiting and broadcasts everything stored since the last send
// as one update.
func (r *room) sendNow() {
	r.sendAlarm.stop()
	r.flushUpdates()
	out := r.outbox
	r.outbox = nil
	if len(out) == 0 {
		return
	}
	r.lastSend = time.Now()
	if len(out) > 1 {
		if merged, err := crdt.MergeUpdates(out); err == nil {
			out = [][]byte{merged}
		}
	}
	for _, u := range out {
		r.broadcast(yprotocol.EncodeUpdate(u))
	}
}

func isClientUpdate(ev event) bool {
	m, ok := ev.(msgEv)
	return ok && m.msg.Type == yprotocol.MessageSync && m.msg.Sync != yprotocol.SyncStep1
}

func (r *room) handle(ev event) {
	switch ev := ev.(type) {
	case joinEv:
		r.join(ev.c)
		close(ev.done)
	case leaveEv:
		r.leave(ev.c)
	case msgEv:
		if _, ok := r.conns[ev.c]; ok {
			r.message(ev.c, ev.msg)
		}
	case readEv:
		ev.fn(r.doc)
		close(ev.done)
	case writeEv:
		ev.fn(r.doc)
		ev.done <- r.store(r.takeChanged())
	case recoveredEv:
		r.probing = false
		r.recover()
	}
}

// join greets a client as the y-websocket server does: the server's step 1 (so the client sends
// what the server lacks) and every known awareness state.
func (r *room) join(c *conn) {
	r.conns[c] = struct{}{}
	r.m.addConn(c)
	r.send(c, yprotocol.SyncStep1For(r.doc))
	if u, ok := r.aw.EncodeAll(); ok {
		r.send(c, yprotocol.EncodeAwareness(u))
	}
}

func (r *room) leave(c *conn) {
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	r.m.removeConn(c)
	ids := c.ownedIDs()
	for _, id := range ids {
		delete(r.owners, id)
	}
	if len(ids) > 0 {
		// Removals at the same clock: receivers accept a null state at an equal clock.
		ch := r.aw.Remove(ids)
		if len(ch.Removed) > 0 {
			u := r.aw.EncodeUpdate(ch.Removed)
			r.broadcast(yprotocol.EncodeAwareness(u))
			r.publish(u)
		}
	}
}

// drop disconnects a client from the server side.
func (r *room) drop(c *conn) {
	r.leave(c)
}

func (r *room) message(c *conn, msg yprotocol.Message) {
	switch msg.Type {
	case yprotocol.MessageSync:
		switch msg.Sync {
		case yprotocol.SyncStep1:
			reply, err := yprotocol.HandleSync(r.doc, msg)
			if err != nil {
				r.refuse(c, "malformed state vector")
				return
			}
			r.send(c, reply)
		default:
			r.clientUpdate(c, msg.Payload)
		}
	case yprotocol.MessageAwareness:
		r.clientAwareness(c, msg.Payload)
	case yprotocol.MessageQueryAwareness:
		if u, ok := r.aw.EncodeAll(); ok {
			r.send(c, yprotocol.EncodeAwareness(u))
		}
	case yprotocol.MessageAuth:
		// Clients have nothing to tell the server here.
	}
}

func (r *room) refuse(c *conn, reason string) {
	r.send(c, yprotocol.EncodePermissionDenied(reason))
}

func (r *room) clientUpdate(c *conn, update []byte) {
	upd := r.m.m.updates
	switch {
	case c.readOnly:
		upd.WithLabelValues("read_only").Inc()
		r.refuse(c, "read-only: you may not change room "+r.id)
		return
	case r.degraded:
		upd.WithLabelValues("unavailable").Inc()
		r.refuse(c, "room "+r.id+" is read-only until its store is reachable again; your changes will be synced then")
		return
	}
	before := len(r.changed)
	if err := r.doc.ApplyUpdate(update); err != nil {
		r.changed = r.changed[:before]
		upd.WithLabelValues("malformed").Inc()
		r.refuse(c, "update rejected: malformed")
		return
	}
	if len(r.changed) == before {
		upd.WithLabelValues("duplicate").Inc()
		return
	}
	r.pending = append(r.pending, c)
}

// flushUpdates stores the client updates applied since the last flush, merged into one, and
// refuses them to their senders if the store fails.
func (r *room) flushUpdates() {
	if len(r.pending) == 0 {
		return
	}
	changed := r.takeChanged()
	if len(changed) > 1 {
		if merged, err := crdt.MergeUpdates(changed); err == nil {
			// Compaction keeps counting updates, as if each had its own entry.
			r.sinceCompact += len(changed) - 1
			changed = [][]byte{merged}
		}
	}
	senders := r.pending
	r.pending = nil
	err := r.store(changed)
	upd := r.m.m.updates
	for _, c := range senders {
		if err != nil {
			upd.WithLabelValues("unavailable").Inc()
			r.refuse(c, "room "+r.id+" is read-only until its store is reachable again; your changes will be synced then")
			continue
		}
		upd.WithLabelValues("stored").Inc()
	}
}

// store appends updates the document just integrated and queues each for the broadcast once
// stored (sendSoon). After a failure the rest wait in unstored for the store to return, and the
// room refuses writes.
func (r *room) store(updates [][]byte) error {
	for i, u := range updates {
		if r.degraded {
			r.unstored = append(r.unstored, updates[i:]...)
			return errUnavailable
		}
		ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.AppendTimeout)
		pos, err := r.m.be.Append(ctx, r.id, u)
		cancel()
		if err != nil {
			r.m.opts.Logger.Warn("room store unavailable: refusing writes", "room", r.id, "err", err)
			r.unstored = append(r.unstored, updates[i:]...)
			r.degrade()
			return err
		}
		r.own[pos] = struct{}{}
		r.sinceCompact++
		r.outbox = append(r.outbox, u)
	}
	if r.sinceCompact >= r.m.opts.CompactEvery {
		r.compact(false)
	}
	return nil
}

func (r *room) degrade() {
	r.degraded = true
	if r.probing {
		return
	}
	r.probing = true
	r.wg.Go(func() {
		for {
			select {
			case <-r.m.ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
			err := r.m.be.Ping(ctx)
			cancel()
			if err == nil {
				_ = r.post(r.m.ctx, recoveredEv{})
				return
			}
		}
	})
}

// recover stores what waited, then asks every client for what it holds that the room lacks
// (the writes refused meanwhile), and re-reads the log in case entries were missed.
func (r *room) recover() {
	pending := r.unstored
	r.unstored = nil
	r.degraded = false
	if err := r.store(pending); err != nil {
		return
	}
	r.m.opts.Logger.Info("room store reachable again: accepting writes", "room", r.id)
	sv := yprotocol.SyncStep1For(r.doc)
	for c := range r.conns {
		r.send(c, sv)
	}
}

func (r *room) drainExternal() {
	// Client updates still waiting are stored first: what the log brings must not be mistaken
	// for them.
	r.flushUpdates()
	queued := len(r.outbox)
	defer func() {
		// What another replica stored has waited for its own send already: it leaves now,
		// with this replica's waiting updates, rather than wait a second interval here.
		if len(r.outbox) > queued {
			r.sendNow()
		} else {
			r.sendSoon()
		}
	}()
	r.extMu.Lock()
	entries, reload, aware := r.extEntries, r.extReload, r.extAware
	r.extEntries, r.extReload, r.extAware = nil, false, nil
	r.extMu.Unlock()
	if reload {
		ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.StoreTimeout)
		st, err := r.m.be.Load(ctx, r.id)
		cancel()
		if err == nil {
			r.applyState(st)
			r.broadcastChanged()
			// Own entries the log no longer delivers must not wait here forever.
			for p := range r.own {
				if !r.cursor.Less(p) {
					delete(r.own, p)
				}
			}
		}
	}
	for _, e := range entries {
		if !r.cursor.Less(e.Pos) {
			continue
		}
		r.cursor = e.Pos
		if _, mine := r.own[e.Pos]; mine {
			delete(r.own, e.Pos)
			continue
		}
		r.sinceCompact++
		if err := r.doc.ApplyUpdate(e.Update); err != nil {
			r.m.opts.Logger.Error("stored update does not apply", "room", r.id, "pos", e.Pos.String(), "err", err)
		}
		r.broadcastChanged()
	}
	for _, msg := range aware {
		switch {
		case msg.Query:
			if ids := r.localClientIDs(); len(ids) > 0 {
				r.publish(r.aw.EncodeUpdate(ids))
			}
		case msg.Update != nil:
			ch, err := r.aw.ApplyUpdate(msg.Update)
			if err == nil && ch.IsUpdate() {
				r.queueAwareness(false, ch)
			}
		}
	}
	if r.sinceCompact >= r.m.opts.CompactEvery {
		r.compact(false)
	}
}

func (r *room) broadcastChanged() {
	r.outbox = append(r.outbox, r.takeChanged()...)
}

func (r *room) localClientIDs() []uint64 {
	var ids []uint64
	for c := range r.conns {
		for _, id := range c.ownedIDs() {
			if _, ok := r.aw.State(id); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// maxOwnedClients bounds the awareness client ids one connection may speak for (a y-websocket
// client speaks for one).
const maxOwnedClients = 4

func (r *room) clientAwareness(c *conn, payload []byte) {
	u, err := yprotocol.DecodeAwarenessUpdate(payload)
	if err != nil {
		r.refuse(c, "awareness rejected: malformed")
		return
	}
	kept := u.Clients[:0]
	for _, e := range u.Clients {
		if c.owns(e.ClientID) {
			kept = append(kept, e)
			continue
		}
		if _, taken := r.owners[e.ClientID]; taken || !c.claim(e.ClientID, maxOwnedClients) {
			continue
		}
		r.owners[e.ClientID] = c
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return
	}
	ch := r.aw.Apply(yprotocol.AwarenessUpdate{Clients: kept})
	if ch.IsUpdate() {
		r.queueAwareness(true, ch)
	}
}

// queueAwareness holds what ch touched for the next flush (awarenessEvery, renewalDelay), or
// flushes at once when ch changes a state and the last flush is awarenessEvery old.
func (r *room) queueAwareness(local bool, ch yprotocol.Change) {
	if r.awPending == nil {
		r.awPending = map[uint64]bool{}
	}
	for _, id := range ch.Clients() {
		r.awPending[id] = r.awPending[id] || local
	}
	now := time.Now()
	due := now.Add(renewalDelay)
	if ch.IsChange() {
		r.awChanged = true
		due = r.awLastFlush.Add(awarenessEvery)
		if !due.After(now) {
			r.flushAwareness()
			return
		}
	}
	r.awAlarm.armBy(due)
}

// flushAwareness sends every held state (at its newest clock; null for a removed one) to every
// local client as one update, the senders included: the echo of a lone y-websocket client's
// renewal is what keeps it from timing out at 30 s. The local clients' states go to the other
// replicas too.
func (r *room) flushAwareness() {
	r.awAlarm.stop()
	pending, changed := r.awPending, r.awChanged
	r.awPending, r.awChanged = nil, false
	r.awLastFlush = time.Now()
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
	r.broadcast(yprotocol.EncodeAwareness(r.aw.EncodeUpdate(all)))
	if len(local) > 0 {
		r.publish(r.aw.EncodeUpdate(local))
	}
	if changed && len(local) > 0 {
		r.m.kickPresence() // the presence registry carries local clients' states
	}
}

func (r *room) publish(update []byte) {
	if r.degraded {
		return
	}
	ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
	defer cancel()
	if err := r.m.be.Publish(ctx, r.id, backend.AwarenessMessage{Update: update}); err != nil {
		r.m.opts.Logger.Debug("publishing awareness", "room", r.id, "err", err)
	}
}

func (r *room) broadcast(msg []byte) {
	for c := range r.conns {
		r.send(c, msg)
	}
}

// send never waits: a client that cannot keep up is disconnected with a code rather than
// skipped, because a skipped sync message would leave it silently diverged.
func (r *room) send(c *conn, msg []byte) {
	err := c.ch.Send(noWait, mux.Message{Type: mux.Binary, Data: msg})
	switch {
	case err == nil:
		return
	case errors.Is(err, context.Canceled):
		// The queue is full.
		c.ch.CloseConn(mux.CloseCode(mux.CodeSlowConsumer), "slow consumer: sync messages are never dropped")
	}
	r.leave(c)
}

// noWait makes Send fail at once instead of waiting for room in the queue; unlike TrySend it
// tells a full queue (context.Canceled) from a closed channel.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// compact folds the log into a snapshot when this replica gets the room's lease.
func (r *room) compact(final bool) {
	if r.degraded || len(r.unstored) > 0 || r.sinceCompact == 0 {
		return
	}
	cm := r.m.m.compacts
	ctx, cancel := context.WithTimeout(context.Background(), r.m.opts.StoreTimeout)
	defer cancel()
	if !final && r.m.ctx.Err() != nil {
		return
	}
	ok, err := r.m.be.TryLease(ctx, r.id, r.m.opts.Replica, r.m.opts.LeaseTTL)
	if err != nil || !ok {
		if err == nil {
			cm.WithLabelValues("lease_held").Inc()
		}
		r.sinceCompact = 0 // another replica compacts now; look again after as many entries
		return
	}
	snap, err := encodeSnapshot(r.doc)
	if err == nil {
		err = r.m.be.Compact(ctx, r.id, snap, r.cursor)
	}
	if err != nil {
		cm.WithLabelValues("failed").Inc()
		r.m.opts.Logger.Warn("compacting room", "room", r.id, "err", err)
		return
	}
	cm.WithLabelValues("done").Inc()
	r.sinceCompact = 0
}

// encodeSnapshot encodes the whole document as v2. A panic in the engine fails this compaction
// (the log stays as it is, nothing is lost) instead of the server.
func encodeSnapshot(d Doc) (snap []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encoding a v2 snapshot: %v", p)
		}
	}()
	return d.EncodeStateAsUpdateV2(nil)
}
