package lock

import (
	"context"
	"sync"
	"time"
)

// Memory is Lock in one process (a single replica without Redis).
type Memory struct {
	now func() time.Time

	mu    sync.Mutex
	held  map[string]memHeld
	fence map[string]int64
}

type memHeld struct {
	Held
	until time.Time
}

// NewMemory returns an empty Memory lock; now is the clock (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, held: map[string]memHeld{}, fence: map[string]int64{}}
}

func (m *Memory) current(room string) (memHeld, bool) {
	h, ok := m.held[room]
	if ok && !m.now().Before(h.until) {
		delete(m.held, room)
		return memHeld{}, false
	}
	return h, ok
}

// owned returns room's lease when token holds it (m.mu held).
func (m *Memory) owned(room string, token int64) (memHeld, error) {
	h, ok := m.current(room)
	if !ok || h.Token != token {
		return memHeld{}, ErrLost
	}
	return h, nil
}

// Acquire implements Lock.
func (m *Memory) Acquire(ctx context.Context, room, holder string, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.current(room); ok {
		return 0, &HeldError{h.Held}
	}
	m.fence[room]++
	t := m.fence[room]
	m.held[room] = memHeld{Held{holder, t}, m.now().Add(ttl)}
	return t, nil
}

// Refresh implements Lock.
func (m *Memory) Refresh(ctx context.Context, room string, token int64, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.owned(room, token)
	if err != nil {
		return err
	}
	h.until = m.now().Add(ttl)
	m.held[room] = h
	return nil
}

// Release implements Lock.
func (m *Memory) Release(ctx context.Context, room string, token int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.owned(room, token); err != nil {
		return err
	}
	delete(m.held, room)
	return nil
}

// Holder implements Lock.
func (m *Memory) Holder(ctx context.Context, room string) (Held, bool, error) {
	if err := ctx.Err(); err != nil {
		return Held{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.current(room)
	return h.Held, ok, nil
}
