package backend

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory keeps everything in this process: the single-replica backend used without Redis. It
// behaves like the Redis backend with one replica, so rooms have one code path.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	rooms  map[string]*memRoom
	last   Pos
	nextID int
}

type memRoom struct {
	snapshot    []byte
	snapshotPos Pos
	entries     []Entry
	followers   map[int]func([]Entry)
	lease       time.Time
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{now: time.Now, rooms: map[string]*memRoom{}}
}

func (m *Memory) room(name string) *memRoom {
	r := m.rooms[name]
	if r == nil {
		r = &memRoom{followers: map[int]func([]Entry){}}
		m.rooms[name] = r
	}
	return r
}

// Load implements Store.
func (m *Memory) Load(_ context.Context, room string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[room]
	if !ok {
		return State{}, nil
	}
	st := State{Snapshot: r.snapshot, SnapshotPos: r.snapshotPos, Entries: slices.Clone(r.entries), Last: r.snapshotPos}
	if n := len(r.entries); n > 0 {
		st.Last = r.entries[n-1].Pos
	}
	return st, nil
}

// Append implements Store. Followers are called before it returns, on the caller's goroutine.
func (m *Memory) Append(_ context.Context, room string, update []byte) (Pos, error) {
	m.mu.Lock()
	ms := uint64(m.now().UnixMilli())
	p := Pos{Ms: ms}
	if !m.last.Less(p) {
		p = m.last.Next()
	}
	m.last = p
	r := m.room(room)
	e := Entry{Pos: p, Update: slices.Clone(update)}
	r.entries = append(r.entries, e)
	fns := make([]func([]Entry), 0, len(r.followers))
	for _, fn := range r.followers {
		fns = append(fns, fn)
	}
	m.mu.Unlock()
	for _, fn := range fns {
		fn([]Entry{e})
	}
	return p, nil
}

// Follow implements Store.
func (m *Memory) Follow(room string, after Pos, fn func([]Entry)) (stop func()) {
	m.mu.Lock()
	r := m.room(room)
	id := m.nextID
	m.nextID++
	r.followers[id] = fn
	var missed []Entry
	for _, e := range r.entries {
		if after.Less(e.Pos) {
			missed = append(missed, e)
		}
	}
	m.mu.Unlock()
	if len(missed) > 0 {
		fn(missed)
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(r.followers, id)
	}
}

// TryLease implements Store.
func (m *Memory) TryLease(_ context.Context, room, _ string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.room(room)
	now := m.now()
	if now.Before(r.lease) {
		return false, nil
	}
	r.lease = now.Add(ttl)
	return true, nil
}

// Compact implements Store.
func (m *Memory) Compact(_ context.Context, room string, snapshot []byte, upTo Pos) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.room(room)
	if upTo.Less(r.snapshotPos) {
		return nil
	}
	r.snapshot, r.snapshotPos = slices.Clone(snapshot), upTo
	i := 0
	for i < len(r.entries) && !upTo.Less(r.entries[i].Pos) {
		i++
	}
	r.entries = slices.Clone(r.entries[i:])
	return nil
}

// Rooms implements Store.
func (m *Memory) Rooms(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, r := range m.rooms {
		if r.snapshot != nil || len(r.entries) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Ping implements Store.
func (m *Memory) Ping(context.Context) error { return nil }

// Publish implements Awareness: there is no other replica to tell.
func (m *Memory) Publish(context.Context, string, AwarenessMessage) error { return nil }

// Subscribe implements Awareness: no other replica ever speaks.
func (m *Memory) Subscribe(string, func(AwarenessMessage)) (stop func()) { return func() {} }

// Close implements Backend.
func (m *Memory) Close() error { return nil }
