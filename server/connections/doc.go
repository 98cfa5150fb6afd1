// Package connections lets admins see and close the WebSocket connections of every replica: each
// replica keeps its multiplexer's connection list in the replica directory (server/directory,
// so a killed replica's list vanishes by itself) and obeys disconnect commands that arrive by
// Redis pub/sub, since only the replica that holds a socket can close it. Without Redis there is
// one replica and every disconnect is local.
package connections
