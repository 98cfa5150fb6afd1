package room

import (
	"slices"
	"sync"
	"time"
)

// fakeClock is a clock that moves only when a test advances it; its timers and tickers fire
// during Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) timer { return c.add(d, 0) }

func (c *fakeClock) NewTicker(d time.Duration) ticker { return c.add(d, d) }

func (c *fakeClock) add(d, every time.Duration) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), every: every, active: true}
	c.timers = append(c.timers, t)
	c.fireLocked()
	return t
}

// Advance moves the clock by d and fires what fell due, as a real timer would (a ticker that
// missed several ticks fires once).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

func (c *fakeClock) fireLocked() {
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			select {
			case t.ch <- c.now:
			default:
			}
			if t.every > 0 {
				for !t.at.After(c.now) {
					t.at = t.at.Add(t.every)
				}
			} else {
				t.active = false
			}
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	at     time.Time
	every  time.Duration
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t.drain()
	t.at = c.now.Add(d)
	if !t.active {
		t.active = true
		c.timers = append(c.timers, t)
	}
	c.fireLocked()
}

func (t *fakeTimer) Stop() {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t.active = false
	t.drain()
	c.timers = slices.DeleteFunc(c.timers, func(o *fakeTimer) bool { return o == t })
}

// drain drops a fired value nobody received: like a real timer since Go 1.23, a stopped or reset
// timer delivers nothing stale.
func (t *fakeTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}
