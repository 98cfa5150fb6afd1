package frontdoor

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A connection from the limited listener writes a net.Buffers in one system call, as the net
// package's own connection does (see limitedConn). Counted in TCP segments the sender sent
// (TCP_INFO): on an idle loopback connection one writev of a few small buffers leaves as one
// segment, and a write per buffer, with Go's TCP_NODELAY, as one segment each. The same buffers
// through a wrapper that hides the method show that the count tells the two apart.
func TestLimitedConnWritesBuffersAtOnce(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv, ok := acceptOne(t, ln, 10*time.Second)
	if !ok {
		t.Fatal("not accepted")
	}
	defer srv.Close()

	send := func(w io.Writer) uint32 {
		t.Helper()
		pieces := net.Buffers{[]byte{0x82, 3}, []byte("abc"), []byte{0x82, 2}, []byte("de"), []byte{0x82, 1}, []byte("f")}
		n := 0
		for _, p := range pieces {
			n += len(p)
		}
		before := segmentsOut(t, srv)
		if _, err := pieces.WriteTo(w); err != nil {
			t.Fatal(err)
		}
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(client, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		return segmentsOut(t, srv) - before
	}
	if n := send(srv); n != 1 {
		t.Fatalf("net.Buffers of 6 pieces left the limited connection in %d segments, want 1 (one writev)", n)
	}
	if n := send(struct{ net.Conn }{srv}); n < 2 {
		t.Fatalf("through a wrapper hiding writev: %d segments, want one per write; the probe cannot tell them apart", n)
	}
}

func segmentsOut(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T hides the *net.TCPConn's methods", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return info.Segs_out
}
