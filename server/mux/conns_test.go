package mux_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/muxclient"
)

// Describe makes the hold kind a mux.Describer, as the real kinds are.
func (holdKind) Describe(req mux.OpenRequest) string { return "holding " + req.Params.Get("what") }

func (h *harness) dialAs(name string) *muxclient.Conn {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := muxclient.Dial(ctx, h.url, h.token(name))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

func connsOf(h *harness, user string) []mux.ConnInfo {
	var out []mux.ConnInfo
	for _, c := range h.mux.Connections() {
		if c.UserID == user {
			out = append(out, c)
		}
	}
	return out
}

func TestConnectionsListChannelsAndDisconnectCloses(t *testing.T) {
	h := newHarness(t, mux.DefaultConfig())
	bob := h.dialAs("bob")
	h.open(bob, "hold", url.Values{"what": {"a"}})
	h.open(bob, "ping", nil)
	bob2 := h.dialAs("bob")
	carol := h.dialAs("carol")
	h.open(carol, "hold", url.Values{"what": {"c"}})
	single := h.single(t, "hold?what=plain") // as alice

	var bobs []mux.ConnInfo
	waitFor(t, "bob's channels", func() bool {
		bobs = connsOf(h, "bob")
		// The server tracks a connection just after the upgrade the client already saw.
		return len(bobs) == 2 && len(bobs[0].Channels)+len(bobs[1].Channels) == 2 && len(connsOf(h, "alice")) == 1
	})
	var withChans mux.ConnInfo
	for _, c := range bobs {
		if len(c.Channels) > 0 {
			withChans = c
		}
		if len(c.ID) != 16 || c.Endpoint != "/ws" || c.OpenedAt.IsZero() {
			t.Fatalf("connection entry %+v", c)
		}
	}
	kinds := []string{withChans.Channels[0].Kind + ":" + withChans.Channels[0].Target, withChans.Channels[1].Kind + ":" + withChans.Channels[1].Target}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"hold:holding a", "ping:"}) {
		t.Fatalf("bob's channels: %v", kinds)
	}
	alice := connsOf(h, "alice")
	if len(alice) != 1 || alice[0].Endpoint != "/ws/hold" || len(alice[0].Channels) != 1 ||
		alice[0].Channels[0].Target != "holding plain" || len(alice[0].ID) != 16 {
		t.Fatalf("single-purpose connection: %+v", alice)
	}

	// One connection by id: only that one closes, with the coded close.
	if h.mux.Disconnect("no-such-id", mux.CloseCode(mux.CodeDisconnected), mux.CodeDisconnected) {
		t.Fatal("Disconnect of an unknown id reported a hit")
	}
	if !h.mux.Disconnect(withChans.ID, mux.CloseCode(mux.CodeDisconnected), mux.CodeDisconnected+": by root") {
		t.Fatal("Disconnect missed bob's connection")
	}
	closed, open := bob, bob2 // the first has the channels
	select {
	case <-closed.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bob's connection stayed open")
	}
	if code, reason := closed.CloseStatus(); code != 4013 || !strings.HasPrefix(reason, "disconnected_by_admin") {
		t.Fatalf("close %d %q, want 4013 disconnected_by_admin", code, reason)
	}
	select {
	case <-open.Done():
		t.Fatal("bob's other connection closed too")
	case <-time.After(100 * time.Millisecond):
	}

	// Every connection of a user, single-purpose ones included.
	if n := h.mux.DisconnectUser("alice", mux.CloseCode(mux.CodeDisconnected), mux.CodeDisconnected); n != 1 {
		t.Fatalf("DisconnectUser(alice) = %d", n)
	}
	if code, _ := readClose(t, single); code != 4013 {
		t.Fatalf("single-purpose close %d, want 4013", code)
	}
	if n := h.mux.DisconnectUser("bob", mux.CloseCode(mux.CodeDisconnected), mux.CodeDisconnected); n != 1 {
		t.Fatalf("DisconnectUser(bob) = %d", n)
	}
	<-open.Done()
	waitFor(t, "closed connections to leave the list", func() bool {
		return len(connsOf(h, "bob")) == 0 && len(connsOf(h, "alice")) == 0 && len(connsOf(h, "carol")) == 1
	})
	select {
	case <-carol.Done():
		t.Fatal("carol was disconnected")
	default:
	}
}
