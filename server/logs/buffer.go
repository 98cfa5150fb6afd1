package logs

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// entry is one encoded line waiting to be sent.
type entry struct {
	t       time.Time // the line's time (zero sorts first)
	seq     uint64    // arrival order, to keep lines of equal time in order
	arrived time.Time
	msg     []byte
}

type entryHeap []entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}

// pending holds the lines of one stream between the pod readers and the client, ordered by
// time, within a bound of lines and bytes. In drop mode (live channels) a full buffer drops its
// oldest line and counts it; in block mode (downloads) a full buffer makes readers wait.
//
// Lines become ready for sending once they have waited window (so lines of other pods with
// earlier times can still overtake them), or at once when the buffer is half full: a flood must
// keep flowing rather than be dropped while it waits for the window.
type pending struct {
	maxLines, maxBytes int
	window             time.Duration
	block              bool
	now                func() time.Time

	mu      sync.Mutex
	h       entryHeap
	bytes   int
	seq     uint64
	dropped int64
	status  []byte // latest status message, not yet sent
	closed  bool
	wake    chan struct{} // cap 1: something changed for the sender
	space   chan struct{} // closed (and replaced) when the sender takes lines: room for readers
	// lastTake is when the sender last took lines. A reader that finds the buffer full while
	// the sender is moving waits a moment for room (a fast client must not lose lines to a
	// burst); when the client has stalled it drops at once.
	lastTake time.Time
	// fullSince is when the buffer last became full without draining to half since: a
	// client that keeps it full for stallAfter is slower than the pods, and drops begin.
	fullSince time.Time
}

// burstWait is the longest a reader waits for room while the client is still reading.
// stallAfter is how long the sender may go without taking lines, or the buffer may stay full,
// before the client counts as behind. A loaded machine or a credit round trip can hold a
// reading client's sender for tens of milliseconds.
const (
	burstWait  = 250 * time.Millisecond
	stallAfter = time.Second
)

func newPending(maxLines, maxBytes int, window time.Duration, block bool) *pending {
	return &pending{
		maxLines: maxLines, maxBytes: maxBytes, window: window, block: block, now: time.Now,
		wake: make(chan struct{}, 1), space: make(chan struct{}),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push adds a line. It waits for room in block mode (until ctx ends), and briefly while the
// client is reading; otherwise a full buffer drops its oldest line.
func (p *pending) push(ctx context.Context, t time.Time, msg []byte) error {
	var burst *time.Timer
	defer func() {
		if burst != nil {
			burst.Stop()
		}
	}()
	burstOver := false
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return context.Canceled
		}
		full := len(p.h) >= p.maxLines || p.bytes+len(msg) > p.maxBytes
		now := p.now()
		if full && p.fullSince.IsZero() {
			p.fullSince = now
		}
		// Wait for room only while the client reads and has not been behind for long: a burst
		// passes without loss, a client slower than the pods (or stalled) loses the oldest.
		moving := !p.lastTake.IsZero() && now.Sub(p.lastTake) < stallAfter && now.Sub(p.fullSince) < stallAfter
		if full && len(p.h) > 0 && (p.block || (moving && !burstOver)) {
			space := p.space
			p.mu.Unlock()
			var timeout <-chan time.Time
			if !p.block {
				if burst == nil {
					burst = time.NewTimer(burstWait)
				}
				timeout = burst.C
			}
			select {
			case <-space:
			case <-timeout:
				burstOver = true
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		for full && len(p.h) > 0 {
			old := heap.Pop(&p.h).(entry)
			p.bytes -= len(old.msg)
			p.dropped++
			full = len(p.h) >= p.maxLines || p.bytes+len(msg) > p.maxBytes
		}
		p.seq++
		heap.Push(&p.h, entry{t: t, seq: p.seq, arrived: p.now(), msg: msg})
		p.bytes += len(msg)
		p.mu.Unlock()
		signal(p.wake)
		return nil
	}
}

// setStatus replaces the status message to send next (statuses coalesce: only the latest matters).
func (p *pending) setStatus(msg []byte) {
	p.mu.Lock()
	p.status = msg
	p.mu.Unlock()
	signal(p.wake)
}

// close ends the stream: the sender drains what is left and stops.
func (p *pending) close() {
	p.mu.Lock()
	p.closed = true
	close(p.space)
	p.space = make(chan struct{})
	p.mu.Unlock()
	signal(p.wake)
}

// batch is what the sender sends next, in order.
type batch struct {
	status  []byte
	dropped int64
	lines   [][]byte
	// wait is how long until the oldest held line becomes ready (0: nothing is held).
	wait time.Duration
	done bool // closed and empty: nothing more will come
}

// take removes what is ready to send, at most max lines.
func (p *pending) take(max int) batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b batch
	b.status, p.status = p.status, nil
	b.dropped, p.dropped = p.dropped, 0
	now := p.now()
	for len(p.h) > 0 && len(b.lines) < max {
		e := p.h[0]
		ready := p.closed || p.window <= 0 || 2*len(p.h) >= p.maxLines || 2*p.bytes >= p.maxBytes ||
			now.Sub(e.arrived) >= p.window
		if !ready {
			b.wait = p.window - now.Sub(e.arrived)
			break
		}
		heap.Pop(&p.h)
		p.bytes -= len(e.msg)
		b.lines = append(b.lines, e.msg)
	}
	if len(b.lines) > 0 {
		p.lastTake = now
		if 2*len(p.h) < p.maxLines && 2*p.bytes < p.maxBytes {
			p.fullSince = time.Time{}
		}
		close(p.space)
		p.space = make(chan struct{})
	}
	b.done = p.closed && len(p.h) == 0
	return b
}

// size reports the lines and bytes held (for tests and metrics).
func (p *pending) size() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.h), p.bytes
}
