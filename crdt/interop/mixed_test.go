package interop

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf16"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/interop/nodetest"
	"github.com/yardhq/yard/crdt/lib0"
)

// mixedPeer is one replica of a mixed group: a Go document, or a yjs peer living in the serve
// process (js >= 0 is its index there).
type mixedPeer struct {
	id     uint64
	doc    *crdt.Doc
	js     int
	local  bool
	online bool
	inbox  []hexUpdate
}

type peerAnswer struct {
	Updates []hexUpdate `json:"updates"`
	Error   *string     `json:"error"`
}

// Go and yjs peers edit one document concurrently, the way a Yard server writes into a room
// browsers are editing: every update is relayed to every other peer, late, out of order and
// while some peers are offline. All replicas must end with the same content, state vector and
// delete set.
func TestMixedPeers(t *testing.T) {
	first := envInt(t, "INTEROP_FIRST_SEED", 1)
	count := envInt(t, "INTEROP_SEEDS", 16)
	ops := envInt(t, "INTEROP_OPS", 300)
	node := nodetest.Start(t, peersScript, "serve")
	nonEmpty := 0
	for seed := first; seed < first+count; seed++ {
		t.Run(seedName(seed), func(t *testing.T) {
			if mixedSimulation(t, node, seed, ops) {
				nonEmpty++
			}
		})
	}
	if nonEmpty < count/2 {
		t.Fatalf("only %d of %d seeds ended with text and map content: the edits are not exercising much", nonEmpty, count)
	}
}

// mixedSimulation runs one seed and reports whether the converged document has text and map
// content.
func mixedSimulation(t *testing.T, node *nodetest.Process, seed, ops int) bool {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x3e))
	nGo, nJS := 1+rng.IntN(2), 1+rng.IntN(3)
	var peers []*mixedPeer
	var jsIDs []uint64
	used := map[uint64]bool{}
	for i := 0; i < nGo+nJS; i++ {
		id := uint64(rng.Uint32())
		for used[id] {
			id = uint64(rng.Uint32())
		}
		used[id] = true
		p := &mixedPeer{id: id, js: -1, online: true}
		if i < nGo {
			p.doc = crdt.NewDocWithClientID(id)
		} else {
			p.js = len(jsIDs)
			jsIDs = append(jsIDs, id)
		}
		peers = append(peers, p)
	}
	broadcast := func(from *mixedPeer, updates []hexUpdate) {
		for _, u := range updates {
			for _, o := range peers {
				if o != from {
					o.inbox = append(o.inbox, u)
				}
			}
		}
	}
	for _, p := range peers {
		if p.doc != nil {
			p := p
			p.doc.OnUpdate(func(u []byte) {
				if p.local {
					broadcast(p, []hexUpdate{append([]byte(nil), u...)})
				}
			})
		}
	}
	call := func(req map[string]any) []hexUpdate {
		t.Helper()
		var a peerAnswer
		node.Call(req, &a)
		if a.Error != nil {
			t.Fatalf("seed %d: yjs peer: %s", seed, *a.Error)
		}
		return a.Updates
	}
	var init struct{}
	node.Call(map[string]any{"cmd": "init", "seed": seed, "ids": jsIDs}, &init)

	deliver := func(p *mixedPeer, n int) {
		for ; n > 0 && len(p.inbox) > 0; n-- {
			j := 0
			if rng.IntN(5) == 0 {
				j = rng.IntN(len(p.inbox))
			}
			u := p.inbox[j]
			p.inbox = append(p.inbox[:j], p.inbox[j+1:]...)
			if p.doc != nil {
				if err := p.doc.ApplyUpdate(u); err != nil {
					t.Fatalf("seed %d: Go peer %d rejected an update: %v", seed, p.id, err)
				}
				continue
			}
			broadcast(p, call(map[string]any{"cmd": "apply", "peer": p.js, "update": u}))
		}
	}
	edit := func(p *mixedPeer, edits int) {
		if p.doc == nil {
			broadcast(p, call(map[string]any{"cmd": "edit", "peer": p.js, "edits": edits}))
			return
		}
		var err error
		p.local = true
		p.doc.Transact(func(tx *crdt.Transaction) {
			for i := 0; i < edits && err == nil; i++ {
				err = goEdit(rng, p.doc, tx)
			}
		})
		p.local = false
		if err != nil {
			t.Fatalf("seed %d: Go edit: %v", seed, err)
		}
	}
	for step := 0; step < ops; step++ {
		p := peers[rng.IntN(len(peers))]
		switch x := rng.Float64(); {
		case x < 0.04:
			p.online = !p.online
		case x < 0.35:
			if p.online {
				deliver(p, 1+rng.IntN(4))
			}
		case x < 0.40:
			edit(p, 2+rng.IntN(3))
		default:
			edit(p, 1)
		}
	}
	for busy := true; busy; {
		busy = false
		for _, p := range peers {
			if len(p.inbox) > 0 {
				busy = true
				deliver(p, len(p.inbox))
			}
		}
	}

	var ref summary
	node.Call(map[string]any{"cmd": "summary", "peer": 0}, &ref)
	if ref.Pending {
		t.Errorf("yjs peer %d has pending structs after full delivery", jsIDs[0])
	}
	for _, p := range peers {
		what := fmt.Sprintf("seed %d, %d Go + %d yjs peers: peer %d", seed, nGo, nJS, p.id)
		if p.doc != nil {
			if n := len(utf16.Encode([]rune(p.doc.GetText("t").String()))); n != p.doc.GetText("t").Len() {
				t.Errorf("%s: text length %d, but its string has %d UTF-16 units", what, p.doc.GetText("t").Len(), n)
			}
			for _, problem := range docProblems(t, p.doc, ref) {
				t.Errorf("%s (Go) vs yjs peer %d: %s", what, jsIDs[0], problem)
			}
			continue
		}
		if p.js == 0 {
			continue
		}
		var s summary
		node.Call(map[string]any{"cmd": "summary", "peer": p.js}, &s)
		if d := Diff("content", ref.content(t).asAny(), s.content(t).asAny()); d != "" || !reflect.DeepEqual(s.StateVector, ref.StateVector) {
			t.Errorf("%s (yjs) diverged from yjs peer %d: %s, state vector %v vs %v", what, jsIDs[0], d, s.StateVector, ref.StateVector)
		}
	}
	c := ref.content(t)
	m, _ := c.M.(lib0.Object)
	return c.T != "" && len(m) > 0
}
