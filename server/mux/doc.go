// Package mux is Yard's WebSocket multiplexer: one socket per browser (subprotocol "yard.v1")
// carries many independent channels ("sync", "watch", "logs", "shell", "ping"), each served by a
// Kind registered in a Registry. docs/protocol.md is the wire specification; this package is its
// server side, and server/muxclient its Go client.
//
// Every WebSocket, multiplexed (ServeConn) or single-purpose (ServeSingle), runs on one engine
// (socket): exactly one reader goroutine (the caller of ServeConn or ServeSingle), one writer
// goroutine while there is something to write, one close handshake and one keep-alive. A
// multiplexed connection adds one goroutine per open channel, a single-purpose one its kind's;
// all are awaited before ServeConn or ServeSingle returns. The multiplexed reader never waits on
// a channel: what a client may send is bounded by the byte credit the server granted, so the
// reader can always queue it and go on reading. The writer owns the socket; it serves the
// control queue first and then the channels' bounded send queues in Priority order, round-robin
// within a priority, and only while the client has granted credit for that channel. A client
// that stops reading one channel therefore stalls only that channel: its queue fills, the kind's
// Send waits or its TrySend fails, and the kind applies its own slow-consumer policy while every
// other channel on the socket keeps flowing.
//
// Concurrency contract for kinds: Open and Run each run in the channel's own goroutine; Recv is
// for that goroutine; Send, TrySend, CloseWithError and CloseConn may be called from any goroutine.
package mux
