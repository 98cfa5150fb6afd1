package crdt_test

import (
	"fmt"

	"github.com/yardhq/yard/crdt"
)

// A server-side write: set a key in a root map and broadcast the update
// yjs peers apply.
func ExampleDoc_Transact() {
	doc := crdt.NewDocWithClientID(1)
	var broadcast [][]byte
	cancel := doc.OnUpdate(func(u []byte) { broadcast = append(broadcast, u) })
	defer cancel()

	krates := doc.GetMap("krates")
	doc.Transact(func(tx *crdt.Transaction) {
		k1 := krates.SetMap(tx, "k1")
		_ = k1.Set(tx, "status", "pending")
		_ = k1.Set(tx, "pos", map[string]any{"x": 10, "y": 20})
	})

	peer := crdt.NewDoc()
	for _, u := range broadcast {
		if err := peer.ApplyUpdate(u); err != nil {
			panic(err)
		}
	}
	js, _ := peer.GetMap("krates").MarshalJSON()
	fmt.Println(len(broadcast), string(js))
	// Output: 1 {"k1":{"status":"pending","pos":{"x":10,"y":20}}}
}

// Syncing two replicas: each sends what the other's state vector lacks.
func ExampleDoc_EncodeStateAsUpdate() {
	a, b := crdt.NewDocWithClientID(1), crdt.NewDocWithClientID(2)
	a.Transact(func(tx *crdt.Transaction) { _ = a.GetText("t").Insert(tx, 0, "hello") })
	b.Transact(func(tx *crdt.Transaction) { _ = b.GetText("t").Insert(tx, 0, " world") })

	toB, _ := a.EncodeStateAsUpdate(b.EncodeStateVector())
	toA, _ := b.EncodeStateAsUpdate(a.EncodeStateVector())
	_ = b.ApplyUpdate(toB)
	_ = a.ApplyUpdate(toA)
	fmt.Println(a.GetText("t").String() == b.GetText("t").String(), a.GetText("t").String())
	// Output: true hello world
}
