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

import "regexp"

// MaxIDLength bounds a room id.
const MaxIDLength = 128

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id may name a room: 1-128 characters of [A-Za-z0-9._-], starting with
// a letter or digit. Braces are excluded so a room id cannot break the Redis hash tag around it,
// and slashes so it is one path segment.
func ValidID(id string) bool { return idPattern.MatchString(id) }
