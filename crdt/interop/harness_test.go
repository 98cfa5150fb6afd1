package interop

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/yardhq/yard/crdt/interop/nodetest"
	"github.com/yardhq/yard/crdt/lib0"
)

const peersScript = "crdt/interop/js/peers.mjs"

// Seeds run by `go test`; fuzz-long.sh raises them through the environment.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

type hexUpdate []byte

func (h *hexUpdate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func (h hexUpdate) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// summary is what peers.mjs reports about a yjs document.
type summary struct {
	Content     json.RawMessage    `json:"content"`
	StateVector map[string]uint64  `json:"stateVector"`
	DeleteSet   map[string][]Range `json:"deleteSet"`
	Pending     bool               `json:"pending"`
	Encoded     hexUpdate          `json:"encoded"` // encodeStateAsUpdate (check only)
	Error       *string            `json:"error"`
	Name        string             `json:"name"`
}

type generated struct {
	Seed      int         `json:"seed"`
	Peers     int         `json:"peers"`
	Updates   []hexUpdate `json:"updates"`
	UpdatesV2 []hexUpdate `json:"updatesV2"`
	Full      hexUpdate   `json:"full"`
	FullV2    hexUpdate   `json:"fullV2"`
	summary
}

// content parses the content peers.mjs printed, keeping object key order.
func (s summary) content(t testing.TB) Content {
	t.Helper()
	v, err := lib0.ParseJSON(string(s.Content))
	if err != nil {
		t.Fatalf("content from node: %v", err)
	}
	o, ok := v.(lib0.Object)
	if !ok {
		t.Fatalf("content from node is %T", v)
	}
	var c Content
	for _, f := range o {
		switch f.Key {
		case "m":
			c.M = f.Value
		case "a":
			c.A = f.Value
		case "t":
			c.T, _ = f.Value.(string)
		case "x":
			c.X, _ = f.Value.(string)
		}
	}
	return c
}

func (s summary) stateVector(t testing.TB) map[uint64]uint64 {
	t.Helper()
	out := make(map[uint64]uint64, len(s.StateVector))
	for k, v := range s.StateVector {
		id, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			t.Fatalf("state vector client %q: %v", k, err)
		}
		out[id] = v
	}
	return out
}

type checkCase struct {
	Name    string      `json:"name"`
	Updates []hexUpdate `json:"updates"`
	V2      bool        `json:"v2,omitempty"` // the updates are v2
}

// checkWithYjs applies each case's updates to a fresh yjs doc and returns what yjs made of them.
func checkWithYjs(t testing.TB, cases []checkCase) []summary {
	t.Helper()
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	var out []summary
	if err := json.Unmarshal(nodetest.Run(t, in, peersScript, "check"), &out); err != nil {
		t.Fatalf("check output: %v", err)
	}
	if len(out) != len(cases) {
		t.Fatalf("check returned %d results for %d cases", len(out), len(cases))
	}
	return out
}

func generate(t testing.TB, first, count, ops int) []generated {
	t.Helper()
	var out []generated
	raw := nodetest.Run(t, nil, peersScript, "gen", strconv.Itoa(first), strconv.Itoa(count), strconv.Itoa(ops))
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("gen output: %v", err)
	}
	if len(out) != count {
		t.Fatalf("gen returned %d seeds, want %d", len(out), count)
	}
	return out
}

// sameSummary compares two yjs summaries: content, state vector, delete set, nothing pending.
func sameSummary(t testing.TB, what string, want, got summary) {
	t.Helper()
	if got.Error != nil {
		t.Errorf("%s: yjs threw: %s", what, *got.Error)
		return
	}
	if got.Pending {
		t.Errorf("%s: yjs has pending structs or deletes", what)
	}
	if d := Diff("content", want.content(t).asAny(), got.content(t).asAny()); d != "" {
		t.Errorf("%s: %s", what, d)
	}
	if !reflect.DeepEqual(want.StateVector, got.StateVector) {
		t.Errorf("%s: state vector %v, want %v", what, got.StateVector, want.StateVector)
	}
	if !reflect.DeepEqual(nonNil(want.DeleteSet), nonNil(got.DeleteSet)) {
		t.Errorf("%s: delete set %v, want %v", what, got.DeleteSet, want.DeleteSet)
	}
}

func nonNil(ds map[string][]Range) map[string][]Range {
	if ds == nil {
		return map[string][]Range{}
	}
	return ds
}

func (c Content) asAny() any {
	return lib0.Object{{Key: "m", Value: c.M}, {Key: "a", Value: c.A}, {Key: "t", Value: c.T}, {Key: "x", Value: c.X}}
}

func seedName(seed int) string { return fmt.Sprintf("seed-%d", seed) }

// noPanic runs fn and turns an engine panic into a test error, so one broken operation does not
// hide what the rest of the harness finds.
func noPanic(t testing.TB, what string, fn func() error) (ok bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: engine panicked: %v", what, r)
			ok = false
		}
	}()
	if err := fn(); err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}
