package yardtest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
)

// Person is a y-websocket client of /ws/sync/{room}, as a browser is: its own copy of the room's
// document, kept in sync with the server, and edits it sends as updates. Beside its copy it keeps
// what the server sent (its sync replies and broadcasts), which holds an edit only once the
// server stored it: the server acknowledges an update by broadcasting it, the sender included.
type Person struct {
	wmu sync.Mutex // one writer at a time on the socket

	mu     sync.Mutex // guards everything below
	doc    *crdt.Doc
	server *crdt.Doc
	conn   *websocket.Conn
	done   chan struct{} // closed when conn's reader ended
	cast   func(server *crdt.Doc)

	synced      chan struct{} // closed when the first sync step 2 was applied
	refusals    int
	lastRefusal string
}

// Join connects a person signed in with token to room on s; the connection closes when the test
// ends. The person's copy fills as the server's sync arrives (see Root).
func (s *Server) Join(t testing.TB, token, room string) *Person {
	t.Helper()
	p, err := s.Dial(token, room)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Dial is Join for callers off the test's goroutine (many people joining at once): it returns
// the error, and the caller closes the person.
func (s *Server) Dial(token, room string) (*Person, error) {
	p := &Person{doc: crdt.NewDoc(), server: crdt.NewDoc(), synced: make(chan struct{})}
	if err := p.Reconnect(s, token, room); err != nil {
		return nil, err
	}
	return p, nil
}

// Reconnect closes the person's connection and opens one to room on s, keeping the person's
// copy: as a y-websocket provider does, the handshake sends the server whatever of the copy it
// lacks (edits that never reached a server, or reached one that died before storing them).
func (p *Person) Reconnect(s *Server, token, room string) error {
	p.Close()
	conn, resp, err := s.DialWS("/ws/sync/"+room, token, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("join %s on %s: %w (HTTP %d)", room, s.URL, err, resp.StatusCode)
		}
		return fmt.Errorf("join %s on %s: %w", room, s.URL, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.conn, p.done = conn, done
	step1 := yprotocol.SyncStep1For(p.doc)
	p.mu.Unlock()
	p.send(conn, step1)
	go p.read(conn, done)
	return nil
}

// Close closes the person's connection (if open) and waits for its reader.
func (p *Person) Close() {
	p.mu.Lock()
	conn, done := p.conn, p.done
	p.mu.Unlock()
	if conn == nil {
		return
	}
	_ = conn.Close()
	<-done
}

// Done is closed when the current connection ends (the server closed it or it failed).
func (p *Person) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *Person) send(conn *websocket.Conn, b []byte) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = conn.WriteMessage(websocket.BinaryMessage, b)
}

func (p *Person) read(conn *websocket.Conn, done chan struct{}) {
	defer close(done)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		msg, _, err := yprotocol.DecodeMessage(data)
		if err != nil {
			continue
		}
		if msg.Type == yprotocol.MessageAuth {
			p.mu.Lock()
			p.refusals++
			p.lastRefusal = msg.Reason
			p.mu.Unlock()
			continue
		}
		if msg.Type != yprotocol.MessageSync {
			continue
		}
		p.mu.Lock()
		reply, _ := yprotocol.HandleSync(p.doc, msg)
		if msg.Sync != yprotocol.SyncStep1 {
			_, _ = yprotocol.HandleSync(p.server, msg)
		}
		switch msg.Sync {
		case yprotocol.SyncUpdate:
			if p.cast != nil {
				p.cast(p.server)
			}
		case yprotocol.SyncStep2:
			select {
			case <-p.synced:
			default:
				close(p.synced)
			}
		}
		p.mu.Unlock()
		if reply != nil {
			p.send(conn, reply)
		}
	}
}

// Root returns the person's copy of a document root as JSON decodes it into out; false while
// the copy has no such root.
func (p *Person) Root(name string, out any) bool {
	p.mu.Lock()
	v, ok := p.doc.RootJSON()[name]
	p.mu.Unlock()
	if !ok {
		return false
	}
	raw, err := json.Marshal(v)
	return err == nil && json.Unmarshal(raw, out) == nil
}

// Confirmed runs fn on what the server sent the person (never changed by the person's own
// edits), under the person's lock.
func (p *Person) Confirmed(fn func(doc *crdt.Doc)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p.server)
}

// OnBroadcast runs fn, under the person's lock, after an update the server sent to the whole
// room (which it does once the update is stored) has been applied to the confirmed copy (see
// Confirmed): the moment an edit reaches this person. It does not run after a handshake's
// step 2, which may hold what a server took in but could not store yet.
func (p *Person) OnBroadcast(fn func(server *crdt.Doc)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cast = fn
}

// Synced is closed once the person's copy holds the room as the server had it: the first
// handshake's step 2 arrived.
func (p *Person) Synced() <-chan struct{} { return p.synced }

// Refusals is how many of the person's messages servers refused (the y-protocols auth message,
// permission denied) and the reason given last.
func (p *Person) Refusals() (n int, last string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusals, p.lastRefusal
}

// Edit changes the person's copy in one transaction and sends what changed to the server.
func (p *Person) Edit(fn func(doc *crdt.Doc, tx *crdt.Transaction)) {
	p.mu.Lock()
	var updates [][]byte
	stop := p.doc.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	p.doc.Transact(func(tx *crdt.Transaction) { fn(p.doc, tx) })
	stop()
	conn := p.conn
	p.mu.Unlock()
	for _, u := range updates {
		p.send(conn, yprotocol.EncodeUpdate(u))
	}
}
