package room

import (
	"context"
	"sync"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// room is one live document on this replica. Its goroutine (run) owns the document, the
// connection set and the log cursor; everyone else talks to it through events. The work is split
// by concern: this file is the loop, clients.go the y-protocols exchange with each client,
// storage.go the log (append, outage, resume, compaction), pacing.go the broadcast of updates,
// awareness.go the presence states, updates.go where each update is.
type room struct {
	id  string
	m   *Manager
	clk clock

	// Guarded by m.mu: who holds the room, for unloading.
	refs      int
	idleSince time.Time

	// Every other goroutine's way in.
	inbox chan event
	ext   external

	// Owned by run: the document and its clients.
	doc   *crdt.Doc
	conns map[*conn]struct{}

	// Owned by run: storage (storage.go).
	upd          updates
	cursor       backend.Pos // the last log entry applied
	sinceCompact int         // log entries since the last compaction
	docBytes     int         // the document's size: its last snapshot plus what it integrated since
	measuredAt   int         // docBytes when it was last measured exactly (fits)
	probing      bool        // a goroutine waits for the store to answer again
	stopFollow   func()
	stopSub      func()
	wg           sync.WaitGroup // the probe

	// Owned by run: pacing (pacing.go) and awareness (awareness.go).
	pace pacer
	aw   awareness
}

// external is what the backend's goroutines, which must never block, hand to the room: queued
// here, drained by run.
type external struct {
	mu      sync.Mutex
	entries []backend.Entry
	reload  bool
	aware   []backend.AwarenessMessage
	signal  chan struct{}
}

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
	fn   func(doc *crdt.Doc, size int)
	done chan error
}
type writeEv struct {
	fn   func(*crdt.Doc)
	done chan error
}
type storeAnswersEv struct{}

// inboxSize bounds the events waiting for a room. A full inbox makes its clients' readers wait
// (and TCP push back on them) rather than drop anything, so it only needs to absorb a burst; each
// slot costs every loaded room 16 bytes whether it is used or not.
const inboxSize = 64

func newRoom(m *Manager, id string) *room {
	return &room{
		id: id, m: m, clk: m.clk,
		inbox: make(chan event, inboxSize),
		ext:   external{signal: make(chan struct{}, 1)},
		conns: map[*conn]struct{}{},
		pace:  pacer{alarm: alarm{clk: m.clk}},
		aw:    awareness{owners: map[uint64]*conn{}, alarm: alarm{clk: m.clk}},
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
	case r.ext.signal <- struct{}{}:
	default:
	}
}

// onEntries is the backend's Follow callback: new log entries, or nil when the room must reload.
func (r *room) onEntries(es []backend.Entry) {
	r.ext.mu.Lock()
	if es == nil {
		r.ext.reload = true
	}
	r.ext.entries = append(r.ext.entries, es...)
	r.ext.mu.Unlock()
	r.signal()
}

// onAwareness is the backend's Subscribe callback.
func (r *room) onAwareness(msg backend.AwarenessMessage) {
	r.ext.mu.Lock()
	r.ext.aware = append(r.ext.aware, msg)
	r.ext.mu.Unlock()
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
		r.aw.alarm.stop()
		r.pace.alarm.stop()
	}()
	tick := r.clk.NewTicker(yprotocol.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case ev := <-r.inbox:
			r.handleQueued(ev)
		case <-r.ext.signal:
			r.survive("log or awareness from the store", r.drainExternal)
		case <-r.aw.alarm.C:
			r.survive("awareness flush", r.flushAwareness)
		case <-r.pace.alarm.C:
			r.survive("broadcast", r.sendNow)
		case <-tick.C():
			r.expireAwareness()
			// A room holding updates the store has not taken yet stays until it has.
			if len(r.conns) == 0 && len(r.upd.held) == 0 && r.m.tryUnload(r, false) {
				r.compact(true)
				log.Debug("room unloaded")
				return
			}
		case <-r.m.ctx.Done():
			r.flushUpdates() // client updates waiting for the next send are stored all the same
			for c := range r.conns {
				r.leave(c)
			}
			if len(r.upd.held) > 0 {
				// Their authors still hold them and send them again when they next connect.
				log.Error("stopping with updates the store never took", "updates", len(r.upd.held))
			}
			r.compact(true)
			return
		}
		if r.m.opts.afterEvent != nil {
			r.m.opts.afterEvent(r)
		}
	}
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
		r.handleSafely(ev)
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
		ev.fn(r.doc, r.docBytes)
		ev.done <- nil
	case writeEv:
		ev.fn(r.doc)
		applied, _ := r.upd.take()
		ev.done <- r.store(applied)
	case storeAnswersEv:
		r.probing = false
		r.resumeStoring()
	}
}
