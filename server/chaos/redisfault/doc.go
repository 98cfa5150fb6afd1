// Package redisfault holds the chaos scenarios of Redis, the network to it and the recordings
// disk (`make chaos`, results in docs/reliability.md): a real redis-server with its append-only
// file fsynced on every write, stopped, killed, frozen or reached through a slow lossy link,
// `yard` processes on it, y-websocket clients keeping a ledger of accepted updates, and a tmpfs
// that fills under shell recordings. Each scenario asserts its guarantee and logs one RESULT
// line. The tests build only with the `chaos` tag, so `make test` never runs them:
//
//	go build -o bin/yard ./server/cmd/yard && go test -tags chaos -count=1 -v ./server/chaos/redisfault/
package redisfault
