// Package room serves shared Yjs documents: a live document per room on every replica that has
// clients in it, the y-protocols sync and awareness exchange with each client (the "sync" channel
// kind of the multiplexer and the plain y-websocket endpoint run the same code), and the glue to
// a backend (server/room/backend) that makes several replicas serve one room as one server.
//
// Write path: a client's update is applied to the room's document, and what it newly integrated
// is appended to the backend's log; only once the append succeeded is it broadcast to the local
// clients. Other replicas follow the log and broadcast what it brings to theirs. A room whose
// store is unreachable refuses writes (the y-protocols permission-denied message says why) and
// asks its clients to resync once the store is back, so nothing a client wrote is lost and
// nothing the server acknowledged by broadcasting is ever missing from the log.
package room

import "github.com/yardhq/yard/server/roomid"

// MaxIDLength bounds a room id.
const MaxIDLength = roomid.MaxLength

// ValidID reports whether id may name a room (roomid.Valid).
func ValidID(id string) bool { return roomid.Valid(id) }
