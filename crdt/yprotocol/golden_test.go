package yprotocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/yardhq/yard/crdt/interop/nodetest"
)

const (
	goldenPath   = "testdata/golden.json"
	goldenScript = "crdt/yprotocol/testdata/gen-golden.mjs"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type golden struct {
	Generator string `json:"generator"`
	Messages  []struct {
		Name     string   `json:"name"`
		Type     uint64   `json:"type"`
		SyncType uint64   `json:"syncType"`
		AuthType uint64   `json:"authType"`
		Reason   string   `json:"reason"`
		Payload  hexBytes `json:"payload"`
		Bytes    hexBytes `json:"bytes"`
	} `json:"messages"`
	AwarenessUpdates []struct {
		Name    string `json:"name"`
		Clients []struct {
			ClientID uint64 `json:"clientID"`
			Clock    uint64 `json:"clock"`
			State    string `json:"state"`
		} `json:"clients"`
		Bytes hexBytes `json:"bytes"`
	} `json:"awarenessUpdates"`
	Scenarios []struct {
		Name     string `json:"name"`
		ClientID uint64 `json:"clientID"`
		Steps    []struct {
			Op      string            `json:"op"`
			Name    string            `json:"name"`
			Update  hexBytes          `json:"update"`
			State   string            `json:"state"`
			Clients []uint64          `json:"clients"`
			Bytes   hexBytes          `json:"bytes"`
			Events  []event           `json:"events"`
			States  map[string]string `json:"states"`
			Clocks  map[string]uint64 `json:"clocks"`
		} `json:"steps"`
	} `json:"scenarios"`
}

type event struct {
	Event   string   `json:"event"`
	Added   []uint64 `json:"added"`
	Updated []uint64 `json:"updated"`
	Removed []uint64 `json:"removed"`
}

func loadGolden(t testing.TB) golden {
	t.Helper()
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", goldenPath, err)
	}
	if len(g.Messages) == 0 || len(g.AwarenessUpdates) == 0 || len(g.Scenarios) == 0 {
		t.Fatalf("%s has no cases", goldenPath)
	}
	return g
}

// The golden file must be what the installed y-protocols produces today.
func TestGoldenIsCurrent(t *testing.T) {
	got := nodetest.Run(t, nil, goldenScript)
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: regenerate with: node %s > %s", goldenPath, goldenScript, filepath.Join("crdt/yprotocol", goldenPath))
	}
}

func TestGoldenMessages(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Messages {
		t.Run(c.Name, func(t *testing.T) {
			m, rest, err := DecodeMessage(c.Bytes)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(rest) != 0 {
				t.Fatalf("decode left %d bytes", len(rest))
			}
			want := Message{Type: MessageType(c.Type), Sync: SyncType(c.SyncType), Payload: []byte(c.Payload), Reason: c.Reason}
			if m.Type != want.Type || m.Sync != want.Sync || !bytes.Equal(m.Payload, want.Payload) || m.Reason != want.Reason {
				t.Fatalf("decoded %+v, want %+v", m, want)
			}
			if got := want.Encode(); !bytes.Equal(got, c.Bytes) {
				t.Fatalf("encoded %x, y-protocols %x", got, []byte(c.Bytes))
			}
			var helper []byte
			switch {
			case want.Type == MessageSync && want.Sync == SyncStep1:
				helper = EncodeSyncStep1(want.Payload)
			case want.Type == MessageSync && want.Sync == SyncStep2:
				helper = EncodeSyncStep2(want.Payload)
			case want.Type == MessageSync:
				helper = EncodeUpdate(want.Payload)
			case want.Type == MessageAwareness:
				helper = EncodeAwareness(want.Payload)
			case want.Type == MessageAuth:
				helper = EncodePermissionDenied(want.Reason)
			case want.Type == MessageQueryAwareness:
				helper = EncodeQueryAwareness()
			}
			if !bytes.Equal(helper, c.Bytes) {
				t.Fatalf("helper encoded %x, y-protocols %x", helper, []byte(c.Bytes))
			}
		})
	}
}

