// Package integration tests log streams and shells end to end: the real Yard server on loopback
// against the local control plane (e2e/controlplane), as the demo users alice (cluster-admin),
// bob (edit and pods/exec in team-a) and carol (view in demo), with two replicas sharing a real
// Redis for shared terminals.
package integration
