package integration

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

// roomClient is a y-websocket client of /ws/sync/{room} keeping its own copy of the document.
type roomClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	doc  *crdt.Doc
	done chan struct{}
}

func joinRoom(t *testing.T, s *server, token, room string) *roomClient {
	t.Helper()
	conn, resp, err := s.DialWS("/ws/sync/"+room, token, nil)
	if err != nil {
		if resp != nil {
			t.Fatalf("join %s: %v (HTTP %d)", room, err, resp.StatusCode)
		}
		t.Fatalf("join %s: %v", room, err)
	}
	c := &roomClient{conn: conn, doc: crdt.NewDoc(), done: make(chan struct{})}
	var wmu sync.Mutex
	send := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.WriteMessage(websocket.BinaryMessage, b)
	}
	send(yprotocol.SyncStep1For(c.doc))
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			msg, _, err := yprotocol.DecodeMessage(data)
			if err != nil || msg.Type != yprotocol.MessageSync {
				continue
			}
			c.mu.Lock()
			reply, _ := yprotocol.HandleSync(c.doc, msg)
			c.mu.Unlock()
			if reply != nil {
				send(reply)
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-c.done
	})
	return c
}

// activity is the client's copy of the room's activity.
func (c *roomClient) activity() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, _ := json.Marshal(c.doc.RootJSON()["activity"])
	var out []map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// A write made from a room appears in the room's activity on a client of another replica.
func TestActivityReachesAnotherReplica(t *testing.T) {
	rd := redistest.Start(t)
	withRedis := func(c *config.Config) { c.RedisURL = rd.URL() }
	a, b := start(t, withRedis), start(t, withRedis)
	room := unique("w-room")
	watcher := joinRoom(t, b, b.SignIn(t, "alice", false), room)

	bob := a.SignIn(t, "bob", false)
	cm := unique("w-act")
	if status, _, raw := a.apply(t, bob, "", configMapYAML(cm, "x"), http.Header{"X-Yard-Room": {room}}); status != http.StatusOK {
		t.Fatalf("apply: %d %s", status, raw)
	}
	carol := a.SignIn(t, "carol", false)
	if status, b := a.call(t, http.MethodPost, carol, "/api/resource/deployments/web/restart?namespace=team-a", "", "",
		http.Header{"X-Yard-Room": {room}}); status != http.StatusForbidden {
		t.Fatalf("carol's restart: %d %s", status, b)
	}
	var got []map[string]any
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "two activity entries on replica b's client", func() bool {
		got = watcher.activity()
		return len(got) == 2
	})
	first, second := got[0], got[1]
	if first["user"] != "bob" || first["verb"] != "apply" || first["kind"] != "ConfigMap" || first["namespace"] != "team-a" ||
		first["name"] != cm || first["result"] != "ok" {
		t.Fatalf("first entry: %v", first)
	}
	if at, err := time.Parse(time.RFC3339, first["at"].(string)); err != nil || time.Since(at) > time.Minute {
		t.Fatalf("at %v: %v", first["at"], err)
	}
	if second["user"] != "carol" || second["verb"] != "restart" || second["kind"] != "Deployment" || second["name"] != "web" ||
		second["result"] != "refused" {
		t.Fatalf("second entry: %v", second)
	}

	// The REST view of the document types the root as an array.
	status, body := b.call(t, http.MethodGet, b.SignIn(t, "bob", false), "/api/rooms/"+room+"/doc", "", "", nil)
	var doc map[string]json.RawMessage
	if status != http.StatusOK || json.Unmarshal(body, &doc) != nil || len(doc["activity"]) == 0 || doc["activity"][0] != '[' {
		t.Fatalf("GET doc: %d %s", status, body)
	}
}
