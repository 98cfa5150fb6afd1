// Package integration tests the collaborative deploy end to end: two real Yard servers sharing
// a real redis-server, against the local control plane (e2e/controlplane), as the demo users
// alice (cluster-admin), bob (edit in team-a) and carol (view in demo): plan, apply to ready on
// both replicas, invalidation by an edit, four-eyes approval, RBAC errors in a plan, and the
// second concurrent apply refused.
package integration
