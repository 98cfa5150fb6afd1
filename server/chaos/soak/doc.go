// Package soak holds the long run (`make soak`, results in docs/reliability.md): three `yard`
// processes on one real Redis and the local control plane serve a few hundred clients that
// edit rooms, watch ConfigMaps, follow a log and share shells for an hour, while their
// goroutines, heap and file descriptors and the delivery latency of room edits are sampled.
// The test asserts that the resources stay flat, that latency at the end is within 1.5x of
// latency at the start, and that nothing was lost. It builds only with the `soak` tag.
package soak
