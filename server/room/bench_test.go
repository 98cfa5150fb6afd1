package room

import (
	"context"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// discardChannel is a client that reads nothing and receives everything.
type discardChannel struct {
	in chan mux.Message
	n  int
}

func (c *discardChannel) Recv(ctx context.Context) (mux.Message, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-ctx.Done():
		return mux.Message{}, ctx.Err()
	}
}
func (c *discardChannel) Send(context.Context, mux.Message) error { c.n++; return nil }
func (c *discardChannel) TrySend(mux.Message) bool                { c.n++; return true }
func (c *discardChannel) CloseWithError(error)                    {}
func (c *discardChannel) CloseConn(int, string)                   {}

// BenchmarkFanOut is the room's own cost per delivered update: one writer, 200 clients; b.N is
// the number of updates, each delivered to all 200.
func BenchmarkFanOut(b *testing.B) {
	m, err := NewManager(Options{Backend: backend.NewMemory(), Directory: testDirectory(b, directory.NewMemory(), "bench"), MessageRate: 1e9, MessageBurst: 1e9, UserWriteBytesPerSec: 1e12})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chans := make([]*discardChannel, 200)
	for i := range chans {
		chans[i] = &discardChannel{in: make(chan mux.Message, 16)}
		go func() { _ = m.Serve(ctx, chans[i], alice, mux.NewConnID(), "fan") }()
	}
	time.Sleep(100 * time.Millisecond)
	writer := crdt.NewDoc()
	var updates [][]byte
	writer.OnUpdate(func(u []byte) { updates = append(updates, yprotocol.EncodeUpdate(u)) })
	for i := 0; i < b.N; i++ {
		writer.Transact(func(tx *crdt.Transaction) { _ = writer.GetMap("bench").Set(tx, "w", float64(i)) })
	}
	b.ResetTimer()
	for _, u := range updates {
		chans[0].in <- mux.Message{Type: mux.Binary, Data: u}
	}
	// Wait until the room processed everything.
	_ = m.Read(ctx, "fan", func(*crdt.Doc) {})
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*200), "ns/delivery")
}
