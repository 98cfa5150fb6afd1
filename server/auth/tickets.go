package auth

import (
	"context"
	"sync"
	"time"

	"github.com/yardhq/yard/server/identity"
)

// TicketTTL is how long a WebSocket ticket may wait to be used.
const TicketTTL = 30 * time.Second

// TicketStore issues and redeems single-use WebSocket tickets. With several replicas behind a
// load balancer the store must be shared (Redis), since the upgrade may reach another replica
// than the one that issued the ticket.
type TicketStore interface {
	// Issue returns a new ticket for u, valid for TicketTTL.
	Issue(ctx context.Context, u identity.User) (ticket string, expiresAt time.Time, err error)
	// Redeem consumes a ticket. A second redeem of the same ticket, or one after expiry, fails.
	Redeem(ctx context.Context, ticket string) (identity.User, error)
}

// MemoryTickets is the single-replica TicketStore. Expired tickets are swept lazily on Issue,
// so it needs no goroutine of its own.
type MemoryTickets struct {
	now func() time.Time

	mu      sync.Mutex
	tickets map[string]memTicket
}

type memTicket struct {
	user    identity.User
	expires time.Time
}

// NewMemoryTickets returns an empty store; now may be nil (time.Now).
func NewMemoryTickets(now func() time.Time) *MemoryTickets {
	if now == nil {
		now = time.Now
	}
	return &MemoryTickets{now: now, tickets: map[string]memTicket{}}
}

// Issue implements TicketStore.
func (m *MemoryTickets) Issue(_ context.Context, u identity.User) (string, time.Time, error) {
	t := randomID(24)
	now := m.now()
	exp := now.Add(TicketTTL)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.tickets {
		if now.After(v.expires) {
			delete(m.tickets, k)
		}
	}
	m.tickets[t] = memTicket{user: u, expires: exp}
	return t, exp, nil
}

// Redeem implements TicketStore.
func (m *MemoryTickets) Redeem(_ context.Context, ticket string) (identity.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[ticket]
	if !ok {
		return identity.User{}, authErr(CodeTicketInvalid, "unknown or already used ticket", nil)
	}
	delete(m.tickets, ticket)
	if m.now().After(t.expires) {
		return identity.User{}, authErr(CodeTicketInvalid, "ticket expired", nil)
	}
	return t.user, nil
}
