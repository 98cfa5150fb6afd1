// Package integration tests the write path end to end: the real Yard server on loopback against
// the local control plane (e2e/controlplane) and a real redis-server, as the demo users alice
// (cluster-admin), bob (edit in team-a) and carol (view in demo): apply, scale, restart and
// delete as the user, writes switched off, the audit trail, Secret redaction, and a room's
// activity reaching a client of another replica.
package integration
