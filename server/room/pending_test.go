package room

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// orphanUpdates returns n updates of one writer with the first one withheld: none of them can
// integrate in a document that never gets it.
func orphanUpdates(n int) [][]byte {
	d := crdt.NewDoc()
	var us [][]byte
	d.OnUpdate(func(u []byte) { us = append(us, u) })
	for i := range n + 1 {
		d.Transact(func(tx *crdt.Transaction) { _ = d.GetMap("orphan").Set(tx, fmt.Sprint(i), i) })
	}
	return us[1:]
}

// A room's snapshot holds what its document integrated, not the data waiting for updates nobody
// sent.
func TestSnapshotLeavesPendingDataOut(t *testing.T) {
	clk := newFakeClock()
	be := backend.NewMemory()
	m := newManager(t, be, "solo", func(o *Options) { o.clock, o.Grace = clk, time.Second })
	c := connect(t, m, "snap", alice)
	for _, u := range orphanUpdates(3) {
		c.send(yprotocol.EncodeUpdate(u))
	}
	c.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "k", "v") })
	eventually(t, "stored", func() bool {
		st, _ := be.Load(context.Background(), "snap")
		return len(st.Entries) > 0
	})
	var pending bool
	if err := m.Read(context.Background(), "snap", func(d *crdt.Doc) { pending = d.HasPending() }); err != nil || !pending {
		t.Fatalf("the room's document holds no pending data (%v): the test sends none", err)
	}
	c.close()
	eventually(t, "the client left", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.conns) == 0 })
	clk.Advance(yprotocol.CheckInterval)
	eventually(t, "room unloaded", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.rooms) == 0 })
	st, err := be.Load(context.Background(), "snap")
	if err != nil || st.Snapshot == nil {
		t.Fatalf("no snapshot after unloading: %v", err)
	}
	d := crdt.NewDoc()
	if err := d.ApplyUpdateV2(st.Snapshot); err != nil {
		t.Fatal(err)
	}
	if d.HasPending() {
		t.Fatal("the snapshot carries pending data")
	}
	if got := canonical(d.RootJSON()); got != `{"m":{"k":"v"}}` {
		t.Fatalf("snapshot holds %s", got)
	}
}

// A client whose updates only ever wait for updates the room has not seen is disconnected with
// code limit; the room keeps serving the others.
func TestClientWhoseUpdatesNeverIntegrateIsClosed(t *testing.T) {
	m := newManager(t, backend.NewMemory(), "solo", nil)
	good := connect(t, m, "orphans", bob)
	bad := connectRaw(t, m, alice, "bad", "orphans")
	for _, u := range orphanUpdates(maxDeferredUpdates) {
		select {
		case bad.in <- mux.Message{Type: mux.Binary, Data: yprotocol.EncodeUpdate(u)}:
		case <-bad.closed:
		}
	}
	select {
	case <-bad.closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("a client sending %d updates that never integrate was not disconnected", maxDeferredUpdates)
	}
	if bad.code != errcode.CloseCode(errcode.Limit) {
		t.Fatalf("closed with %d, want limit's %d", bad.code, errcode.CloseCode(errcode.Limit))
	}
	good.do(func(tx *crdt.Transaction, d *crdt.Doc) { _ = d.GetMap("m").Set(tx, "ok", true) })
	eventually(t, "the room still takes writes", func() bool {
		j, _ := m.JSON(context.Background(), "orphans")
		mm, _ := j["m"].(map[string]any)
		return mm["ok"] == true
	})
}
