// Package connections lets admins see and close the WebSocket connections of every replica: each
// replica publishes its multiplexer's connection list (with Redis: into a key with a TTL, so a
// killed replica's list vanishes by itself) and obeys disconnect commands that arrive by Redis
// pub/sub, since only the replica that holds a socket can close it. Without Redis there is one
// replica and everything is local.
package connections
