package directory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by Get for an entry that is not there (never put, deleted or expired).
var ErrNotFound = errors.New("directory: no such entry")

// ErrLimit refuses a Claim: the group already has the most live entries allowed.
var ErrLimit = errors.New("directory: group limit reached")

// ErrUnavailable wraps failures to reach the store.
var ErrUnavailable = errors.New("directory store unavailable")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("directory: closed")

// Entry is one entry of a scope.
type Entry struct {
	ID    string
	Value []byte
}

// record is an entry as its replica writes it.
type record struct {
	scope, id string
	// group is the claim group ("" for a plain Put).
	group string
	value []byte
}

// Store is where entries are kept: Memory or Redis. Only Directory writes to it.
type Store interface {
	// put writes recs, each to expire ttl from now.
	put(ctx context.Context, ttl time.Duration, recs ...record) error
	// claim writes rec unless rec.group has max live entries in rec.scope besides rec.id
	// (ErrLimit); counting and writing are one step.
	claim(ctx context.Context, ttl time.Duration, rec record, max int) error
	delete(ctx context.Context, recs ...record) error
	get(ctx context.Context, scope, id string) ([]byte, error)
	// list returns the scope's live entries sorted by id.
	list(ctx context.Context, scope string) ([]Entry, error)
}

// validScope keeps a scope inside its Redis hash tag.
func validScope(s string) bool { return s != "" && !strings.ContainsAny(s, "{}") }

// Memory is the store of a single process; several Directories on one Memory behave like
// replicas sharing Redis.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	scopes map[string]map[string]memEntry
}

type memEntry struct {
	value   []byte
	group   string
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{now: time.Now, scopes: map[string]map[string]memEntry{}}
}

// live returns the scope's entries, dropping the expired ones. Callers hold mu.
func (m *Memory) live(scope string) map[string]memEntry {
	es := m.scopes[scope]
	if es == nil {
		es = map[string]memEntry{}
		m.scopes[scope] = es
	}
	now := m.now()
	for id, e := range es {
		if !now.Before(e.expires) {
			delete(es, id)
		}
	}
	return es
}

func (m *Memory) put(_ context.Context, ttl time.Duration, recs ...record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(ttl, recs...)
	return nil
}

func (m *Memory) putLocked(ttl time.Duration, recs ...record) {
	for _, r := range recs {
		m.live(r.scope)[r.id] = memEntry{value: slices.Clone(r.value), group: r.group, expires: m.now().Add(ttl)}
	}
}

func (m *Memory) claim(_ context.Context, ttl time.Duration, rec record, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, e := range m.live(rec.scope) {
		if id != rec.id && e.group == rec.group {
			n++
		}
	}
	if max > 0 && n >= max {
		return ErrLimit
	}
	m.putLocked(ttl, rec)
	return nil
}

func (m *Memory) delete(_ context.Context, recs ...record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		delete(m.scopes[r.scope], r.id)
	}
	return nil
}

func (m *Memory) get(_ context.Context, scope, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(scope)[id]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(e.value), nil
}

func (m *Memory) list(_ context.Context, scope string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.live(scope)
	out := make([]Entry, 0, len(es))
	for id, e := range es {
		out = append(out, Entry{ID: id, Value: slices.Clone(e.value)})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
