package yardtest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
)

// Person is a y-websocket client of /ws/sync/{room}, as a browser is: its own copy of the room's
// document, kept in sync with the server, and edits it sends as updates.
type Person struct {
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time on the socket
	mu   sync.Mutex // guards doc
	doc  *crdt.Doc
	done chan struct{}
}

// Join connects a person signed in with token to room on s; the connection closes when the test
// ends. The person's copy fills as the server's sync arrives (see Root).
func (s *Server) Join(t testing.TB, token, room string) *Person {
	t.Helper()
	conn, resp, err := s.DialWS("/ws/sync/"+room, token, nil)
	if err != nil {
		if resp != nil {
			t.Fatalf("join %s: %v (HTTP %d)", room, err, resp.StatusCode)
		}
		t.Fatalf("join %s: %v", room, err)
	}
	p := &Person{conn: conn, doc: crdt.NewDoc(), done: make(chan struct{})}
	p.send(yprotocol.SyncStep1For(p.doc))
	go p.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-p.done
	})
	return p
}

func (p *Person) send(b []byte) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (p *Person) read() {
	defer close(p.done)
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			return
		}
		msg, _, err := yprotocol.DecodeMessage(data)
		if err != nil || msg.Type != yprotocol.MessageSync {
			continue
		}
		p.mu.Lock()
		reply, _ := yprotocol.HandleSync(p.doc, msg)
		p.mu.Unlock()
		if reply != nil {
			p.send(reply)
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

// Edit changes the person's copy in one transaction and sends what changed to the server.
func (p *Person) Edit(fn func(doc *crdt.Doc, tx *crdt.Transaction)) {
	p.mu.Lock()
	var updates [][]byte
	stop := p.doc.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	p.doc.Transact(func(tx *crdt.Transaction) { fn(p.doc, tx) })
	stop()
	p.mu.Unlock()
	for _, u := range updates {
		p.send(yprotocol.EncodeUpdate(u))
	}
}
