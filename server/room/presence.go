package room

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PresenceScope is the directory scope of room presence: one entry per replica (its id), the
// JSON list of the replica's connections in rooms.
const PresenceScope = "presence"

// Presence is one connection in a room, as the admin panel shows it.
type Presence struct {
	Room        string          `json:"room"`
	UserID      string          `json:"userId"`
	UserName    string          `json:"userName"`
	ConnID      string          `json:"connId"`
	Replica     string          `json:"replica"`
	ConnectedAt time.Time       `json:"connectedAt"`
	ReadOnly    bool            `json:"readOnly,omitempty"`
	ClientIDs   []uint64        `json:"clientIds,omitempty"`
	Awareness   json.RawMessage `json:"awareness,omitempty"`
}

// Presence lists every connection in every room on every replica. This replica's own entries
// are current; the others' are as fresh as their last registration.
func (m *Manager) Presence(ctx context.Context) ([]Presence, error) {
	all, err := m.dir.List(ctx, PresenceScope)
	if err != nil {
		return nil, fmt.Errorf("listing presence: %w", err)
	}
	out := m.localPresence()
	for _, e := range all {
		if e.ID == m.dir.Replica() {
			continue
		}
		var ps []Presence
		if err := json.Unmarshal(e.Value, &ps); err != nil {
			m.opts.Logger.Warn("unreadable presence", "replica", e.ID, "err", err)
			continue
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b Presence) int {
		switch {
		case a.Room != b.Room:
			return strings.Compare(a.Room, b.Room)
		case a.UserName != b.UserName:
			return strings.Compare(a.UserName, b.UserName)
		default:
			return strings.Compare(a.ConnID, b.ConnID)
		}
	})
	return out, nil
}

func (m *Manager) localPresence() []Presence {
	m.mu.Lock()
	cs := make([]*conn, 0, len(m.conns))
	for c := range m.conns {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	out := make([]Presence, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.presence(m.dir.Replica()))
	}
	return out
}

func (m *Manager) addConn(c *conn) {
	m.mu.Lock()
	m.conns[c] = struct{}{}
	m.mu.Unlock()
	m.m.clients.Inc()
	m.kickPresence()
}

func (m *Manager) removeConn(c *conn) {
	m.mu.Lock()
	_, ok := m.conns[c]
	delete(m.conns, c)
	m.mu.Unlock()
	if ok {
		m.m.clients.Dec()
		m.kickPresence()
	}
}

func (m *Manager) kickPresence() {
	select {
	case m.presenceKick <- struct{}{}:
	default:
	}
}

// presenceLoop puts this replica's connections in the directory shortly after a change
// (changes within 200 ms are put together); the directory keeps the entry alive meanwhile.
func (m *Manager) presenceLoop() {
	for {
		select {
		case <-m.ctx.Done():
			// Leave no ghost entries behind a clean shutdown.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = m.dir.Delete(ctx, PresenceScope, m.dir.Replica())
			cancel()
			return
		case <-m.presenceKick:
			select {
			case <-after(m.clk, 200*time.Millisecond):
			case <-m.ctx.Done():
				continue
			}
		}
		b, err := json.Marshal(m.localPresence())
		if err != nil {
			m.opts.Logger.Error("encoding presence", "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.StoreTimeout)
		if err := m.dir.Put(ctx, PresenceScope, m.dir.Replica(), b); err != nil && m.ctx.Err() == nil {
			m.opts.Logger.Warn("registering presence", "err", err)
		}
		cancel()
	}
}
