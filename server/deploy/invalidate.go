package deploy

import (
	"context"
	"sync"

	"github.com/yardhq/yard/crdt"
)

// watched is the rooms with open deploys planned or approved on this replica: each Poll their
// workflow's hash is compared with their open deploys', so an edit invalidates a plan in the
// document within a second, without waiting for the next action on it (every action checks
// too, on any replica).
type watched struct {
	mu    sync.Mutex
	rooms map[string]bool
}

func (w *watched) add(room string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rooms == nil {
		w.rooms = map[string]bool{}
	}
	w.rooms[room] = true
}

func (w *watched) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.rooms))
	for r := range w.rooms {
		out = append(out, r)
	}
	return out
}

func (w *watched) remove(room string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rooms, room)
}

// invalidateStale invalidates the open deploys of the watched rooms whose workflow changed,
// and stops watching rooms without open deploys.
func (s *Service) invalidateStale(ctx context.Context) {
	for _, room := range s.watched.list() {
		var stale []string
		open := 0
		err := s.o.Rooms.View(ctx, room, func(doc *crdt.Doc) {
			hash := ""
			for _, d := range listDeploys(doc) {
				if !Open(d.State) || d.RollbackOf != "" {
					continue
				}
				open++
				if hash == "" {
					hash = currentHash(doc)
				}
				if d.WorkflowHash != hash {
					stale = append(stale, d.ID)
				}
			}
		})
		if err != nil {
			continue // the room store is away; the next round tries again
		}
		if open == len(stale) {
			s.watched.remove(room)
		}
		for _, id := range stale {
			// update invalidates it on the way; the "invalidated" error is the expected answer.
			_, _ = s.update(ctx, room, id, func(*Deploy, string) error { return nil })
		}
	}
}
