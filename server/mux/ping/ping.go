// Package ping is the diagnostics channel kind: it echoes every message back unchanged, so a
// client can measure the round trip through the multiplexer (its queues, priorities and flow
// control included) on a live socket.
package ping

import (
	"context"

	"github.com/yardhq/yard/server/mux"
)

// Kind is the "ping" channel kind. It takes no parameters and any user may open it.
type Kind struct{}

// Name implements mux.Kind.
func (Kind) Name() string { return "ping" }

// Priority implements mux.Kind: pings measure what interactive traffic (shells) experiences.
func (Kind) Priority() mux.Priority { return mux.PriorityShell }

// Open implements mux.Kind.
func (Kind) Open(context.Context, mux.OpenRequest) (mux.Runner, error) {
	return mux.RunnerFunc(echo), nil
}

// echo sends each message back with Send, so a client that does not read its echoes slows its
// own pings down (backpressure) and nothing else.
func echo(ctx context.Context, ch mux.Channel) error {
	for {
		m, err := ch.Recv(ctx)
		if err != nil {
			return nil
		}
		if err := ch.Send(ctx, m); err != nil {
			return nil
		}
	}
}
