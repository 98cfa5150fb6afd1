package room

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/yardhq/yard/server/room/backend"
)

// TestUpdatesInvariants drives the update states through random transitions, with a store that
// goes down and comes back, and checks after each that nothing is held outside an outage, that
// the store received local updates exactly once each in the order they were applied, that only
// stored updates are broadcast, and that every update is in exactly one state.
func TestUpdatesInvariants(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var (
			u          updates
			storeDown  bool
			next       int
			appended   []string // what the store received, in order
			broadcast  []string
			applied    []string // local updates in the order applied
			fromOthers int
			lastPos    uint64
			sender     = &conn{}
			appendTo   = func(b []byte) (backend.Pos, error) {
				if storeDown {
					return backend.Pos{}, errors.New("down")
				}
				appended = append(appended, string(b))
				lastPos++
				return backend.Pos{Ms: lastPos}, nil
			}
		)
		for step := range 300 {
			switch op := rng.IntN(8); op {
			case 0, 1: // a client's update integrates (refused during an outage, as the room does)
				if u.outage {
					continue
				}
				mark := u.mark()
				b := fmt.Sprint("u", next)
				next++
				u.integrated([]byte(b))
				if rng.IntN(8) == 0 { // malformed: the engine reports nothing
					u.rollback(mark)
					continue
				}
				if !u.integratedSince(mark) {
					t.Fatalf("seed %d step %d: an integrated update not seen", seed, step)
				}
				applied = append(applied, b)
				u.from(sender)
			case 2: // flush
				us, _ := u.take()
				_, _ = u.store(us, appendTo)
			case 3: // the store goes down or comes back
				storeDown = !storeDown
			case 4: // the probe saw the store answer
				if u.outage && !storeDown {
					_, _ = u.resume(appendTo)
				}
			case 5: // the pacing alarm
				for _, b := range u.takeOutbox() {
					broadcast = append(broadcast, string(b))
				}
			case 6: // another replica's update from the log (client updates are flushed first)
				us, _ := u.take()
				_, _ = u.store(us, appendTo)
				u.integrated([]byte(fmt.Sprint("r", fromOthers)))
				fromOthers++
				u.fromLog()
			case 7: // a server write, which is stored at once, outage or not (flushed first)
				us, _ := u.take()
				_, _ = u.store(us, appendTo)
				b := fmt.Sprint("u", next)
				next++
				u.integrated([]byte(b))
				applied = append(applied, b)
				w, _ := u.take()
				_, _ = u.store(w, appendTo)
			}
			if err := u.check(); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			// The store saw a prefix of what was applied, in order, each once.
			if len(appended) > len(applied) || !slices.Equal(appended, applied[:len(appended)]) {
				t.Fatalf("seed %d step %d: store received %v, applied %v", seed, step, appended, applied)
			}
			// Every local update is in exactly one state.
			var places []string
			for _, b := range u.applied {
				places = append(places, string(b))
			}
			places = append(places, bytesToStrings(u.held)...)
			for _, b := range append(bytesToStrings(u.outbox), broadcast...) {
				if b[0] == 'u' {
					places = append(places, b)
				}
			}
			slices.Sort(places)
			want := slices.Clone(applied)
			slices.Sort(want)
			if !slices.Equal(places, want) {
				t.Fatalf("seed %d step %d: updates in states %v, applied %v", seed, step, places, want)
			}
			// Only stored updates are broadcast.
			for _, b := range broadcast {
				if b[0] == 'u' && !slices.Contains(appended, b) {
					t.Fatalf("seed %d step %d: %s broadcast but never stored", seed, step, b)
				}
			}
		}
	}
}

func bytesToStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}
