//go:build chaos

package redisfault

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// lossyLink stands between a replica and Redis where netem cannot (this machine's kernel has no
// sch_netem: `tc qdisc add ... netem` answers "Specified qdisc kind is unknown"). Like
// `netem delay D loss L` on the replica's side of a link, it delays everything the replica sends
// by D; a lost segment is what TCP makes of it: resent after a retransmission timeout (rto), so
// it and everything behind it on the connection arrive rto later. Redis's answers pass at once.
type lossyLink struct {
	ln         net.Listener
	target     string
	delay, rto time.Duration
	loss       float64

	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	wg     sync.WaitGroup
	lost   int
	total  int
}

func startLossyLink(t *testing.T, target string, delay, rto time.Duration, loss float64) *lossyLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &lossyLink{ln: ln, target: target, delay: delay, rto: rto, loss: loss}
	l.wg.Go(l.accept)
	t.Cleanup(l.close)
	return l
}

func (l *lossyLink) addr() string { return l.ln.Addr().String() }

func (l *lossyLink) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		l.conns = append(l.conns, c, up)
		l.mu.Unlock()
		l.wg.Go(func() { l.slow(c, up) })
		l.wg.Go(func() {
			_, _ = io.Copy(c, up)
			_ = c.Close()
		})
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

// slow copies src to dst, each chunk released after the delay (and a lost one after the
// retransmission timeout too), in order.
func (l *lossyLink) slow(src, dst net.Conn) {
	q := make(chan chunk, 4096)
	var wg sync.WaitGroup
	wg.Go(func() {
		for c := range q {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				break
			}
		}
		_ = dst.Close()
		for range q {
		}
	})
	var last time.Time
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			at := time.Now().Add(l.delay)
			l.mu.Lock()
			l.total++
			if rand.Float64() < l.loss {
				l.lost++
				at = at.Add(l.rto)
			}
			l.mu.Unlock()
			if at.Before(last) {
				at = last // TCP delivers in order: a late segment holds back those behind it
			}
			last = at
			q <- chunk{b: append([]byte(nil), buf[:n]...), at: at}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			break
		}
	}
	close(q)
	wg.Wait()
}

// stats returns how many chunks passed and how many were treated as lost.
func (l *lossyLink) stats() (total, lost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.lost
}

func (l *lossyLink) close() {
	_ = l.ln.Close()
	l.mu.Lock()
	l.closed = true
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
