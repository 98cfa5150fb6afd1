package auth

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// Two replicas are two stores on one Redis: a ticket one issues, the other redeems, once; on a
// Redis Cluster too, where a user's keys share a slot.
func TestRedisTicketsAreSharedAndSingleUse(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a, b := NewRedisTickets(tg.Client(t)), NewRedisTickets(tg.Client(t))
		ctx := context.Background()
		alice := identity.User{ID: "alice:{x}", Name: "alice", Display: "Alice", Groups: []string{"dev", "yard-admins"}, Admin: true}
		tk, exp, err := a.Issue(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(exp); d < TicketTTL-5*time.Second || d > TicketTTL {
			t.Fatalf("ticket expires in %v, want about %v", d, TicketTTL)
		}
		u, err := b.Redeem(ctx, tk)
		if err != nil || !reflect.DeepEqual(u, alice) {
			t.Fatalf("redeemed on the other replica: %+v, %v", u, err)
		}
		if _, err := a.Redeem(ctx, tk); CodeOf(err) != CodeTicketInvalid {
			t.Fatalf("reuse on the issuing replica: %v", err)
		}
		for _, bad := range []string{"", "made-up", "." + tk, "{0}.x", tk[:12] + ".nope", tk + "x"} {
			if _, err := b.Redeem(ctx, bad); CodeOf(err) != CodeTicketInvalid {
				t.Fatalf("redeem %q: %v", bad, err)
			}
		}
	})
}

// The per-user bound holds across replicas, also when both issue at once; redeeming or expiry
// frees a slot.
func TestRedisTicketsPerUserCapAndExpiry(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		tg := redistest.Fresh(t, k)
		a, b := NewRedisTickets(tg.Client(t)), NewRedisTickets(tg.Client(t))
		a.ttl, b.ttl = 2*time.Second, 2*time.Second
		ctx := context.Background()
		mallory, bob := identity.User{ID: "mallory"}, identity.User{ID: "bob"}
		var (
			mu      sync.Mutex
			issued  []string
			limited int
			wg      sync.WaitGroup
		)
		for i := range 2 * MaxTicketsPerUser {
			store := a
			if i%2 == 1 {
				store = b
			}
			wg.Go(func() {
				tk, _, err := store.Issue(ctx, mallory)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					issued = append(issued, tk)
				case CodeOf(err) == CodeTicketLimit:
					limited++
				default:
					t.Errorf("issue: %v", err)
				}
			})
		}
		wg.Wait()
		if len(issued) != MaxTicketsPerUser || limited != MaxTicketsPerUser {
			t.Fatalf("%d issued, %d refused; want %d each", len(issued), limited, MaxTicketsPerUser)
		}
		if _, _, err := a.Issue(ctx, bob); err != nil {
			t.Fatalf("another user: %v", err)
		}
		if _, err := b.Redeem(ctx, issued[0]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Issue(ctx, mallory); err != nil {
			t.Fatalf("after a redeem: %v", err)
		}
		time.Sleep(2500 * time.Millisecond)
		if _, err := a.Redeem(ctx, issued[1]); CodeOf(err) != CodeTicketInvalid {
			t.Fatalf("expired: %v", err)
		}
		for i := range MaxTicketsPerUser {
			if _, _, err := b.Issue(ctx, mallory); err != nil {
				t.Fatalf("ticket %d after expiry: %v", i, err)
			}
		}
	})
}

// Redis gone: the store says it cannot answer, which is not an auth error (the gate answers
// 503, not 401: the ticket may well be good).
func TestRedisTicketsUnavailable(t *testing.T) {
	s := redistest.Start(t)
	store := NewRedisTickets(s.Target().Client(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tk, _, err := store.Issue(ctx, identity.User{ID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.Kill()
	var ae *Error
	if _, err := store.Redeem(ctx, tk); err == nil || errors.As(err, &ae) {
		t.Fatalf("redeem without Redis: %v", err)
	}
	if _, _, err := store.Issue(ctx, identity.User{ID: "alice"}); err == nil || errors.As(err, &ae) {
		t.Fatalf("issue without Redis: %v", err)
	}
}
