//go:build chaos

package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// The ledger: every writer pushes numbered entries ("w03-00042") onto an array root of its own
// ("ledger-w03"). An entry is accepted when the server has sent it back: a server broadcasts an
// update, to its sender too, only after appending it to the room's log in Redis (docs/sync.md),
// so what a client receives back is what the server acknowledged. Only the writer pushes to its
// array, so the array the server sent it is a prefix of what it pushed, and its length is the
// number of entries accepted.
const (
	writersPerReplica = 10
	editEvery         = 200 * time.Millisecond
	// ackTimeout plays a client's silence timeout: a writer whose entry is not acknowledged in
	// this time drops its connection and reconnects to the other replica (y-websocket waits 30 s).
	ackTimeout = 5 * time.Second
)

type writer struct {
	id    string
	token string
	p     *yardtest.Person

	mu       sync.Mutex
	at       *replica
	sent     int           // entries pushed
	accepted int           // entries the server sent back
	switches int           // reconnections to the other replica
	stall    time.Duration // the longest wait for an acknowledgement
	lastAck  time.Time
	lastMove time.Time
}

func (w *writer) root() string { return "ledger-" + w.id }

func entry(id string, n int) string { return fmt.Sprintf("%s-%05d", id, n) }

// confirmed is how many of the writer's entries the servers sent back.
func (w *writer) confirmed() int {
	n := 0
	w.p.Confirmed(func(doc *crdt.Doc) { n = doc.GetArray(w.root()).Len() })
	return n
}

// run pushes an entry every editEvery until ctx ends, waiting for each to be acknowledged and
// moving to other when its replica closes the connection or stays silent.
func (w *writer) run(ctx context.Context, room string, other func(*replica) *replica) {
	for n := 0; ctx.Err() == nil; n++ {
		w.p.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) {
			_ = doc.GetArray(w.root()).Push(tx, entry(w.id, n))
		})
		w.mu.Lock()
		w.sent = n + 1
		w.mu.Unlock()
		began := time.Now()
		for w.confirmed() < n+1 && ctx.Err() == nil {
			select {
			case <-w.p.Done():
				w.move(ctx, room, other)
			case <-time.After(20 * time.Millisecond):
				w.mu.Lock()
				silent := time.Since(began) > ackTimeout && time.Since(w.lastMove) > ackTimeout
				w.mu.Unlock()
				if silent {
					w.move(ctx, room, other)
				}
			}
		}
		w.mu.Lock()
		if c := w.confirmed(); c > w.accepted {
			w.accepted, w.lastAck = c, time.Now()
		}
		w.stall = max(w.stall, time.Since(began))
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(editEvery):
		}
	}
}

