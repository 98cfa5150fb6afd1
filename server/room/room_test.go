package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testChannel is a mux.Channel between a test client and a room.
type testChannel struct {
	in     chan mux.Message
	mu     sync.Mutex
	out    []mux.Message
	outSig chan struct{}
	limit  int
	closed chan struct{}
	once   sync.Once
	code   int
}

func newTestChannel(limit int) *testChannel {
	return &testChannel{in: make(chan mux.Message, 64), outSig: make(chan struct{}, 1), limit: limit, closed: make(chan struct{})}
}

func (c *testChannel) Recv(ctx context.Context) (mux.Message, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-c.closed:
		return mux.Message{}, mux.ErrClosed
	case <-ctx.Done():
		return mux.Message{}, ctx.Err()
	}
}

func (c *testChannel) Send(ctx context.Context, m mux.Message) error {
	select {
	case <-c.closed:
		return mux.ErrClosed
	default:
	}
	c.mu.Lock()
	if len(c.out) >= c.limit {
		c.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("test channel full")
	}
	c.out = append(c.out, m)
	c.mu.Unlock()
	select {
	case c.outSig <- struct{}{}:
	default:
	}
	return nil
}

func (c *testChannel) TrySend(m mux.Message) bool { return c.Send(noWait, m) == nil }
func (c *testChannel) CloseWithError(error)       { c.once.Do(func() { close(c.closed) }) }
func (c *testChannel) CloseConn(code int, _ string) {
	c.code = code
	c.once.Do(func() { close(c.closed) })
}

func (c *testChannel) take() []mux.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	return out
}

// client is a y-protocols peer with its own crdt document, as a y-websocket client behaves.
type client struct {
	t      *testing.T
	name   string
	ch     *testChannel
	doc    *crdt.Doc
	mu     sync.Mutex
	synced bool
	denied []string
	aware  *yprotocol.Awareness
	// awareMsgs and updateMsgs count awareness and sync update messages received.
	awareMsgs  int
	updateMsgs int
	done       chan struct{}
	cancel     context.CancelFunc
	pump       chan struct{}
}

func connect(t *testing.T, m *Manager, room string, u identity.User) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{t: t, name: u.Name, ch: newTestChannel(100000), doc: crdt.NewDoc(), done: make(chan struct{}), cancel: cancel}
	c.aware = yprotocol.NewAwareness(c.doc.ClientID(), nil)
	c.doc.OnUpdate(func(u []byte) { c.send(yprotocol.EncodeUpdate(u)) })
	go func() {
		defer close(c.done)
		_ = m.Serve(ctx, c.ch, u, mux.NewConnID(), room)
	}()
	c.send(yprotocol.SyncStep1For(c.doc))
	c.pump = make(chan struct{})
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *client) send(b []byte) {
	select {
	case c.ch.in <- mux.Message{Type: mux.Binary, Data: b}:
	case <-c.ch.closed:
	}
}

func (c *client) read() {
	defer close(c.pump)
	for {
		select {
		case <-c.ch.outSig:
		case <-c.ch.closed:
			return
		}
		for _, m := range c.ch.take() {
			msg, _, err := yprotocol.DecodeMessage(m.Data)
			if err != nil {
				c.t.Errorf("%s: server sent undecodable %x: %v", c.name, m.Data, err)
				continue
			}
			c.mu.Lock()
			switch msg.Type {
			case yprotocol.MessageSync:
				if msg.Sync == yprotocol.SyncStep2 {
					c.synced = true
				}
				if msg.Sync == yprotocol.SyncUpdate {
					c.updateMsgs++
				}
				reply, err := yprotocol.HandleSync(c.doc, msg)
				if err != nil {
					c.t.Errorf("%s: %v", c.name, err)
				}
				if reply != nil {
					c.mu.Unlock()
					c.send(reply)
					c.mu.Lock()
				}
			case yprotocol.MessageAwareness:
				c.awareMsgs++
				_, _ = c.aware.ApplyUpdate(msg.Payload)
			case yprotocol.MessageAuth:
				c.denied = append(c.denied, msg.Reason)
			}
			c.mu.Unlock()
		}
	}
}

func (c *client) close() {
	c.cancel()
	<-c.done
	c.ch.CloseWithError(nil)
	<-c.pump
}

func (c *client) do(fn func(tx *crdt.Transaction, d *crdt.Doc)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.doc.Transact(func(tx *crdt.Transaction) { fn(tx, c.doc) })
}

