package room

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// lockedBuffer is a log sink several goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var mallory = identity.User{ID: "mallory", Name: "mallory"}

// A panic while handling one event costs only the connection or call that caused it: the room
// keeps serving, the panic is logged once with its stack and counted.
func TestRoomSurvivesAPanicInOneEvent(t *testing.T) {
	var logs lockedBuffer
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.onMessage = func(c *conn, msg yprotocol.Message) {
			if c.user.ID == mallory.ID && msg.Type == yprotocol.MessageAwareness {
				panic("latent engine bug")
			}
		}
	})
	a := connect(t, m, "p", alice)
	bad := connect(t, m, "p", mallory)
	eventually(t, "both synced", func() bool {
		a.mu.Lock()
		bad.mu.Lock()
		defer a.mu.Unlock()
		defer bad.mu.Unlock()
		return a.synced && bad.synced
	})
	bad.send(yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: 5, Clock: 1, State: json.RawMessage(`{}`)}}}.Encode()))
	select {
	case <-bad.ch.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection whose message panicked was not closed")
	}
	if bad.ch.code != errcode.CloseCode(errcode.Internal) {
		t.Fatalf("closed with %d, want internal's %d", bad.ch.code, errcode.CloseCode(errcode.Internal))
	}
	if n := strings.Count(logs.String(), "room event panicked"); n != 1 || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("panic logged %d times (want once, with the stack):\n%s", n, logs.String())
	}

	// A server read or write that panics gets a coded error; nothing else is harmed.
	err := m.Read(context.Background(), "p", func(*crdt.Doc) { panic("reader bug") })
	if e := errcode.As(err); err == nil || e.Code != errcode.Internal {
		t.Fatalf("a panicking read returned %v", err)
	}
	err = m.Transact(context.Background(), "p", func(*crdt.Doc, *crdt.Transaction) { panic("writer bug") })
	if e := errcode.As(err); err == nil || e.Code != errcode.Internal {
		t.Fatalf("a panicking write returned %v", err)
	}
	if got := testutil.ToFloat64(m.m.panics); got != 3 {
		t.Fatalf("yard_room_panics_total %v, want 3", got)
	}

	a.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "after", true) })
	eventually(t, "the room still takes writes", func() bool {
		j, err := m.JSON(context.Background(), "p")
		mm, _ := j["m"].(map[string]any)
		return err == nil && mm["after"] == true
	})
}

// connectRaw serves ch as connection connID of u in room, until the test ends.
func connectRaw(t *testing.T, m *Manager, u identity.User, connID, room string) *testChannel {
	t.Helper()
	ch := newTestChannel(1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Serve(ctx, ch, u, connID, room) }()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func countSync(ch *testChannel, kind yprotocol.SyncType) int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n := 0
	for _, msg := range ch.out {
		if m, _, err := yprotocol.DecodeMessage(msg.Data); err == nil && m.Type == yprotocol.MessageSync && m.Sync == kind {
			n++
		}
	}
	return n
}

// The message rate is one connection's, across all its sync channels: opening more channels does
// not multiply it.
func TestMessageRateIsPerConnection(t *testing.T) {
	clk := newFakeClock()
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) {
		o.clock = clk
		o.MessageRate, o.MessageBurst = 10, 2
	})
	delayed := m.m.delayed.WithLabelValues("message_rate")
	chans := []*testChannel{connectRaw(t, m, alice, "conn-1", "r1"), connectRaw(t, m, alice, "conn-1", "r2"), connectRaw(t, m, alice, "conn-1", "r3")}
	step1 := mux.Message{Type: mux.Binary, Data: yprotocol.EncodeSyncStep1(crdt.NewDoc().EncodeStateVector())}
	for _, ch := range chans {
		ch.in <- step1
	}
	eventually(t, "the third message waits", func() bool { return testutil.ToFloat64(delayed) == 1 })
	answered := func() int {
		n := 0
		for _, ch := range chans {
			n += countSync(ch, yprotocol.SyncStep2)
		}
		return n
	}
	eventually(t, "two answered", func() bool { return answered() == 2 })
	clk.Advance(100 * time.Millisecond)
	eventually(t, "the third answered once its token is due", func() bool { return answered() == 3 })
}

// One user's document writes share one budget across the user's connections; other users are not
// held by it.
func TestUserWriteBudget(t *testing.T) {
	clk := newFakeClock()
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) {
		o.clock = clk
		o.UserWriteBytesPerSec = 2000
	})
	delayed := m.m.delayed.WithLabelValues("write_budget")
	// Raw connections: they write only what the test sends (a test client echoes what it receives).
	a1 := connectRaw(t, m, alice, "a1", "w")
	a2 := connectRaw(t, m, alice, "a2", "w")
	b := connectRaw(t, m, bob, "b", "w")
	big := strings.Repeat("x", 1500)
	write := func(ch *testChannel, key string) {
		d := crdt.NewDoc()
		var u []byte
		d.OnUpdate(func(b []byte) { u = b })
		d.Transact(func(tx *crdt.Transaction) { _ = d.GetMap(key).Set(tx, "v", big) })
		ch.in <- mux.Message{Type: mux.Binary, Data: yprotocol.EncodeUpdate(u)}
	}
	has := func(key string) bool {
		j, _ := m.JSON(context.Background(), "w")
		_, ok := j[key]
		return ok
	}
	write(a1, "a1")
	eventually(t, "alice's first write", func() bool { return has("a1") })
	write(a2, "a2")
	eventually(t, "alice's second write waits for her budget", func() bool { return testutil.ToFloat64(delayed) == 1 })
	write(b, "b")
	eventually(t, "bob's write, on his own budget", func() bool { return has("b") })
	if has("a2") {
		t.Fatal("alice's second connection wrote past her budget")
	}
	clk.Advance(time.Second)
	eventually(t, "alice's second write once her budget allows", func() bool { return has("a2") })
}

