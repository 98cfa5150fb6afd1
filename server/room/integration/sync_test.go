package integration_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/yardtest"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

// Clients spread over two replicas edit concurrently and converge; the server's document equals
// theirs on both replicas; a late joiner gets all of it; the rooms listing and the admin
// presence show everyone on both replicas.
func TestConvergenceAcrossReplicas(t *testing.T) { redistest.Each(t, testConvergenceAcrossReplicas) }

func testConvergenceAcrossReplicas(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	a := startReplica(t, "a", rs)
	b := startReplica(t, "b", rs)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	admin := a.login(t, "root", true)

	var ids []string
	for i := range 6 {
		r, version := a, "v3"
		if i%2 == 1 {
			r = b
		}
		if i >= 4 {
			version = "v2"
		}
		id := fmt.Sprintf("c%d", i)
		d.connect(id, r, "canvas", token, version)
		ids = append(ids, id)
	}
	d.call("editFor", map[string]any{"ids": ids, "rate": 25, "ms": 3000})
	res := d.call("waitEqual", map[string]any{"ids": ids, "timeoutMs": 20000})
	want := canon(res["json"])
	if !strings.Contains(want, `"krates"`) || !strings.Contains(want, `"notes"`) {
		t.Fatalf("edits did not produce the expected roots: %.300s", want)
	}
	for _, r := range []*replica{a, b} {
		var doc map[string]any
		if st := r.get(t, token, "/api/rooms/canvas/doc", &doc); st != 200 {
			t.Fatalf("GET doc on %s: %d", r.name, st)
		}
		if got := canon(doc); got != want {
			t.Fatalf("replica %s serves\n%.400s\nclients hold\n%.400s", r.name, got, want)
		}
	}

	d.connect("late", b, "canvas", token, "v3")
	if got := canon(d.json("late")); got != want {
		t.Fatalf("late joiner has\n%.300s\nwant\n%.300s", got, want)
	}

	eventually(t, 20*time.Second, "rooms listing with 7 participants", func() bool {
		var out struct {
			Rooms []struct {
				ID           string
				Participants int
			}
		}
		a.get(t, token, "/api/rooms", &out)
		for _, r := range out.Rooms {
			if r.ID == "canvas" && r.Participants == 7 {
				return true
			}
		}
		return false
	})
	if st := a.get(t, token, "/api/admin/presence", nil); st != 403 {
		t.Fatalf("non-admin presence: %d, want 403", st)
	}
	eventually(t, 20*time.Second, "admin presence from both replicas", func() bool {
		var out struct {
			Presence []struct {
				Room, UserName, Replica string
				ConnectedAt             time.Time
			}
		}
		b.get(t, admin, "/api/admin/presence", &out)
		seen := map[string]int{}
		for _, p := range out.Presence {
			if p.Room == "canvas" && p.UserName == "alice" && !p.ConnectedAt.IsZero() {
				seen[p.Replica]++
			}
		}
		return seen["a"] == 3 && seen["b"] == 4
	})
}

// A replica is SIGKILLed while its clients edit; they reconnect to the other replica and
// nothing is lost: everyone converges, and a replica started afterwards loads the same document
// from Redis alone.
func TestReplicaKilledMidEdit(t *testing.T) { redistest.Each(t, testReplicaKilledMidEdit) }

func testReplicaKilledMidEdit(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	a := startReplica(t, "a", rs)
	b := startReplica(t, "b", rs)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	ids := []string{"a1", "a2", "a3", "b1", "b2"}
	for _, id := range ids {
		r := a
		if id[0] == 'b' {
			r = b
		}
		d.connect(id, r, "killroom", token, "v3")
	}
	// The next reconnect of a's clients goes to b.
	for _, id := range ids[:3] {
		d.call("target", map[string]any{"id": id, "base": b.ws()})
	}
	go func() {
		time.Sleep(1200 * time.Millisecond)
		a.kill()
	}()
	d.call("editFor", map[string]any{"ids": ids, "rate": 20, "ms": 4000})
	res := d.call("waitEqual", map[string]any{"ids": ids, "timeoutMs": 30000})
	want := canon(res["json"])

	var doc map[string]any
	b.get(t, token, "/api/rooms/killroom/doc", &doc)
	if got := canon(doc); got != want {
		t.Fatalf("replica b serves\n%.300s\nclients hold\n%.300s", got, want)
	}
	c := startReplica(t, "c", rs)
	doc = nil
	c.get(t, token, "/api/rooms/killroom/doc", &doc)
	if got := canon(doc); got != want {
		t.Fatalf("a fresh replica loads\n%.300s\nclients hold\n%.300s", got, want)
	}
}

