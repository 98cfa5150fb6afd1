package room

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// limiter is a token bucket several goroutines share: take reserves n tokens and waits until
// they are due, so excess is delayed, never dropped (a reader that waits makes TCP push back on
// its client).
type limiter struct {
	clk     clock
	delayed prometheus.Counter // takes that had to wait
	rate    float64            // tokens per second
	burst   float64
	mu      sync.Mutex
	tokens  float64
	last    time.Time
}

func newLimiter(clk clock, rate, burst float64, delayed prometheus.Counter) *limiter {
	return &limiter{clk: clk, delayed: delayed, rate: rate, burst: burst, tokens: burst, last: clk.Now()}
}

func (l *limiter) take(ctx context.Context, n float64) error {
	l.mu.Lock()
	now := l.clk.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= n
	deficit := -l.tokens
	l.mu.Unlock()
	if deficit <= 0 {
		return nil
	}
	l.delayed.Inc()
	t := l.clk.NewTimer(time.Duration(deficit / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		l.tokens += n // what was not used is not charged
		l.mu.Unlock()
		return ctx.Err()
	}
}

// limiters shares one limiter per key (a connection, a user) among its holders.
type limiters struct {
	mu sync.Mutex
	by map[string]*sharedLimiter
}

type sharedLimiter struct {
	*limiter
	holders int
}

// acquire returns key's limiter, making it with newL if nobody holds it; release it when done.
func (ls *limiters) acquire(key string, newL func() *limiter) *limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.by == nil {
		ls.by = map[string]*sharedLimiter{}
	}
	s := ls.by[key]
	if s == nil {
		s = &sharedLimiter{limiter: newL()}
		ls.by[key] = s
	}
	s.holders++
	return s.limiter
}

func (ls *limiters) release(key string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if s := ls.by[key]; s != nil {
		if s.holders--; s.holders == 0 {
			delete(ls.by, key)
		}
	}
}