func (c *client) json() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doc.RootJSON()
}

func (c *client) deniedReasons() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.denied...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newManager(t *testing.T, be backend.Backend, replica string, mod func(*Options)) *Manager {
	t.Helper()
	var store directory.Store = directory.NewMemory()
	if r, ok := be.(redisBE); ok {
		store = r.dir
	}
	o := Options{
		Backend: be, Directory: testDirectory(t, store, replica), Grace: 200 * time.Millisecond, CompactEvery: 20,
		StoreTimeout: time.Second,
		afterEvent: func(r *room) {
			if err := r.upd.check(); err != nil {
				t.Errorf("room %s: %v", r.id, err)
			}
		},
	}
	if mod != nil {
		mod(&o)
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// testDirectory is replica's directory on store, closed after the test.
func testDirectory(t testing.TB, store directory.Store, replica string) *directory.Directory {
	t.Helper()
	d, err := directory.New(store, directory.Config{Replica: replica, TTL: 5 * time.Second, Refresh: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// redisBE is a Redis backend with the directory store of the same Redis.
type redisBE struct {
	backend.Backend
	dir directory.Store
}

func redisBackend(t *testing.T, srv *redistest.Server, replica string) backend.Backend {
	t.Helper()
	opts, _ := redis.ParseURL(srv.URL())
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	be, err := backend.NewRedis(rdb, backend.RedisOptions{Replica: replica, LogRetention: time.Second, Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = be.Close(); _ = rdb.Close() })
	return redisBE{Backend: be, dir: directory.NewRedis(rdb)}
}

var (
	alice = identity.User{ID: "alice", Name: "alice"}
	bob   = identity.User{ID: "bob", Name: "bob"}
	carol = identity.User{ID: "carol", Name: "carol", Groups: []string{"viewers"}}
)

func sameJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestSingleReplicaSync(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) { o.ReadOnly = []string{"group:viewers"} })
	a := connect(t, m, "r1", alice)
	b := connect(t, m, "r1", bob)
	eventually(t, "both synced", func() bool {
		a.mu.Lock()
		b.mu.Lock()
		defer a.mu.Unlock()
		defer b.mu.Unlock()
		return a.synced && b.synced
	})
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) {
		k := d.GetMap("krates").SetMap(tx, "k1")
		_ = k.Set(tx, "kind", "pod")
		_ = k.Set(tx, "wx", 10)
	})
	b.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetText("notes").Insert(tx, 0, "hello") })
	eventually(t, "convergence", func() bool { return sameJSON(a.json(), b.json()) && len(a.json()) == 2 })
	got, err := m.JSON(context.Background(), "r1")
	if err != nil || !sameJSON(got, a.json()) {
		t.Fatalf("server doc %v (%v), clients %v", got, err, a.json())
	}

	// A late joiner gets everything.
	late := connect(t, m, "r1", bob)
	eventually(t, "late joiner", func() bool { return sameJSON(late.json(), a.json()) })

	// Read-only users are refused and change nothing.
	c := connect(t, m, "r1", carol)
	eventually(t, "carol synced", func() bool { return sameJSON(c.json(), a.json()) })
	c.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("krates").Set(tx, "evil", 1) })
	eventually(t, "carol told read-only", func() bool { return len(c.deniedReasons()) > 0 })
	if got, _ := m.JSON(context.Background(), "r1"); got["krates"].(map[string]any)["evil"] != nil {
		t.Fatalf("read-only write landed: %v", got)
	}

	// A malformed update is refused to its sender; the room carries on.
	a.send(yprotocol.EncodeUpdate([]byte{0x01, 0x05, 0xff, 0xff}))
	eventually(t, "malformed refused", func() bool { return len(a.deniedReasons()) > 0 })
	b.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetText("notes").Insert(tx, 5, " world") })
	eventually(t, "room still works", func() bool {
		j := a.json()
		return j["notes"] == "hello world" && sameJSON(j, b.json())
	})
}

