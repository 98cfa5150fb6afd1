package mux

import (
	"context"
	"net/url"

	"github.com/yardhq/yard/server/identity"
)

// Kind is one kind of channel ("sync", "watch", "logs", "shell", "ping"). Kinds plug into a
// Registry; the multiplexer never knows what a channel carries.
//
// Open runs when a client asks for a channel: it authorizes the request for this user (an error
// refuses the open, and a *Error keeps its code on the wire) and returns the Runner that will
// serve the channel. Open runs in the channel's own goroutine, so a slow authorization (a
// SubjectAccessReview, a Redis read) delays only this channel; it should still honour ctx, which
// ends if the client gives up on the open.
// Run then owns the channel in its own goroutine until it returns or ctx ends (the client closed
// the channel, the connection went away, or the server is shutting down).
//
// The same Kind also serves its single-purpose endpoint (/ws/watch, /ws/logs, /ws/shell,
// /ws/sync/{room}) through ServeSingle, with the query string as params.
type Kind interface {
	Name() string
	// Priority orders this kind's outgoing frames against other channels on the same socket.
	Priority() Priority
	Open(ctx context.Context, req OpenRequest) (Runner, error)
}

// OpenRequest is what a client asked for.
type OpenRequest struct {
	User identity.User
	// Params are the open parameters: the "params" object of the open message (string or
	// string-array values) or the endpoint's query string.
	Params url.Values
	// ConnID identifies the WebSocket connection (for presence and admin disconnects).
	ConnID string
}

// Runner serves one open channel.
type Runner interface {
	// Run returns when the channel is done; a *Error is reported to the client with its code,
	// nil closes the channel normally.
	Run(ctx context.Context, ch Channel) error
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, ch Channel) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, ch Channel) error { return f(ctx, ch) }

// MessageType says how a channel message's payload is to be read.
type MessageType uint8

const (
	// Binary payloads are opaque bytes (terminal output, y-protocols messages).
	Binary MessageType = 1
	// Text payloads are UTF-8, by convention one JSON object (watch events, log lines, control).
	Text MessageType = 2
)

// Message is one message on a channel.
type Message struct {
	Type MessageType
	Data []byte
}

// Channel is a kind's handle on its channel. Flow control and priorities are the multiplexer's
// business; the slow-consumer policy is the kind's, built from Send (waits for room: backpressure)
// and TrySend (never waits: the kind drops, coalesces or gives up).
type Channel interface {
	// Recv returns the next message from the client, or an error once the channel is closed.
	Recv(ctx context.Context) (Message, error)
	// Send queues m for the client, waiting while the channel's send queue is full.
	Send(ctx context.Context, m Message) error
	// TrySend queues m if there is room and reports whether it did.
	TrySend(m Message) bool
	// Close ends the channel from the server side with err (nil: normal close).
	CloseWithError(err error)
	// CloseConn ends the whole connection with a close code (for example sync's slow-consumer
	// policy: never drop, disconnect instead).
	CloseConn(code int, reason string)
}

// Priority orders send queues on a connection's writer: a lower value is served first.
type Priority uint8

const (
	PriorityControl Priority = iota // channel 0: open/close/ping/pong/credit
	PriorityShell
	PrioritySync
	PriorityWatch
	PriorityLogs
)
