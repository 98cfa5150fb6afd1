//go:build chaos

package redisfault

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
)

// ledgerMap is the document root the writers add their entries to.
const ledgerMap = "ledger"

// peer is a y-websocket client of /ws/sync/{room}, as a browser tab is: its own copy of the
// document, edits sent as updates, and a reconnect (then a fresh handshake, whose step 2 carries
// what the server lacks) whenever the socket ends.
type peer struct {
	name, base, token, room string

	mu     sync.Mutex // guards doc, seen
	doc    *crdt.Doc
	seen   map[string]time.Time // ledger keys, when a broadcast first brought them (watch only)
	watch  bool
	wmu    sync.Mutex // one writer at a time on conn
	conn   *websocket.Conn
	synced chan struct{} // closed on the first step 2

	refusals   atomic.Int64 // auth messages: writes the server refused
	reconnects atomic.Int64
	lastReason atomic.Value // string: the last refusal's reason

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// join connects to room on the replica at base; watch records when each ledger key arrives.
func join(name, base, token, room string, watch bool) *peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{name: name, base: base, token: token, room: room, doc: crdt.NewDoc(), watch: watch,
		seen: map[string]time.Time{}, synced: make(chan struct{}), ctx: ctx, cancel: cancel}
	p.wg.Go(p.run)
	return p
}

func (p *peer) run() {
	first := true
	for p.ctx.Err() == nil {
		conn, _, err := websocket.DefaultDialer.DialContext(p.ctx,
			"ws"+strings.TrimPrefix(p.base, "http")+"/ws/sync/"+p.room,
			http.Header{"Authorization": {"Bearer " + p.token}})
		if err != nil {
			select {
			case <-p.ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if !first {
			p.reconnects.Add(1)
		}
		first = false
		p.wmu.Lock()
		p.conn = conn
		p.wmu.Unlock()
		p.mu.Lock()
		step1 := yprotocol.SyncStep1For(p.doc)
		p.mu.Unlock()
		p.send(step1)
		stop := context.AfterFunc(p.ctx, func() { _ = conn.Close() })
		p.read(conn)
		stop()
		_ = conn.Close()
	}
}

func (p *peer) read(conn *websocket.Conn) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		msg, _, err := yprotocol.DecodeMessage(data)
		if err != nil {
			continue
		}
		switch msg.Type {
		case yprotocol.MessageAuth:
			p.refusals.Add(1)
			p.lastReason.Store(msg.Reason)
		case yprotocol.MessageSync:
			now := time.Now()
			p.mu.Lock()
			reply, _ := yprotocol.HandleSync(p.doc, msg)
			// Only a broadcast counts: the server sends one after the update is stored, while
			// a handshake's step 2 may hold what the server integrated but could not store yet.
			if p.watch && msg.Sync == yprotocol.SyncUpdate {
				for _, k := range p.doc.GetMap(ledgerMap).Keys() {
					if _, ok := p.seen[k]; !ok {
						p.seen[k] = now
					}
				}
			}
			p.mu.Unlock()
			if msg.Sync == yprotocol.SyncStep2 {
				select {
				case <-p.synced:
				default:
					close(p.synced)
				}
			}
			if reply != nil {
				p.send(reply)
			}
		}
	}
}

func (p *peer) send(b []byte) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.conn != nil {
		// A failed write ends the read too; the reconnect's handshake resends what is missing.
		_ = p.conn.WriteMessage(websocket.BinaryMessage, b)
	}
}

// set writes key=value into the ledger map and sends the update.
func (p *peer) set(key, value string) {
	p.mu.Lock()
	var updates [][]byte
	stop := p.doc.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	p.doc.Transact(func(tx *crdt.Transaction) { _ = p.doc.GetMap(ledgerMap).Set(tx, key, value) })
	stop()
	p.mu.Unlock()
	for _, u := range updates {
		p.send(yprotocol.EncodeUpdate(u))
	}
}

// ledger returns the peer's copy of the ledger map.
func (p *peer) ledger() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for k, v := range p.doc.GetMap(ledgerMap).ToJSON() {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// seenAt returns when the peer first held key.
func (p *peer) seenAt(key string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.seen[key]
	return at, ok
}

// count returns how many ledger keys the peer holds.
func (p *peer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc.GetMap(ledgerMap).Len()
}

func (p *peer) close() {
	p.cancel()
	p.wg.Wait()
}
