// Package bench holds the crdt benchmarks that run beside yjs on the same data: run.sh drives
// gobench (the Go engine) and js/yjs.mjs (yjs in Node) and writes the figures to
// docs/benchmarks.md. Nothing here runs under `go test`.
package bench
