package yardtest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Recorder reads a WebSocket in its own goroutine and keeps every message, decoded as it
// arrives, so a test can wait for a condition over everything received so far.
type Recorder[T any] struct {
	Conn *websocket.Conn

	decode  func(messageType int, data []byte) T
	started atomic.Bool
	done    chan struct{}
	arrived chan struct{}

	mu  sync.Mutex
	got []T
	err error
}

// NewRecorder wraps conn; nothing is read until Start, so a test can play a client that does
// not read.
func NewRecorder[T any](conn *websocket.Conn, decode func(messageType int, data []byte) T) *Recorder[T] {
	return &Recorder[T]{Conn: conn, decode: decode, done: make(chan struct{}), arrived: make(chan struct{}, 1)}
}

// Start starts reading; Close waits for the reader.
func (r *Recorder[T]) Start() {
	r.started.Store(true)
	go r.read()
}

func (r *Recorder[T]) read() {
	defer close(r.done)
	for {
		typ, b, err := r.Conn.ReadMessage()
		r.mu.Lock()
		if err != nil {
			r.err = err
		} else {
			r.got = append(r.got, r.decode(typ, b))
		}
		r.mu.Unlock()
		select {
		case r.arrived <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// Done is closed when the reader stopped: the socket closed or failed.
func (r *Recorder[T]) Done() <-chan struct{} { return r.done }

// Got returns what arrived so far and the error that ended reading, if it ended.
func (r *Recorder[T]) Got() ([]T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), r.err
}

// Wait waits until cond holds over everything received and returns it. It fails the test when
// the socket closes first or after timeout, with describe's account of what arrived.
func (r *Recorder[T]) Wait(t testing.TB, what string, timeout time.Duration, cond func([]T) bool, describe func([]T) string) []T {
	t.Helper()
	deadline := time.After(timeout)
	for {
		got, err := r.Got()
		if cond(got) {
			return got
		}
		if err != nil {
			t.Fatalf("waiting for %s: socket closed: %v; got %s", what, err, describe(got))
		}
		select {
		case <-r.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %s", what, describe(got))
		}
	}
}

// Close sends a normal close, gives the server 3 s to answer it, closes the socket and waits
// for the reader.
func (r *Recorder[T]) Close() {
	_ = r.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	if !r.started.Load() {
		_ = r.Conn.Close()
		return
	}
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
	}
	_ = r.Conn.Close()
	<-r.done
}
