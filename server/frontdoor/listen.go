package frontdoor

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Listen listens on addr and holds at most maxConns connections at once (0: no bound): Accept
// waits while that many are open, so further clients wait in the kernel's backlog instead of
// costing a goroutine and buffers each.
func Listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if maxConns <= 0 {
		return ln, nil
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		_ = ln.Close()
		return nil, fmt.Errorf("listen %s: not a TCP listener (%T)", addr, ln)
	}
	return &limitListener{TCPListener: tl, slots: make(chan struct{}, maxConns), closed: make(chan struct{})}, nil
}

// limitListener hands out a connection only while it holds fewer than cap(slots).
type limitListener struct {
	*net.TCPListener
	slots     chan struct{} // one value per open connection
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	c, err := l.AcceptTCP()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{TCPConn: c, slots: l.slots}, nil
}

func (l *limitListener) Close() error {
	err := l.TCPListener.Close()
	l.closeOnce.Do(func() { close(l.closed) })
	return err
}

// limitedConn holds one of its listener's slots until it is closed. It embeds the *net.TCPConn
// itself rather than a net.Conn: net.Buffers goes out in one writev only on the net package's
// own connection types, through an unexported method that an embedded *net.TCPConn promotes and
// an embedded net.Conn hides. Behind a wrapper that hides it every buffer costs a write system
// call of its own, and the socket engine hands each WebSocket frame over as two buffers (header
// and payload). Sendfile (ReadFrom) and CloseWrite are kept the same way.
type limitedConn struct {
	*net.TCPConn
	slots chan struct{}
	freed atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.TCPConn.Close()
	if c.freed.CompareAndSwap(false, true) {
		<-c.slots
	}
	return err
}
