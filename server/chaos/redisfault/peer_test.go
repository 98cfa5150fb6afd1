//go:build chaos

package redisfault

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// ledgerMap is the document root the writers add their entries to.
const ledgerMap = "ledger"

// peer is a y-websocket client of a room as a browser tab runs it: a yardtest.Person that
// reconnects whenever its socket ends, its handshake then sending what the server lacks. A
// watching peer records when each ledger key first reached it in a broadcast.
type peer struct {
	*yardtest.Person
	name       string
	reconnects atomic.Int64

	mu   sync.Mutex
	seen map[string]time.Time // ledger keys, when a broadcast first brought them (watch only)

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// join connects a peer signed in with token to room on r until close (or the test's end).
func join(t *testing.T, name string, r *replica, token, room string, watch bool) *peer {
	t.Helper()
	p := &peer{Person: r.Join(t, token, room), name: name, seen: map[string]time.Time{}}
	if watch {
		// Only a broadcast counts: the server sends one after the update is stored, while a
		// handshake's step 2 may hold what the server integrated but could not store yet.
		p.OnBroadcast(func(doc *crdt.Doc) {
			now := time.Now()
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, k := range doc.GetMap(ledgerMap).Keys() {
				if _, ok := p.seen[k]; !ok {
					p.seen[k] = now
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.wg.Go(func() { p.keepConnected(ctx, r.Server, token, room) })
	t.Cleanup(p.close) // before the person's own cleanup closes the socket
	return p
}

// keepConnected reconnects, every 200 ms until it succeeds, whenever the socket ends.
func (p *peer) keepConnected(ctx context.Context, s *yardtest.Server, token, room string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.Done():
		}
		for ctx.Err() == nil {
			if err := p.Reconnect(s, token, room); err == nil {
				p.reconnects.Add(1)
				break
			}
			chaostest.Sleep(ctx, 200*time.Millisecond)
		}
	}
}

// set writes key=value into the ledger map and sends the update.
func (p *peer) set(key, value string) {
	p.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) { _ = doc.GetMap(ledgerMap).Set(tx, key, value) })
}

// seenAt returns when the watching peer first held key.
func (p *peer) seenAt(key string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.seen[key]
	return at, ok
}

// count returns how many ledger keys the servers sent the peer.
func (p *peer) count() int {
	n := 0
	p.Confirmed(func(doc *crdt.Doc) { n = doc.GetMap(ledgerMap).Len() })
	return n
}

// close stops reconnecting and closes the socket.
func (p *peer) close() {
	p.stop()
	p.wg.Wait()
	p.Close()
}

// ledger returns a person's copy of the ledger map.
func ledger(p *yardtest.Person) map[string]string {
	out := map[string]string{}
	p.Root(ledgerMap, &out)
	return out
}