// Redis is killed and restarted (AOF, fsync always) while clients edit: writes are refused while
// it is down, the rooms recover by themselves, and nothing is lost.
func TestRedisRestartMidEdit(t *testing.T) {
	srv := startRedis(t)
	rs := srv.Target()
	a := startReplica(t, "a", rs)
	b := startReplica(t, "b", rs)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	ids := []string{"a1", "a2", "b1", "b2"}
	for _, id := range ids {
		r := a
		if id[0] == 'b' {
			r = b
		}
		d.connect(id, r, "redisroom", token, "v3")
	}
	go func() {
		time.Sleep(time.Second)
		srv.Kill()
		time.Sleep(3 * time.Second)
		srv.Restart(t)
	}()
	d.call("editFor", map[string]any{"ids": ids, "rate": 20, "ms": 5500})
	res := d.call("waitEqual", map[string]any{"ids": ids, "timeoutMs": 30000})
	want := canon(res["json"])
	warned := false
	for _, id := range ids {
		st := d.call("status", map[string]any{"id": id})
		if w, _ := st["lastWarn"].(string); strings.Contains(w, "store") {
			warned = true
		}
	}
	if !warned {
		t.Error("no client was told that writes were refused while Redis was down")
	}
	for _, r := range []*replica{a, b, startReplica(t, "c", rs)} {
		var doc map[string]any
		r.get(t, token, "/api/rooms/redisroom/doc", &doc)
		if got := canon(doc); got != want {
			t.Fatalf("replica %s serves\n%.300s\nclients hold\n%.300s", r.name, got, want)
		}
	}
}

// Awareness set on replica a reaches a client on replica b; its removal arrives on disconnect.
func TestAwarenessAcrossReplicas(t *testing.T) { redistest.Each(t, testAwarenessAcrossReplicas) }

func testAwarenessAcrossReplicas(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	a := startReplica(t, "a", rs)
	b := startReplica(t, "b", rs)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	d.connect("onA", a, "aw", token, "v3")
	d.connect("onB", b, "aw", token, "v2")
	d.call("setAwareness", map[string]any{"id": "onA", "state": map[string]any{"userId": "alice", "cursor": map[string]any{"x": 1, "y": 2}}})
	has := func() bool {
		st := d.call("awareness", map[string]any{"id": "onB"})
		for _, s := range st["states"].([]any) {
			if strings.Contains(canon(s), `"userId":"alice"`) {
				return true
			}
		}
		return false
	}
	eventually(t, 20*time.Second, "a's awareness on b", has)
	d.call("disconnect", map[string]any{"id": "onA"})
	eventually(t, 20*time.Second, "a's awareness removed on b", func() bool { return !has() })
}

// Stock y-websocket clients send every awareness update they receive back to the server, so
// states forwarded one by one cost n² messages each way. 30 clients on two replicas announce
// themselves at once: everyone sees everyone, each in a few grouped messages.
func TestAwarenessArrivesGrouped(t *testing.T) { redistest.Each(t, testAwarenessArrivesGrouped) }

func testAwarenessArrivesGrouped(t *testing.T, k redistest.Kind) {
	rs := redistest.Fresh(t, k)
	reps := []*replica{startReplica(t, "a", rs), startReplica(t, "b", rs)}
	d := startDriver(t)
	token := reps[0].login(t, "alice", false)
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
		d.connect(ids[i], reps[i%2], "grouped", token, "v3")
	}
	received := func(id string) float64 { return d.call("status", map[string]any{"id": id})["received"].(float64) }
	before := make([]float64, n)
	for i, id := range ids {
		before[i] = received(id)
	}
	d.call("setAwarenessAll", map[string]any{"ids": ids, "state": map[string]any{"userId": "alice"}})
	eventually(t, 20*time.Second, "every client sees the other 29", func() bool {
		for _, id := range ids {
			if len(d.call("awareness", map[string]any{"id": id})["states"].([]any)) != n-1 {
				return false
			}
		}
		return true
	})
	for i, id := range ids {
		if got := received(id) - before[i]; got > n/3 {
			t.Fatalf("%s received %v messages for %d new states: not grouped", id, got, n)
		}
	}
}