func TestAwarenessOwnershipAndRemoval(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", nil)
	a := connect(t, m, "aw", alice)
	b := connect(t, m, "aw", bob)
	state := func(c *client, id uint64, s string) []byte {
		return yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: id, Clock: 1, State: json.RawMessage(s)}}}.Encode())
	}
	a.send(state(a, 111, `{"user":"alice"}`))
	eventually(t, "b sees a", func() bool { s, ok := b.aware.State(111); return ok && string(s) == `{"user":"alice"}` })
	eventually(t, "a hears its own echo", func() bool { _, ok := a.aware.State(111); return ok })
	// b may not speak for a's client id.
	b.send(yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: 111, Clock: 5, State: json.RawMessage(`{"user":"mallory"}`)}}}.Encode()))
	b.send(state(b, 222, `{"user":"bob"}`))
	eventually(t, "a sees b", func() bool { _, ok := a.aware.State(222); return ok })
	if s, _ := a.aware.State(111); string(s) != `{"user":"alice"}` {
		t.Fatalf("spoofed awareness accepted: %s", s)
	}
	ps, err := m.Presence(context.Background())
	if err != nil || len(ps) != 2 {
		t.Fatalf("presence %+v %v", ps, err)
	}
	b.close()
	eventually(t, "b's removal reaches a", func() bool { _, ok := a.aware.State(222); return !ok })
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", nil)
	a := connect(t, m, "slow", alice)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := newTestChannel(3)
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Serve(ctx, slow, bob, "slow-conn", "slow") }()
	eventually(t, "slow client greeted", func() bool { slow.mu.Lock(); defer slow.mu.Unlock(); return len(slow.out) > 0 })
	// Spaced out, so the room sends each update on its own rather than merging those that
	// arrive together.
	deadline := time.After(10 * time.Second)
wait:
	for i := 0; ; i++ {
		if i < 20 {
			a.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, fmt.Sprint(i), i) })
		}
		select {
		case <-slow.closed:
			break wait
		case <-deadline:
			t.Fatal("slow consumer not disconnected")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if slow.code != mux.CloseCode(mux.CodeSlowConsumer) {
		t.Fatalf("close code %d", slow.code)
	}
	cancel()
	<-done
}

func TestServerWritesReachEveryReplica(t *testing.T) {
	srv := redistest.Start(t)
	ma := newManager(t, redisBackend(t, srv, "a"), "a", nil)
	mb := newManager(t, redisBackend(t, srv, "b"), "b", nil)
	cb := connect(t, mb, "deploy", bob)
	eventually(t, "synced", func() bool { cb.mu.Lock(); defer cb.mu.Unlock(); return cb.synced })
	err := ma.Transact(context.Background(), "deploy", func(doc *crdt.Doc, tx *crdt.Transaction) {
		_ = doc.GetMap("deploys").Set(tx, "run-1", "succeeded")
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen any
	if err := ma.View(context.Background(), "deploy", func(doc *crdt.Doc) { seen, _ = doc.GetMap("deploys").Get("run-1") }); err != nil || seen != "succeeded" {
		t.Fatalf("View after Transact: %v, %v", seen, err)
	}
	eventually(t, "server write on replica b's client", func() bool {
		d, _ := cb.json()["deploys"].(map[string]any)
		return d["run-1"] == "succeeded"
	})
}

func TestTwoReplicasAndRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	ma := newManager(t, redisBackend(t, srv, "a"), "a", nil)
	mb := newManager(t, redisBackend(t, srv, "b"), "b", nil)
	ca := connect(t, ma, "shared", alice)
	cb := connect(t, mb, "shared", bob)
	for i := range 30 {
		ca.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("krates").Set(tx, fmt.Sprint("a", i), i) })
		cb.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetArray("layout").Push(tx, i) })
	}
	eventually(t, "replicas converge", func() bool {
		return sameJSON(ca.json(), cb.json()) && len(ca.json()["krates"].(map[string]any)) == 30
	})

	// Awareness crosses replicas.
	ca.send(yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: 7, Clock: 1, State: json.RawMessage(`{"u":"a"}`)}}}.Encode()))
	eventually(t, "awareness a->b", func() bool { _, ok := cb.aware.State(7); return ok })

	// Presence lists both replicas.
	eventually(t, "presence from both replicas", func() bool {
		ps, err := ma.Presence(context.Background())
		return err == nil && len(ps) == 2 && ps[0].Replica != ps[1].Replica
	})

	srv.Kill()
	ca.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("krates").Set(tx, "during-outage", true) })
	eventually(t, "write refused during the outage", func() bool { return len(ca.deniedReasons()) > 0 })
	srv.Restart(t)
	eventually(t, "the refused write is synced after recovery", func() bool {
		k, _ := cb.json()["krates"].(map[string]any)
		return k["during-outage"] == true && sameJSON(ca.json(), cb.json())
	})
	for i := range 10 {
		cb.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("krates").Set(tx, fmt.Sprint("b", i), i) })
	}
	eventually(t, "converge after restart", func() bool { return sameJSON(ca.json(), cb.json()) })

	// The log was compacted into a v2 snapshot along the way...
	beC := redisBackend(t, srv, "c")
	st, err := beC.Load(context.Background(), "shared")
	if err != nil || st.Snapshot == nil {
		t.Fatalf("no snapshot after 70 updates with CompactEvery 20: %v", err)
	}
	// ...and a third replica loading from Redis alone (snapshot + log) has everything.
	mc := newManager(t, beC, "c", nil)
	got, err := mc.JSON(context.Background(), "shared")
	if err != nil || !reflect.DeepEqual(normalize(got), normalize(ca.json())) {
		t.Fatalf("fresh replica loaded %v (%v), want %v", got, err, ca.json())
	}
}

