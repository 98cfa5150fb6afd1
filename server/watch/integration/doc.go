// Package integration tests cluster access, the resources API and live watches end to end: the
// real Yard server on loopback against the local control plane (e2e/controlplane), as the demo
// users alice (cluster-admin), bob (edit in team-a) and carol (view in demo).
package integration