// Read-only users cannot change the document and are told why; a malformed update is refused to
// its sender and the room carries on for everyone.
func TestReadOnlyAndMalformed(t *testing.T) {
	a := startReplica(t, "a", noRedis, "--room-read-only", "carol")
	d := startDriver(t)
	alice, carol := a.login(t, "alice", false), a.login(t, "carol", false)
	d.connect("alice", a, "ro", alice, "v3")
	d.connect("carol", a, "ro", carol, "v3")
	d.call("setKey", map[string]any{"id": "alice", "map": "krates", "key": "k1", "value": "ok"})
	d.call("setKey", map[string]any{"id": "carol", "map": "krates", "key": "evil", "value": "x"})
	eventually(t, 20*time.Second, "carol told she is read-only", func() bool {
		w, _ := d.call("status", map[string]any{"id": "carol"})["lastWarn"].(string)
		return strings.Contains(w, "read-only")
	})
	var doc map[string]any
	a.get(t, alice, "/api/rooms/ro/doc", &doc)
	if got := canon(doc); got != `{"krates":{"k1":"ok"}}` {
		t.Fatalf("doc after a read-only write: %s", got)
	}
	if strings.Contains(canon(d.json("alice")), "evil") {
		t.Fatal("a read-only write reached another client")
	}

	// [sync, update, <claims 5 bytes, has 3>] and an update whose structs do not decode.
	for _, raw := range [][]byte{{0, 2, 5, 1, 2, 3}, {0, 2, 6, 1, 200, 1, 7, 0, 0x88}} {
		d.call("raw", map[string]any{"id": "alice", "b64": base64.StdEncoding.EncodeToString(raw)})
	}
	eventually(t, 20*time.Second, "malformed update refused", func() bool {
		w, _ := d.call("status", map[string]any{"id": "alice"})["lastWarn"].(string)
		return strings.Contains(w, "malformed")
	})
	// A room id that cannot be is refused with the auth message stock clients show.
	hdr := http.Header{"Authorization": {"Bearer " + alice}}
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(a.ws(), "/ws/sync", "/ws/sync/", 1)+"bad%7Broom%7D", hdr)
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := ws.ReadMessage()
	ws.Close()
	if m, _, derr := yprotocol.DecodeMessage(first); err != nil || derr != nil || m.Type != yprotocol.MessageAuth || !strings.Contains(m.Reason, "invalid room id") {
		t.Fatalf("invalid room: first message %x (%v)", first, err)
	}

	d.connect("bob", a, "ro", alice, "v2")
	d.call("edit", map[string]any{"id": "bob", "n": 30})
	d.call("edit", map[string]any{"id": "alice", "n": 30})
	res := d.call("waitEqual", map[string]any{"ids": []string{"alice", "bob"}, "timeoutMs": 10000})
	doc = nil
	a.get(t, alice, "/api/rooms/ro/doc", &doc)
	if canon(doc) != canon(res["json"]) {
		t.Fatalf("room disturbed: server %.200s clients %.200s", canon(doc), canon(res["json"]))
	}
}

// The same room through the multiplexer's sync channel and /ws/sync at once.
func TestMuxChannelAndPlainEndpoint(t *testing.T) {
	a := startReplica(t, "a", noRedis)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	d.connect("node", a, "both", token, "v3")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := muxclient.Dial(ctx, yardtest.WSURL(a.url, "/ws"), token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Open(ctx, "sync", url.Values{"room": {"no{pe}"}}); err == nil {
		t.Fatal("opening a sync channel on an invalid room id succeeded")
	}
	ch, err := conn.Open(ctx, "sync", url.Values{"room": {"both"}})
	if err != nil {
		t.Fatal(err)
	}
	doc := crdt.NewDoc()
	var mu sync.Mutex
	send := func(b []byte) {
		if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: b}); err != nil {
			t.Error(err)
		}
	}
	doc.OnUpdate(func(u []byte) { go send(yprotocol.EncodeUpdate(u)) })
	send(yprotocol.SyncStep1For(doc))
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			m, err := ch.Recv(ctx)
			if err != nil {
				return
			}
			msg, _, err := yprotocol.DecodeMessage(m.Data)
			if err != nil || msg.Type != yprotocol.MessageSync {
				continue
			}
			mu.Lock()
			reply, _ := yprotocol.HandleSync(doc, msg)
			mu.Unlock()
			if reply != nil {
				send(reply)
			}
		}
	}()
	mu.Lock()
	doc.Transact(func(tx *crdt.Transaction) { _ = doc.GetMap("krates").Set(tx, "from-mux", true) })
	mu.Unlock()
	d.call("setKey", map[string]any{"id": "node", "map": "krates", "key": "from-node", "value": true})
	eventually(t, 20*time.Second, "both sides converge", func() bool {
		mu.Lock()
		mine := canon(doc.RootJSON())
		mu.Unlock()
		return mine == `{"krates":{"from-mux":true,"from-node":true}}` && canon(d.json("node")) == mine
	})
	_ = ch.Close()
	cancel()
	<-recvDone
}

// y-websocket clients drop a socket that was silent for 30 s. A lone client's awareness renewal
// (every 15 s) is echoed back, so it stays on its first connection.
func TestLoneClientIsNotDroppedAt30s(t *testing.T) {
	a := startReplica(t, "a", noRedis)
	d := startDriver(t)
	token := a.login(t, "alice", false)
	d.connect("lone", a, "quiet", token, "v3")
	d.call("setAwareness", map[string]any{"id": "lone", "state": map[string]any{"userId": "alice"}})
	time.Sleep(36 * time.Second)
	st := d.call("status", map[string]any{"id": "lone"})
	if st["connected"] != true || st["opens"] != float64(1) {
		t.Fatalf("after 36 s of quiet: %v (want connected on its first socket)", st)
	}
}
