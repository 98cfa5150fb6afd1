package room

import (
	"errors"

	"github.com/yardhq/yard/server/room/backend"
)

// updates tracks where each update of a room's document is between the engine, the store and the
// clients. Only the room goroutine uses it. An update the document integrated moves through
// these states, in this order:
//
//	applied ──store──▶ stored ──takeOutbox──▶ broadcast (no longer tracked)
//	   │                  ▲
//	   └─────hold───▶ held ──resume──┘
//
// What each state means:
//
//   - applied: the document integrated it (a client's update, whose sender is in senders, or a
//     server write). Applied updates are offered to the store together (flushUpdates), merged.
//   - stored: the log took it. It waits in outbox for the next broadcast (pacing).
//   - held: its append failed, or an earlier one did. The room is in outage: client writes are
//     refused, and what is held is appended before anything newer once the store answers
//     (resume).
//
// What another replica stored arrives from the log already stored and enters at stored
// (fromLog). What this replica appended comes back from the log too; own remembers its position
// so it is neither applied nor broadcast twice.
//
// Invariants, true between two events of the room (check; tested in updates_test.go): nothing is
// held outside an outage; no sender waits without an applied update; the store receives local
// updates exactly once each, in the order they were applied.
type updates struct {
	applied [][]byte
	senders []*conn // clients whose updates are in applied: told if the store refuses them
	held    [][]byte
	outbox  [][]byte
	own     map[backend.Pos]struct{}
	outage  bool
}

// appendFunc appends one update to the room's log.
type appendFunc func(update []byte) (backend.Pos, error)

var errUnavailable = errors.New("room store unavailable")

// integrated records an update the document just integrated (its OnUpdate callback).
func (u *updates) integrated(update []byte) { u.applied = append(u.applied, update) }

// mark and rollback forget what a failed apply reported: the engine applies an update atomically
// or not at all.
func (u *updates) mark() int         { return len(u.applied) }
func (u *updates) rollback(mark int) { u.applied = u.applied[:mark] }

// integratedSince reports whether the document integrated anything since mark.
func (u *updates) integratedSince(mark int) bool { return len(u.applied) > mark }

// from records c as the sender of what was applied last.
func (u *updates) from(c *conn) { u.senders = append(u.senders, c) }

// take returns what is applied and its senders, leaving neither.
func (u *updates) take() (applied [][]byte, senders []*conn) {
	applied, senders = u.applied, u.senders
	u.applied, u.senders = nil, nil
	return applied, senders
}

// store offers us to the store in order. After the first failure that one and the rest are
// held and the room is in outage; during an outage everything is held at once, so the store never
// receives an update before an older one. It returns how many were stored.
func (u *updates) store(us [][]byte, appendTo appendFunc) (int, error) {
	for i, b := range us {
		if u.outage {
			u.held = append(u.held, us[i:]...)
			return i, errUnavailable
		}
		pos, err := appendTo(b)
		if err != nil {
			u.held = append(u.held, us[i:]...)
			u.outage = true
			return i, err
		}
		if u.own == nil {
			u.own = map[backend.Pos]struct{}{}
		}
		u.own[pos] = struct{}{}
		u.outbox = append(u.outbox, b)
	}
	return len(us), nil
}

// resume ends the outage by storing what was held, oldest first; a failure starts a new one.
func (u *updates) resume(appendTo appendFunc) (int, error) {
	held := u.held
	u.held, u.outage = nil, false
	return u.store(held, appendTo)
}

// fromLog moves what the document integrated from the log to the outbox: another replica stored
// it. Client updates applied before must have been offered to the store first (no senders).
func (u *updates) fromLog() {
	if len(u.senders) > 0 {
		panic("room: updates from the log mixed with client updates not yet stored")
	}
	u.outbox = append(u.outbox, u.applied...)
	u.applied = nil
}

// takeOutbox returns what is stored and not yet broadcast: it is broadcast now.
func (u *updates) takeOutbox() [][]byte {
	out := u.outbox
	u.outbox = nil
	return out
}

// waiting reports whether updates wait to be stored or broadcast.
func (u *updates) waiting() bool { return len(u.senders) > 0 || len(u.outbox) > 0 }

// mine reports whether the log entry at pos is one this replica appended, forgetting it.
func (u *updates) mine(pos backend.Pos) bool {
	_, ok := u.own[pos]
	delete(u.own, pos)
	return ok
}

// forgetUpTo forgets own entries at or before cursor: after a reload the log no longer delivers
// them, and they must not be remembered forever.
func (u *updates) forgetUpTo(cursor backend.Pos) {
	for p := range u.own {
		if !cursor.Less(p) {
			delete(u.own, p)
		}
	}
}

// check reports a broken invariant.
func (u *updates) check() error {
	switch {
	case len(u.held) > 0 && !u.outage:
		return errors.New("updates held outside an outage")
	case len(u.senders) > 0 && len(u.applied) == 0:
		return errors.New("senders waiting without an applied update")
	}
	return nil
}
