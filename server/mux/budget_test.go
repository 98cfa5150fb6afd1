package mux_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

// A client that fills many channels whose kinds do not read, each within its credit, pins no
// more than the connection's inbound budget: the channel whose frame would pass it is closed with
// limit, the connection and the other channels live on, and a channel that ends gives its
// unread bytes back to the budget.
func TestInboundBudgetPerConnection(t *testing.T) {
	cfg := mux.DefaultConfig()
	cfg.MaxFrameBytes = 64 << 10
	cfg.MaxInboundBytes = 256 << 10
	h := newHarness(t, cfg)
	c := h.dial()
	ctx := ctx5(t)
	a, b, d := h.open(c, "hold", nil), h.open(c, "hold", nil), h.open(c, "hold", nil)
	frame := func(ch *muxclient.Channel) {
		t.Helper()
		if err := c.WriteRaw(append(mux.AppendHeader(nil, ch.ID(), byte(mux.Binary)), make([]byte, 60000)...)); err != nil {
			t.Fatal(err)
		}
	}
	// 4 x 60000 = 240000 bytes held, each channel within its 256 KiB credit.
	frame(a)
	frame(a)
	frame(a)
	frame(b)
	// One more frame would hold 300000 > 262144.
	frame(d)
	if _, err := d.Recv(ctx); errCode(err) != mux.CodeLimit {
		t.Fatalf("channel past the budget: %v, want limit", err)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("connection after the refusal: %v", err)
	}
	if n := testutil.ToFloat64(h.metrics.Refusals.WithLabelValues(mux.CodeLimit)); n != 1 {
		t.Fatalf("limit refusals %v", n)
	}

	// Ending a (60000 x 3) gives its bytes back: b can now take three more frames.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("close not answered")
	}
	frame(b)
	frame(b)
	frame(b)
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Recv(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b after a's bytes were freed: %v, want still open", err)
	}
}
