package room

import (
	"context"

	"github.com/yardhq/yard/server/mux"
)

// Kind is the "sync" channel kind: one room per channel (param "room"), y-protocols messages as
// binary payloads, exactly what a y-websocket client exchanges over its own socket.
type Kind struct{ M *Manager }

// Name implements mux.Kind.
func (Kind) Name() string { return "sync" }

// Priority implements mux.Kind.
func (Kind) Priority() mux.Priority { return mux.PrioritySync }

// Open implements mux.Kind: any authenticated user may open any valid room; read-only users are
// told so when they write.
func (k Kind) Open(_ context.Context, req mux.OpenRequest) (mux.Runner, error) {
	id := req.Params.Get("room")
	if !ValidID(id) {
		return nil, mux.Errorf(mux.CodeBadParams, "param room: 1-%d characters of A-Z a-z 0-9 . _ -", MaxIDLength)
	}
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
		return k.M.Serve(ctx, ch, req.User, req.ConnID, id)
	}), nil
}
