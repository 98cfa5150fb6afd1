package auth

import (
	"context"
	"fmt"
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

// MaxTicketsPerUser bounds the tickets one user holds unredeemed: a browser needs one per
// socket it is opening, so more means a script minting them (refused with CodeTicketLimit).
const MaxTicketsPerUser = 16

// MemoryTickets is the single-replica TicketStore. Every ticket lives TicketTTL, so tickets
// expire in the order they were issued: a queue in issue order lets Issue drop the expired ones
// from its front, O(1) per ticket, with no sweep over all of them and no goroutine.
type MemoryTickets struct {
	now func() time.Time

	mu      sync.Mutex
	tickets map[string]memTicket
	queue   []queued // issue order; entries may be redeemed already
	perUser map[string]int
}

type memTicket struct {
	user    identity.User
	expires time.Time
}

type queued struct {
	ticket  string
	expires time.Time
}

// NewMemoryTickets returns an empty store; now may be nil (time.Now).
func NewMemoryTickets(now func() time.Time) *MemoryTickets {
	if now == nil {
		now = time.Now
	}
	return &MemoryTickets{now: now, tickets: map[string]memTicket{}, perUser: map[string]int{}}
}

// Issue implements TicketStore.
func (m *MemoryTickets) Issue(_ context.Context, u identity.User) (string, time.Time, error) {
	now := m.now()
	exp := now.Add(TicketTTL)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(now)
	if m.perUser[u.ID] >= MaxTicketsPerUser {
		return "", time.Time{}, authErr(CodeTicketLimit, fmt.Sprintf("%d tickets are waiting to be used (the limit)", MaxTicketsPerUser), nil)
	}
	t := randomID(24)
	m.tickets[t] = memTicket{user: u, expires: exp}
	m.queue = append(m.queue, queued{ticket: t, expires: exp})
	m.perUser[u.ID]++
	return t, exp, nil
}

// expireLocked drops the expired tickets at the front of the queue.
func (m *MemoryTickets) expireLocked(now time.Time) {
	n := 0
	for n < len(m.queue) && now.After(m.queue[n].expires) {
		m.removeLocked(m.queue[n].ticket)
		m.queue[n] = queued{}
		n++
	}
	m.queue = m.queue[n:]
	if len(m.queue) == 0 {
		m.queue = nil // let the backing array go
	}
}

func (m *MemoryTickets) removeLocked(ticket string) (memTicket, bool) {
	t, ok := m.tickets[ticket]
	if !ok {
		return t, false
	}
	delete(m.tickets, ticket)
	if m.perUser[t.user.ID]--; m.perUser[t.user.ID] <= 0 {
		delete(m.perUser, t.user.ID)
	}
	return t, true
}

// Len is the number of tickets held (redeemable or expired but not yet dropped).
func (m *MemoryTickets) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tickets)
}

// Redeem implements TicketStore.
func (m *MemoryTickets) Redeem(_ context.Context, ticket string) (identity.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.removeLocked(ticket)
	if !ok {
		return identity.User{}, authErr(CodeTicketInvalid, "unknown or already used ticket", nil)
	}
	if m.now().After(t.expires) {
		return identity.User{}, authErr(CodeTicketInvalid, "ticket expired", nil)
	}
	return t.user, nil
}
