package room

import (
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
)

// pacer spaces a room's broadcasts of updates (Options.SendEvery).
type pacer struct {
	lastSend time.Time
	alarm    alarm
}

// alarm is a timer of the room goroutine: C is nil while it is not armed, so the run loop's
// select waits on it only when something is due.
type alarm struct {
	clk clock
	t   timer
	C   <-chan time.Time
	at  time.Time
}

// armBy makes the alarm fire at at, unless it is already armed to fire no later.
func (a *alarm) armBy(at time.Time) {
	if a.C != nil && !a.at.After(at) {
		return
	}
	d := at.Sub(a.clk.Now())
	if a.t == nil {
		a.t = a.clk.NewTimer(d)
	} else {
		a.t.Stop()
		a.t.Reset(d)
	}
	a.C, a.at = a.t.C(), at
}

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
	a.C = nil
}

// sendSoon sends what waits at once when the last send is Options.SendEvery old (an update after
// a quiet spell is not delayed), and otherwise when it will be: updates arriving meanwhile leave
// with it, merged into one message, so a busy room costs each client one frame, one system call
// and one update to apply per interval rather than one per update.
func (r *room) sendSoon() {
	if !r.upd.waiting() {
		return
	}
	every := r.m.opts.SendEvery
	due := r.pace.lastSend.Add(every)
	if every <= 0 || !due.After(r.clk.Now()) || len(r.upd.senders) >= maxUpdateBatch {
		r.sendNow()
		return
	}
	r.pace.alarm.armBy(due)
}

// sendNow stores the client updates waiting and broadcasts everything stored since the last send
// as one update.
func (r *room) sendNow() {
	r.pace.alarm.stop()
	r.flushUpdates()
	out := r.upd.takeOutbox()
	if len(out) == 0 {
		return
	}
	r.pace.lastSend = r.clk.Now()
	if len(out) > 1 {
		if merged, err := crdt.MergeUpdates(out); err == nil {
			out = [][]byte{merged}
		}
	}
	for _, u := range out {
		r.broadcast(yprotocol.EncodeUpdate(u))
	}
}