func normalize(v map[string]any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzClientMessage sends one arbitrary message into a room: whatever it is, the server must
// not fail, and the room must still take a well-formed update afterwards.
func FuzzClientMessage(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0})                                 // step 1 of an empty doc
	f.Add([]byte{0, 2, 5, 1, 2, 3})                           // truncated update
	f.Add([]byte{0, 1, 2, 0, 0})                              // empty step 2
	f.Add([]byte{1, 10, 1, 7, 1, 5, 'n', 'u', 'l', 'l', 'x'}) // awareness with trailing bytes
	f.Add([]byte{3})                                          // query awareness
	f.Add([]byte{2, 0, 3, 'a', 'b', 'c'})                     // auth from a client
	f.Add([]byte{0, 2, 0x0e, 1, 1, 7, 0, 0x28, 1, 1, 'm', 1, 'k', 1, 0x7d, 1, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := NewManager(Options{Backend: backend.NewMemory(), Directory: testDirectory(t, directory.NewMemory(), "fuzz")})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		bad := connect(t, m, "fuzz", alice)
		good := connect(t, m, "fuzz", bob)
		bad.send(msg)
		good.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("after").Set(tx, "ok", true) })
		deadline := time.Now().Add(5 * time.Second)
		for {
			j, err := m.JSON(context.Background(), "fuzz")
			if err != nil {
				t.Fatal(err)
			}
			if a, _ := j["after"].(map[string]any); a["ok"] == true {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("room stopped taking updates after %x: %v", msg, j)
			}
			time.Sleep(5 * time.Millisecond)
		}
		bad.close()
		good.close()
	})
}

func TestQueryAwarenessAndLimits(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", func(o *Options) {
		o.MaxMessageBytes = 64
		o.MessageRate, o.MessageBurst = 50, 5
	})
	a := connect(t, m, "q", alice)
	b := connect(t, m, "q", bob)
	a.send(yprotocol.EncodeAwareness(yprotocol.AwarenessUpdate{Clients: []yprotocol.AwarenessEntry{{ClientID: 9, Clock: 1, State: json.RawMessage(`{"n":1}`)}}}.Encode()))
	eventually(t, "b sees a", func() bool { _, ok := b.aware.State(9); return ok })

	// A client that asks for awareness gets every state.
	late := connect(t, m, "q", carol)
	eventually(t, "greeted with awareness", func() bool { late.mu.Lock(); defer late.mu.Unlock(); return late.awareMsgs == 1 })
	late.send(yprotocol.EncodeQueryAwareness())
	eventually(t, "query answered", func() bool { late.mu.Lock(); defer late.mu.Unlock(); return late.awareMsgs == 2 })

	// An oversized message is refused to its sender and changes nothing.
	big := make([]byte, 200)
	a.send(yprotocol.EncodeUpdate(big))
	eventually(t, "oversized refused", func() bool {
		for _, r := range a.deniedReasons() {
			if strings.Contains(r, "larger than the limit") {
				return true
			}
		}
		return false
	})

	// Past the burst, a connection's messages are read at the configured rate.
	start := time.Now()
	for range 20 {
		a.send(yprotocol.EncodeQueryAwareness())
	}
	a.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "x", 1) })
	eventually(t, "rate-limited write arrives", func() bool { return canonical(b.json()) == `{"m":{"x":1}}` })
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("21 messages over a burst of 5 at 50/s took %s; want at least 0.3s", el)
	}
}