// An update that would take the document past MaxDocBytes is refused; the room is unharmed and
// takes smaller ones.
func TestDocSizeQuota(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) { o.MaxDocBytes = 4096 })
	a := connect(t, m, "q", alice)
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "first", strings.Repeat("x", 3000)) })
	eventually(t, "the first write", func() bool {
		j, _ := m.JSON(context.Background(), "q")
		mm, _ := j["m"].(map[string]any)
		return mm["first"] != nil
	})
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) {
		_ = d.GetMap("m").Set(tx, "second", strings.Repeat("y", 2000))
	})
	eventually(t, "refused at the quota", func() bool {
		for _, r := range a.deniedReasons() {
			if strings.Contains(r, "size limit") {
				return true
			}
		}
		return false
	})
	b := connect(t, m, "q", bob)
	b.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("n").Set(tx, "small", 1) })
	eventually(t, "a small write still lands", func() bool {
		j, _ := m.JSON(context.Background(), "q")
		n, _ := j["n"].(map[string]any)
		return n["small"] != nil
	})
	j, _ := m.JSON(context.Background(), "q")
	if mm, _ := j["m"].(map[string]any); mm["second"] != nil {
		t.Fatal("the write over the quota landed")
	}
}

// DocJSON encodes a document once per version (a deletion is a new version too) and refuses one
// over MaxReadDocBytes with too_large.
func TestDocJSONIsCachedAndBounded(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) { o.MaxReadDocBytes = 2000 })
	a := connect(t, m, "d", alice)
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) {
		_ = d.GetMap("krates").Set(tx, "k1", "v")
		_ = d.GetMap("krates").Set(tx, "k2", "w")
	})
	read := func() string {
		t.Helper()
		b, err := m.DocJSON(context.Background(), "d", []string{"krates"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	eventually(t, "the write", func() bool { return strings.Contains(read(), "k2") })
	before := m.docs.encodes.Load()
	first, second := read(), read()
	if first != second || m.docs.encodes.Load() != before {
		t.Fatalf("an unchanged document was encoded again (%d times): %s / %s", m.docs.encodes.Load()-before, first, second)
	}
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) { d.GetMap("krates").Delete(tx, "k1") })
	eventually(t, "the deletion", func() bool { return read() == `{"krates":{"k2":"w"}}` })

	a.do(func(tx *crdt.Transaction, d *crdt.Doc) {
		_ = d.GetMap("krates").Set(tx, "big", strings.Repeat("z", 3000))
	})
	eventually(t, "a document over the bound refused", func() bool {
		_, err := m.DocJSON(context.Background(), "d", nil, nil)
		return err != nil && errcode.As(err).Code == errcode.TooLarge
	})

	// A room not loaded here is refused by its stored size, before it is decoded.
	big := crdt.NewDoc()
	big.Transact(func(tx *crdt.Transaction) { _ = big.GetMap("krates").Set(tx, "big", strings.Repeat("z", 3000)) })
	u, err := big.EncodeStateAsUpdate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.be.Append(context.Background(), "cold", u); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DocJSON(context.Background(), "cold", nil, nil); err == nil || errcode.As(err).Code != errcode.TooLarge {
		t.Fatalf("a stored document over the bound: %v", err)
	}
}

// A client's awareness state names the connection's user, whatever the client claims.
func TestAwarenessNamesTheConnectionsUser(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", nil)
	spoofer := connect(t, m, "who", alice)
	watcher := connect(t, m, "who", bob)
	send := func(id uint64, state string) {
		spoofer.send(yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: id, Clock: 1, State: json.RawMessage(state)}}}.Encode()))
	}
	send(31, `{"userId":"bob","name":"Bob","color":"#f00","cursor":{"x":1,"y":2}}`)
	send(32, `{"cursor":{"x":3,"y":4}}`)
	var got, plain map[string]any
	eventually(t, "both states seen", func() bool {
		s, ok := watcher.aware.State(31)
		p, ok2 := watcher.aware.State(32)
		if !ok || !ok2 {
			return false
		}
		got, plain = nil, nil
		return json.Unmarshal(s, &got) == nil && json.Unmarshal(p, &plain) == nil
	})
	if got["userId"] != "alice" || got["name"] != "alice" || got["color"] != "#f00" {
		t.Fatalf("a state claiming bob reached others as %v", got)
	}
	if _, named := plain["userId"]; named || len(plain) != 1 {
		t.Fatalf("a state naming nobody was changed: %v", plain)
	}
}
