package app

import (
	"context"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/wsgate"
)

// serveMux runs the multiplexer on an admitted connection.
func serveMux(s *mux.Server) wsgate.Serve {
	return func(ctx context.Context, conn *websocket.Conn, u identity.User, _ *http.Request) {
		s.ServeConn(ctx, conn, u)
	}
}
