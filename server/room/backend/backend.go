// Package backend is where rooms keep their documents and share awareness: an
// in-memory backend for a single replica (the default) and a Redis backend that lets several
// replicas serve one room as if they were one server.
//
// A room's document is a log of Yjs updates plus, once compacted, a v2 snapshot that covers the
// log up to a position. Every accepted update is appended to the log before anyone sees it, so
// whatever a client was told is stored survives a replica's crash; replicas learn of each other's
// updates by following the log, never from a best-effort channel. Awareness, which is ephemeral
// and renewed by clients every 15 s, travels best-effort.
package backend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one stored update.
type Entry struct {
	// Pos is the update's position in the room's log ("<ms>-<seq>", as Redis stream ids).
	Pos Pos
	// Update is a Yjs v1 update.
	Update []byte
}

// State is a room's stored document.
type State struct {
	// Snapshot is a Yjs v2 update holding every entry up to SnapshotPos; nil when the room was
	// never compacted.
	Snapshot    []byte
	SnapshotPos Pos
	// Entries follow SnapshotPos in log order.
	Entries []Entry
	// Last is the position to follow the log from (the last entry's, or SnapshotPos).
	Last Pos
}

// Store keeps rooms' update logs and snapshots.
type Store interface {
	// Load returns the room's snapshot and the entries after it, read consistently (a
	// concurrent compaction cannot make an entry vanish from between the two).
	Load(ctx context.Context, room string) (State, error)
	// Append stores a v1 update and returns its position. Only after it returns may the update
	// be shown to anyone.
	Append(ctx context.Context, room string, update []byte) (Pos, error)
	// Follow delivers the room's entries after pos, in order, to fn until stop is called. fn runs
	// on the backend's goroutine and must not block. After the backend lost entries it could
	// not deliver (the store was unreachable for longer than the log is kept), fn receives a nil
	// slice: the follower reloads the room.
	Follow(room string, after Pos, fn func([]Entry)) (stop func())
	// TryLease takes the room's compaction lease for ttl if no one holds it.
	TryLease(ctx context.Context, room, holder string, ttl time.Duration) (bool, error)
	// Compact stores snapshot (a v2 update covering every entry up to upTo) and drops the log
	// entries it covers. A snapshot older than the stored one is ignored.
	Compact(ctx context.Context, room string, snapshot []byte, upTo Pos) error
	// Rooms lists every room with a stored document.
	Rooms(ctx context.Context) ([]string, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// Awareness relays awareness messages between replicas serving the same room.
type Awareness interface {
	// Publish sends msg to the other replicas serving room (at most once).
	Publish(ctx context.Context, room string, msg AwarenessMessage) error
	// Subscribe delivers the other replicas' messages for room to fn (on the backend's
	// goroutine; fn must not block) until stop is called.
	Subscribe(room string, fn func(AwarenessMessage)) (stop func())
}

// AwarenessMessage is what replicas tell each other about a room's awareness.
type AwarenessMessage struct {
	// Replica is the sender.
	Replica string `json:"r"`
	// Query asks the other replicas to publish every state they hold (a replica that just
	// loaded the room).
	Query bool `json:"q,omitempty"`
	// Update is a y-protocols awareness update.
	Update []byte `json:"u,omitempty"`
}

// Backend is everything rooms need from where they are kept.
type Backend interface {
	Store
	Awareness
	// Close stops the backend's goroutines.
	Close() error
}

// ErrUnavailable wraps failures to reach the store: the room refuses writes until it is back.
var ErrUnavailable = errors.New("room store unavailable")

// Pos is a position in a room's log: "<ms>-<seq>" like a Redis stream id; the zero Pos is
// before everything.
type Pos struct{ Ms, Seq uint64 }

// String returns the Redis stream id form.
func (p Pos) String() string {
	return strconv.FormatUint(p.Ms, 10) + "-" + strconv.FormatUint(p.Seq, 10)
}

// IsZero reports whether p is before every entry.
func (p Pos) IsZero() bool { return p == Pos{} }

// Less orders positions.
func (p Pos) Less(q Pos) bool { return p.Ms < q.Ms || (p.Ms == q.Ms && p.Seq < q.Seq) }

// Next is the smallest position after p.
func (p Pos) Next() Pos {
	if p.Seq == ^uint64(0) {
		return Pos{Ms: p.Ms + 1}
	}
	return Pos{Ms: p.Ms, Seq: p.Seq + 1}
}

// ParsePos parses "<ms>-<seq>" (or "<ms>").
func ParsePos(s string) (Pos, error) {
	ms, seq, hasSeq := strings.Cut(s, "-")
	var p Pos
	var err error
	if p.Ms, err = strconv.ParseUint(ms, 10, 64); err != nil {
		return Pos{}, fmt.Errorf("log position %q: %w", s, err)
	}
	if hasSeq {
		if p.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return Pos{}, fmt.Errorf("log position %q: %w", s, err)
		}
	}
	return p, nil
}
