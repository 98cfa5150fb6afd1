package yprotocol

import (
	"bytes"
	"testing"

	"github.com/yardhq/yard/crdt"
)

// The engine's document satisfies Doc.
var _ Doc = (*crdt.Doc)(nil)

func goldenMessage(t *testing.T, name string) []byte {
	t.Helper()
	for _, m := range loadGolden(t).Messages {
		if m.Name == name {
			return m.Bytes
		}
	}
	t.Fatalf("no golden message %q", name)
	return nil
}

// A crdt document fed y-protocols' step 2 answers with the same step 1 bytes yjs sends for that
// document.
func TestHandleSyncWithEngineMatchesYjs(t *testing.T) {
	doc := crdt.NewDoc()
	m, _, err := DecodeMessage(goldenMessage(t, "step2 answering an empty state vector"))
	if err != nil {
		t.Fatal(err)
	}
	if reply, err := HandleSync(doc, m); err != nil || reply != nil {
		t.Fatalf("HandleSync(step 2) = %x, %v", reply, err)
	}
	if got, want := SyncStep1For(doc), goldenMessage(t, "step1 of a doc with three clients"); !bytes.Equal(got, want) {
		t.Fatalf("step 1 = %x, yjs %x", got, want)
	}
	// An empty document answers a step 1 with the empty step 2 y-websocket clients wait for.
	m, _, _ = DecodeMessage(goldenMessage(t, "step1 of an empty doc"))
	reply, err := HandleSync(crdt.NewDoc(), m)
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenMessage(t, "step2 of an empty doc"); !bytes.Equal(reply, want) {
		t.Fatalf("empty step 2 = %x, yjs %x", reply, want)
	}
}

// Two documents converge through the y-websocket handshake: each answers the other's step 1,
// then live updates flow as update messages.
func TestSyncHandshakeBetweenDocuments(t *testing.T) {
	server, client := crdt.NewDoc(), crdt.NewDoc()
	server.Transact(func(tx *crdt.Transaction) {
		if err := server.GetMap("krates").Set(tx, "web", map[string]any{"x": 1.0}); err != nil {
			t.Fatal(err)
		}
	})
	client.Transact(func(tx *crdt.Transaction) {
		if err := client.GetText("notes").Insert(tx, 0, "héllo 😀"); err != nil {
			t.Fatal(err)
		}
	})
	exchange := func(to Doc, msg []byte) []byte {
		t.Helper()
		m, rest, err := DecodeMessage(msg)
		if err != nil || len(rest) != 0 {
			t.Fatalf("decode %x: %v", msg, err)
		}
		reply, err := HandleSync(to, m)
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}
	// Server opens with its step 1; the client answers with a step 2 and sends its own step 1.
	if reply := exchange(client, SyncStep1For(server)); reply == nil {
		t.Fatal("client did not answer step 1")
	} else if r := exchange(server, reply); r != nil {
		t.Fatalf("step 2 got a reply %x", r)
	}
	if reply := exchange(server, SyncStep1For(client)); reply == nil {
		t.Fatal("server did not answer step 1")
	} else {
		exchange(client, reply)
	}
	var live []byte
	cancel := server.OnUpdate(func(u []byte) { live = append([]byte(nil), u...) })
	server.Transact(func(tx *crdt.Transaction) { server.GetMap("krates").Delete(tx, "web") })
	cancel()
	exchange(client, EncodeUpdate(live))

	for _, d := range []*crdt.Doc{server, client} {
		if got := d.GetText("notes").String(); got != "héllo 😀" {
			t.Errorf("notes = %q", got)
		}
		if got := d.GetMap("krates").ToJSON(); len(got) != 0 {
			t.Errorf("krates = %v, want empty", got)
		}
	}
	if !bytes.Equal(server.EncodeStateVector(), client.EncodeStateVector()) {
		t.Fatalf("state vectors differ: %x vs %x", server.EncodeStateVector(), client.EncodeStateVector())
	}
	// A malformed update is reported and changes nothing.
	before := client.EncodeStateVector()
	m, _, _ := DecodeMessage(EncodeUpdate([]byte{1, 1, 5, 0, 0xff}))
	if _, err := HandleSync(client, m); !IsCode(err, CodeApply) {
		t.Fatalf("malformed update: %v", err)
	}
	if !bytes.Equal(client.EncodeStateVector(), before) {
		t.Fatal("a rejected update changed the document")
	}
}
