// Package interop checks the crdt engine against the real yjs running in Node: yjs peers make
// random concurrent edits that a Go document must reproduce when it receives their updates
// shuffled, duplicated and late (JS -> Go), and Go peers make random edits through the Go API
// that yjs must reproduce (Go -> JS), and Go and yjs peers edit one document together (mixed, the
// way a server writes into a room browsers are editing). Every check compares content, state
// vectors and delete sets. The Node side is js/peers.mjs; `go test` runs a bounded number of
// seeds and fuzz-long.sh runs many.
package interop
