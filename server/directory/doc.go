// Package directory is every replica's registry of what it holds right now: room presence,
// WebSocket connections, shell sessions. A replica puts entries under a scope ("presence",
// "connections", "shells"); any replica lists a scope's entries or reads one, whoever put them.
//
// The replica that put an entry keeps it alive: one refresher goroutine per replica rewrites all
// of its entries every Refresh, and an entry lives TTL after its last write, so a killed
// replica's entries go by themselves while a clean Close deletes them at once. A Claim puts an
// entry only while its group (a shell's owner) has fewer than a maximum of live entries in the
// scope, counting and writing in one step on every replica.
//
// The store is Memory (one process) or Redis; on a Redis Cluster a scope's keys share one hash
// slot, so each write is one slot's script or commands.
package directory
