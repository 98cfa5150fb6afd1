package room

import (
	"context"
	"fmt"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/room/backend"
)

// load reads the room from the store, retrying while the store is unreachable.
func (r *room) load() bool {
	r.aw.states = yprotocol.NewAwareness(0, r.clk.Now)
	_, _ = r.aw.states.SetLocalState(nil)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.StoreTimeout)
		st, err := r.m.be.Load(ctx, r.id)
		cancel()
		if err == nil {
			r.doc = crdt.NewDocWithClientID(randomClientID())
			r.doc.SetPendingLimit(pendingLimit)
			r.doc.OnUpdate(r.integrated)
			r.applyState(st)
			r.upd.take() // what the store holds is stored and was broadcast already
			break
		}
		if attempt == 0 {
			r.m.opts.Logger.Warn("loading room", "room", r.id, "err", err)
		}
		select {
		case <-r.m.ctx.Done():
			r.m.tryUnload(r, true)
			return false
		case <-after(r.clk, 500*time.Millisecond):
		}
	}
	r.stopFollow = r.m.be.Follow(r.id, r.cursor, r.onEntries)
	r.stopSub = r.m.be.Subscribe(r.id, r.onAwareness)
	ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
	_ = r.m.be.Publish(ctx, r.id, backend.AwarenessMessage{Query: true})
	cancel()
	return true
}

// applyState applies what the store holds (a snapshot and the log after it) to r.doc.
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

// flushUpdates stores the client updates applied since the last flush, merged into one, and
// refuses them to their senders if the store fails.
func (r *room) flushUpdates() {
	if len(r.upd.senders) == 0 {
		return
	}
	applied, senders := r.upd.take()
	if len(applied) > 1 {
		if merged, err := crdt.MergeUpdates(applied); err == nil {
			// Compaction keeps counting updates, as if each had its own entry.
			r.sinceCompact += len(applied) - 1
			applied = [][]byte{merged}
		}
	}
	err := r.store(applied)
	count := r.m.m.updates
	for _, c := range senders {
		if err != nil {
			count.WithLabelValues("unavailable").Inc()
			r.refuse(c, "room "+r.id+refusedDuringOutage)
			continue
		}
		count.WithLabelValues("stored").Inc()
	}
}

// store appends updates the document just integrated; once stored they wait for the broadcast
// (sendSoon). After a failure the rest are held until the store returns, and the room refuses
// writes.
func (r *room) store(us [][]byte) error {
	n, err := r.upd.store(us, r.appendOne)
	r.sinceCompact += n
	if err != nil {
		r.startProbe()
		return err
	}
	if r.sinceCompact >= r.m.opts.CompactEvery {
		r.compact(false)
	}
	return nil
}

func (r *room) appendOne(u []byte) (backend.Pos, error) {
	ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.AppendTimeout)
	defer cancel()
	pos, err := r.m.be.Append(ctx, r.id, u)
	if err != nil {
		r.m.opts.Logger.Warn("room store unavailable: refusing writes", "room", r.id, "err", err)
	}
	return pos, err
}

