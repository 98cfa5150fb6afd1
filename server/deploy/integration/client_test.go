package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// person is a y-websocket client of /ws/sync/{room}, as a browser is: its own copy of the
// document, kept in sync, and edits it sends as updates.
type person struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	doc  *crdt.Doc
	done chan struct{}
}

// join connects a person to room on s and waits until their copy holds the workflow.
func join(t testing.TB, s *yardtest.Server, token, room string) *person {
	t.Helper()
	conn, resp, err := s.DialWS("/ws/sync/"+room, token, nil)
	if err != nil {
		if resp != nil {
			t.Fatalf("join %s: %v (HTTP %d)", room, err, resp.StatusCode)
		}
		t.Fatalf("join %s: %v", room, err)
	}
	p := &person{conn: conn, doc: crdt.NewDoc(), done: make(chan struct{})}
	p.send(yprotocol.SyncStep1For(p.doc))
	go p.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-p.done
	})
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "the person's copy of the workflow", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		_, ok := p.doc.RootJSON()["workflow"]
		return ok
	})
	return p
}

func (p *person) send(b []byte) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (p *person) read() {
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

// edit changes the person's copy in one transaction and sends what changed to the server.
func (p *person) edit(fn func(doc *crdt.Doc, tx *crdt.Transaction)) {
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
