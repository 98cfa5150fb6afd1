// Package lock keeps one deploy per room at a time across replicas: a lease with a fencing token.
// Each successful Acquire of a room's lock gets a token greater than every token handed out for
// that room before, so a holder that stalled past its lease (and was taken over) can be told apart
// from the current one: its Refresh and Release fail, and whoever stores deploy state compares
// tokens. Redis holds the lock across replicas (Redis); Memory serves a single replica.
package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lock is a per-room lease with fencing tokens.
type Lock interface {
	// Acquire takes room's lock for holder for ttl and returns its fencing token. A lock held by
	// anyone (holder included) is an error that Is ErrHeld (a *HeldError saying by whom).
	Acquire(ctx context.Context, room, holder string, ttl time.Duration) (token int64, err error)
	// Refresh extends the lease of token to ttl from now; ErrLost when token no longer holds it.
	Refresh(ctx context.Context, room string, token int64, ttl time.Duration) error
	// Release gives the lock up; ErrLost when token no longer holds it.
	Release(ctx context.Context, room string, token int64) error
	// Holder reports who holds room's lock now (ok false when nobody does).
	Holder(ctx context.Context, room string) (h Held, ok bool, err error)
}

// Held is a lock's current holder and token.
type Held struct {
	Holder string `json:"holder"`
	Token  int64  `json:"token"`
}

var (
	// ErrHeld: someone holds the lock.
	ErrHeld = errors.New("deploy lock held")
	// ErrLost: the token's lease expired (and perhaps someone else took the lock).
	ErrLost = errors.New("deploy lock lost")
)

// HeldError is Acquire's error when the lock is taken.
type HeldError struct{ Held }

func (e *HeldError) Error() string {
	return fmt.Sprintf("deploy lock held by %s (token %d)", e.Holder, e.Token)
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("lock: ttl %v under a millisecond", ttl)
	}
	return nil
}
