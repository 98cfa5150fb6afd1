// Package redisfault proves the rooms' guarantees under Redis, network and disk faults, against
// real processes: a redis-server with its append-only file fsynced on every write, `yard serve`
// replicas, y-websocket clients keeping a ledger of accepted updates, and a tmpfs for shell
// recordings. The tests are behind the `chaos` build tag (`make chaos`), never in `make test`:
//
//	go test -tags chaos -count=1 -v ./e2e/chaos/redisfault/
//
// Results, with dates and figures, are in docs/reliability.md.
package redisfault