// startProbe pings the store from a goroutine until it answers, then tells the room
// (storeAnswersEv).
func (r *room) startProbe() {
	if r.probing {
		return
	}
	r.probing = true
	r.wg.Go(func() {
		for {
			select {
			case <-r.m.ctx.Done():
				return
			case <-after(r.clk, 250*time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(r.m.ctx, time.Second)
			err := r.m.be.Ping(ctx)
			cancel()
			if err == nil {
				_ = r.post(r.m.ctx, storeAnswersEv{})
				return
			}
		}
	})
}

// resumeStoring stores what was held, then asks every client for what it holds that the room
// lacks (the writes refused meanwhile).
func (r *room) resumeStoring() {
	n, err := r.upd.resume(r.appendOne)
	r.sinceCompact += n
	if err != nil {
		r.startProbe()
		return
	}
	r.m.opts.Logger.Info("room store reachable again: accepting writes", "room", r.id)
	r.broadcast(yprotocol.SyncStep1For(r.doc))
}

// drainExternal applies what the backend's goroutines queued: log entries (or a reload) and
// awareness from other replicas.
func (r *room) drainExternal() {
	// Client updates still waiting are stored first: what the log brings must not be mistaken
	// for them.
	r.flushUpdates()
	queued := len(r.upd.outbox)
	defer func() {
		// What another replica stored has waited for its own send already: it leaves now,
		// with this replica's waiting updates, rather than wait a second interval here.
		if len(r.upd.outbox) > queued {
			r.sendNow()
		} else {
			r.sendSoon()
		}
	}()
	r.ext.mu.Lock()
	entries, reload, aware := r.ext.entries, r.ext.reload, r.ext.aware
	r.ext.entries, r.ext.reload, r.ext.aware = nil, false, nil
	r.ext.mu.Unlock()
	if reload {
		ctx, cancel := context.WithTimeout(r.m.ctx, r.m.opts.StoreTimeout)
		st, err := r.m.be.Load(ctx, r.id)
		cancel()
		if err == nil {
			r.applyState(st)
			r.upd.fromLog()
			r.upd.forgetUpTo(r.cursor)
		}
	}
	for _, e := range entries {
		if !r.cursor.Less(e.Pos) {
			continue
		}
		r.cursor = e.Pos
		if r.upd.mine(e.Pos) {
			continue
		}
		r.sinceCompact++
		if err := r.doc.ApplyUpdate(e.Update); err != nil {
			r.m.opts.Logger.Error("stored update does not apply", "room", r.id, "pos", e.Pos.String(), "err", err)
		}
		r.upd.fromLog()
	}
	for _, msg := range aware {
		r.remoteAwareness(msg)
	}
	if r.sinceCompact >= r.m.opts.CompactEvery {
		r.compact(false)
	}
}

// compact folds the log into a snapshot when this replica gets the room's lease.
func (r *room) compact(final bool) {
	if r.upd.outage || r.sinceCompact == 0 {
		return
	}
	cm := r.m.m.compacts
	ctx, cancel := context.WithTimeout(context.Background(), r.m.opts.StoreTimeout)
	defer cancel()
	if !final && r.m.ctx.Err() != nil {
		return
	}
	ok, err := r.m.be.TryLease(ctx, r.id, r.m.dir.Replica(), r.m.opts.LeaseTTL)
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
	r.docBytes, r.measuredAt = len(snap), len(snap)
}

// integrated is the document's OnUpdate callback: every change, whoever made it.
func (r *room) integrated(update []byte) {
	r.docBytes += len(update)
	r.upd.integrated(update)
}

// fits reports whether an update of n bytes keeps the document within Options.MaxDocBytes. The
// running size only grows (deletions shrink the encoding), so when it says no the document is
// encoded to know; a full document refuses everything without being encoded again.
func (r *room) fits(n int) bool {
	limit := r.m.opts.MaxDocBytes
	if r.docBytes+n <= limit {
		return true
	}
	if r.docBytes != r.measuredAt {
		if snap, err := encodeSnapshot(r.doc); err == nil {
			r.docBytes = len(snap)
		}
		r.measuredAt = r.docBytes
	}
	return r.docBytes+n <= limit
}

// encodeSnapshot encodes what the document integrated as v2, without its pending data (structs
// waiting for updates nobody may ever send must not be stored and replayed to every replica). A
// panic in the engine fails this compaction (the log stays as it is, nothing is lost) instead of
// the server.
func encodeSnapshot(d *crdt.Doc) (snap []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encoding a v2 snapshot: %v", p)
		}
	}()
	return d.EncodeIntegratedV2(nil)
}

// pendingLimit bounds the data a room's document holds for updates it has not seen: an update
// that would take it past is refused (clientUpdate), the document unchanged.
var pendingLimit = crdt.PendingLimit{Structs: 1 << 16, Bytes: 4 << 20}
