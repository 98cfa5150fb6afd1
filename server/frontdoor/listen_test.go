package frontdoor

import (
	"errors"
	"net"
	"testing"
	"time"
)

// acceptOne accepts the next connection of ln or fails the test after wait.
func acceptOne(t *testing.T, ln net.Listener, wait time.Duration) (net.Conn, bool) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		got <- res{c, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("accept: %v", r.err)
		}
		return r.c, true
	case <-time.After(wait):
		return nil, false
	}
}

// A connection closed twice gives back one slot, not two (nor blocks on the second Close), and
// the listener's Close ends an Accept that waits for a slot.
func TestListenerSlotFreedOnce(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	dial()
	first, ok := acceptOne(t, ln, 10*time.Second)
	if !ok {
		t.Fatal("first connection not accepted")
	}
	closed := make(chan struct{})
	go func() {
		_ = first.Close()
		_ = first.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("closing a connection twice blocked")
	}
	dial()
	second, ok := acceptOne(t, ln, 10*time.Second)
	if !ok {
		t.Fatal("no connection accepted after the first was closed")
	}
	defer second.Close()

	// The one slot is held again: the next Accept waits, and Close ends it with net.ErrClosed.
	dial()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if c != nil {
			_ = c.Close()
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("accepted past the limit (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = ln.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
}