// move reconnects the writer to the other replica, retrying until it answers or ctx ends; the
// handshake resends what that replica lacks of the writer's copy.
func (w *writer) move(ctx context.Context, room string, other func(*replica) *replica) {
	w.mu.Lock()
	w.lastMove = time.Now()
	to := other(w.at)
	w.mu.Unlock()
	for ctx.Err() == nil {
		if err := w.p.Reconnect(to.Server, w.token, room); err == nil {
			w.mu.Lock()
			w.at = to
			w.switches++
			w.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ledger reads every writer's array in a replica's copy of the room.
func ledger(t *testing.T, r *replica, token, room string) map[string][]string {
	t.Helper()
	var doc map[string]any
	chaostest.MustCall(t, r.Server, "GET", token, "/api/rooms/"+room+"/doc", "", 200, &doc)
	out := map[string][]string{}
	for k, v := range doc {
		arr, _ := v.([]any)
		for _, e := range arr {
			out[k] = append(out[k], fmt.Sprint(e))
		}
	}
	return out
}

// fault is what happens to replica a: inject, then heal after healAfter (nil: never); heal
// returns the replicas that serve the room afterwards besides b.
type fault struct {
	inject    func(a *replica)
	healAfter time.Duration
	heal      func(rg *rig, a *replica) []*replica
}

// editScenario runs writers on a and b, applies the fault to a after a few seconds, and checks
// the ledger on every replica at the end.
func editScenario(t *testing.T, name string, f fault) {
	rp := chaostest.NewReport(t, "0 accepted updates lost: every entry a server sent back is, once, in every replica's document; replicas equal")
	rg := newRig(t)
	a, b := rg.Replica("a"), rg.Replica("b")
	room := fmt.Sprintf("chaos-%s-%d", name, time.Now().UnixNano()%1e9)
	other := func(r *replica) *replica {
		if r == a {
			return b
		}
		return a
	}
	var ws []*writer
	for i := range 2 * writersPerReplica {
		at := a
		if i >= writersPerReplica {
			at = b
		}
		id := fmt.Sprintf("w%02d", i)
		tok := yardtest.SignIn(t, at.URL, id, false)
		ws = append(ws, &writer{id: id, token: tok, p: at.Join(t, tok, room), at: at})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(ctx, room, other) })
	}
	defer func() { cancel(); wg.Wait() }()

	time.Sleep(5 * time.Second)
	faultAt := time.Now()
	f.inject(a)
	// Every writer is acknowledged again (a's by b, or by a itself once it answers).
	testwait.Until(t, 90*time.Second, 100*time.Millisecond, "every writer acknowledged after the fault", func() bool {
		for _, w := range ws {
			w.mu.Lock()
			ok := w.lastAck.After(faultAt)
			w.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	rp.Set("all_writers_acknowledged_again_after", "%s", chaostest.Seconds(time.Since(faultAt)))
	replicas := []*replica{b}
	if f.heal != nil {
		time.Sleep(time.Until(faultAt.Add(f.healAfter)))
		replicas = append(replicas, f.heal(rg, a)...)
	}
	time.Sleep(5 * time.Second)
	cancel()
	wg.Wait()
	stopped := time.Now()
	for _, w := range ws {
		w.accepted = max(w.accepted, w.confirmed())
	}

	// Every writer's last entry acknowledged or not, its client still holds it and the next
	// handshake would resend it; the guarantee is about the acknowledged ones.
	sent, accepted, switches := 0, 0, 0
	var stall time.Duration
	for _, w := range ws {
		sent += w.sent
		accepted += w.accepted
		switches += w.switches
		stall = max(stall, w.stall)
	}
	rp.Set("writers", "%d", len(ws))
	rp.Set("sent", "%d", sent)
	rp.Set("accepted", "%d", accepted)
	rp.Set("moved", "%d", switches)
	rp.Set("longest_ack_wait", "%s", chaostest.Seconds(stall))

	tok := ws[len(ws)-1].token
	var lost, dups int
	var docs []map[string][]string
	defer func() {
		rp.Set("lost", "%d", lost)
		rp.Set("duplicates", "%d", dups)
	}()
	testwait.Until(t, time.Minute, 250*time.Millisecond, "every replica holds every accepted entry", func() bool {
		docs = docs[:0]
		lost, dups = 0, 0
		for _, r := range replicas {
			got := ledger(t, r, tok, room)
			docs = append(docs, got)
			for _, w := range ws {
				arr := got[w.root()]
				seen := map[string]int{}
				for _, e := range arr {
					seen[e]++
				}
				for n := range w.accepted {
					if seen[entry(w.id, n)] == 0 {
						lost++
					}
				}
				for _, c := range seen {
					if c > 1 {
						dups += c - 1
					}
				}
			}
		}
		return lost == 0
	})
	rp.Set("converged_after_stop", "%s", chaostest.Seconds(time.Since(stopped)))
	if dups != 0 {
		t.Fatalf("%d duplicated entries", dups)
	}
	// Order: each writer's array is its entries in the order it pushed them.
	for _, w := range ws {
		arr := docs[0][w.root()]
		if !slices.IsSorted(arr) {
			t.Fatalf("%s's entries out of order: %v", w.id, arr)
		}
	}
	testwait.Until(t, 30*time.Second, 250*time.Millisecond, "the replicas' documents are equal", func() bool {
		first := fmt.Sprint(ledger(t, replicas[0], tok, room))
		for _, r := range replicas[1:] {
			if fmt.Sprint(ledger(t, r, tok, room)) != first {
				return false
			}
		}
		return true
	})
	total := 0
	for _, arr := range docs[0] {
		total += len(arr)
	}
	rp.Set("in_document", "%d", total)
}

// A replica is SIGKILLed while 20 clients edit one room; its clients reconnect to the other
// replica; a replica started afterwards loads the room from Redis alone.
func TestReplicaKilledMidEdit(t *testing.T) {
	editScenario(t, "kill", fault{
		inject:    func(a *replica) { a.Proc.Kill(t) },
		healAfter: 10 * time.Second,
		heal:      func(rg *rig, _ *replica) []*replica { return []*replica{rg.Replica("a2")} },
	})
}

// A replica is SIGSTOPped for 20 s while clients edit, then continued; its clients give up on it
// after ackTimeout and move to the other replica; the continued replica catches up.
func TestReplicaStoppedMidEdit(t *testing.T) {
	editScenario(t, "stop", fault{
		inject:    func(a *replica) { a.Proc.Stop(t) },
		healAfter: 20 * time.Second,
		heal: func(_ *rig, a *replica) []*replica {
			a.Proc.Continue(t)
			return []*replica{a}
		},
	})
}
