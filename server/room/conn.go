package room

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// conn is one client in one room.
type conn struct {
	r           *room
	ch          mux.Channel
	user        identity.User
	connID      string
	readOnly    bool
	connectedAt time.Time

	// Owned by the room goroutine: what the connection's updates added to the document's
	// pending data since one last integrated (clientUpdate).
	deferred      int
	deferredBytes int

	mu    sync.Mutex // owned is read by the presence loop
	owned []uint64
}

func (c *conn) owns(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.owned, id)
}

func (c *conn) claim(id uint64, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.owned) >= max {
		return false
	}
	c.owned = append(c.owned, id)
	return true
}

func (c *conn) ownedIDs() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.owned)
}

func (c *conn) presence(replica string) Presence {
	p := Presence{
		Room: c.r.id, UserID: c.user.ID, UserName: c.user.Name, ConnID: c.connID,
		Replica: replica, ConnectedAt: c.connectedAt, ReadOnly: c.readOnly, ClientIDs: c.ownedIDs(),
	}
	for _, id := range p.ClientIDs {
		if s, ok := c.r.aw.states.State(id); ok {
			p.Awareness = s
			break
		}
	}
	return p
}

// Serve runs one sync client in room on ch until the client goes away: the body of the sync
// channel kind and of /ws/sync/{room}.
func (m *Manager) Serve(ctx context.Context, ch mux.Channel, u identity.User, connID, roomID string) error {
	if !ValidID(roomID) {
		return mux.Errorf(mux.CodeBadParams, "invalid room id")
	}
	r, err := m.acquire(roomID)
	if err != nil {
		return err
	}
	defer m.release(r)
	c := &conn{r: r, ch: ch, user: u, connID: connID, readOnly: m.ReadOnly(u, roomID), connectedAt: m.clk.Now().UTC()}
	joined := make(chan struct{})
	if err := r.post(ctx, joinEv{c: c, done: joined}); err != nil {
		return err
	}
	select {
	case <-joined:
	case <-ctx.Done():
		// The join is queued; leave after it so the room does not keep a dead client.
		_ = r.post(m.ctx, leaveEv{c: c})
		return nil
	}
	defer func() { _ = r.post(m.ctx, leaveEv{c: c}) }()

	// One connection's messages share one rate across its sync channels, and one user's
	// document writes one budget across the user's connections.
	if connID == "" {
		connID = fmt.Sprintf("unnamed-%p", c) // never shared
	}
	msgs := m.connRates.acquire(connID, func() *limiter {
		return newLimiter(m.clk, m.opts.MessageRate, float64(m.opts.MessageBurst), m.m.delayed.WithLabelValues("message_rate"))
	})
	defer m.connRates.release(connID)
	writes := m.userWrites.acquire(u.ID, func() *limiter {
		return newLimiter(m.clk, m.opts.UserWriteBytesPerSec, m.opts.UserWriteBytesPerSec, m.m.delayed.WithLabelValues("write_budget"))
	})
	defer m.userWrites.release(u.ID)
	for {
		msg, err := ch.Recv(ctx)
		if err != nil {
			return nil
		}
		if len(msg.Data) > m.opts.MaxMessageBytes {
			m.m.updates.WithLabelValues("too_large").Inc()
			_ = ch.Send(noWait, mux.Message{Type: mux.Binary, Data: yprotocol.EncodePermissionDenied("message rejected: larger than the limit")})
			continue
		}
		if err := msgs.take(ctx, 1); err != nil {
			return nil
		}
		ym, _, err := yprotocol.DecodeMessage(msg.Data)
		if err != nil {
			m.m.updates.WithLabelValues("malformed").Inc()
			_ = ch.Send(noWait, mux.Message{Type: mux.Binary, Data: yprotocol.EncodePermissionDenied("message rejected: malformed")})
			continue
		}
		if ym.Type == yprotocol.MessageSync && ym.Sync != yprotocol.SyncStep1 && !c.readOnly {
			if err := writes.take(ctx, float64(len(ym.Payload))); err != nil {
				return nil
			}
		}
		if err := r.post(ctx, msgEv{c: c, msg: ym}); err != nil {
			return nil
		}
	}
}