func TestGoldenAwarenessUpdates(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.AwarenessUpdates {
		t.Run(c.Name, func(t *testing.T) {
			var want AwarenessUpdate
			for _, e := range c.Clients {
				want.Clients = append(want.Clients, AwarenessEntry{ClientID: e.ClientID, Clock: e.Clock, State: json.RawMessage(e.State)})
			}
			if got := want.Encode(); !bytes.Equal(got, c.Bytes) {
				t.Fatalf("encoded %x, y-protocols %x", got, []byte(c.Bytes))
			}
			got, err := DecodeAwarenessUpdate(c.Bytes)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(got.Clients) != len(want.Clients) {
				t.Fatalf("decoded %d clients, want %d", len(got.Clients), len(want.Clients))
			}
			for i := range got.Clients {
				g, w := got.Clients[i], want.Clients[i]
				if g.ClientID != w.ClientID || g.Clock != w.Clock || !bytes.Equal(g.State, w.State) {
					t.Fatalf("client %d: decoded %v/%v/%s, want %v/%v/%s", i, g.ClientID, g.Clock, g.State, w.ClientID, w.Clock, w.State)
				}
				if g.IsRemoval() != (w.State == nil || string(w.State) == "null") {
					t.Fatalf("client %d: IsRemoval %v for %s", i, g.IsRemoval(), g.State)
				}
			}
		})
	}
}

func events(ch Change) []event {
	var out []event
	norm := func(s []uint64) []uint64 {
		if s == nil {
			return []uint64{}
		}
		return s
	}
	if ch.IsChange() {
		out = append(out, event{"change", norm(ch.Added), norm(ch.Changed), norm(ch.Removed)})
	}
	if ch.IsUpdate() {
		out = append(out, event{"update", norm(ch.Added), norm(ch.Updated), norm(ch.Removed)})
	}
	return out
}

// Replays y-protocols' own sequence of awareness operations and compares states, clocks, the
// change/update events and encoded bytes after every step.
func TestGoldenAwarenessScenarios(t *testing.T) {
	g := loadGolden(t)
	for _, sc := range g.Scenarios {
		a := NewAwareness(sc.ClientID, nil)
		for i, st := range sc.Steps {
			var ch Change
			switch st.Op {
			case "apply":
				var err error
				if ch, err = a.ApplyUpdate(st.Update); err != nil {
					t.Fatalf("%s step %d (%s): %v", sc.Name, i, st.Name, err)
				}
			case "setLocal":
				var err error
				if ch, err = a.SetLocalState(json.RawMessage(st.State)); err != nil {
					t.Fatalf("%s step %d (%s): %v", sc.Name, i, st.Name, err)
				}
			case "remove":
				ch = a.Remove(st.Clients)
			case "encode":
				if got := a.EncodeUpdate(st.Clients); !bytes.Equal(got, st.Bytes) {
					t.Fatalf("%s step %d (%s): encoded %x, y-protocols %x", sc.Name, i, st.Name, got, []byte(st.Bytes))
				}
			default:
				t.Fatalf("unknown op %q", st.Op)
			}
			gotEvents := events(ch)
			if len(gotEvents) == 0 && len(st.Events) == 0 {
				gotEvents = st.Events
			}
			if !reflect.DeepEqual(gotEvents, st.Events) {
				t.Errorf("%s step %d (%s): events %+v, y-protocols %+v", sc.Name, i, st.Name, gotEvents, st.Events)
			}
			states := map[string]string{}
			for id, s := range a.States() {
				states[strconv.FormatUint(id, 10)] = string(s)
			}
			if !reflect.DeepEqual(states, st.States) {
				t.Errorf("%s step %d (%s): states %v, y-protocols %v", sc.Name, i, st.Name, states, st.States)
			}
			for id, want := range st.Clocks {
				n, _ := strconv.ParseUint(id, 10, 64)
				if got, ok := a.Clock(n); !ok || got != want {
					t.Errorf("%s step %d (%s): clock of %d = %d (known %v), y-protocols %d", sc.Name, i, st.Name, n, got, ok, want)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
		}
	}
}

func ExampleDecodeMessage() {
	// A y-websocket client opens with its state vector; an empty one asks for everything.
	m, _, _ := DecodeMessage(EncodeSyncStep1([]byte{0}))
	fmt.Println(m.Type, m.Sync, m.IsWrite())
	// Output: 0 0 false
}
