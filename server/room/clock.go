package room

import "time"

// clock is where a room and its manager get the time and their timers: the real one in the
// server, a fake one in tests, so pacing, awareness flushes and the grace period can be tested
// without depending on how loaded the machine is.
type clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) timer
	// NewTicker returns a ticker that fires every d.
	NewTicker(d time.Duration) ticker
}

type timer interface {
	C() <-chan time.Time
	// Reset makes the timer fire d from now (it must have fired or been stopped).
	Reset(d time.Duration)
	Stop()
}

type ticker interface {
	C() <-chan time.Time
	Stop()
}

// after returns a channel that receives once d from now. The timer is not stopped early: use it
// only for short waits.
func after(c clock, d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTimer(d time.Duration) timer   { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time   { return t.t.C }
func (t realTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t realTimer) Stop()                 { t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
