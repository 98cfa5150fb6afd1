package shell

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrLagging ends a subscription whose reader fell too far behind.
var ErrLagging = errors.New("subscriber fell behind")

// Info describes a live session: its entry in the directory, put by its home.
type Info struct {
	ID           string        `json:"id"`
	Owner        string        `json:"owner"`
	OwnerID      string        `json:"ownerId"`
	Cluster      string        `json:"cluster"`
	Namespace    string        `json:"namespace"`
	Pod          string        `json:"pod"`
	Container    string        `json:"container,omitempty"`
	Command      []string      `json:"command,omitempty"`
	Replica      string        `json:"replica"`
	Started      time.Time     `json:"started"`
	Driver       string        `json:"driver"`
	Participants []Participant `json:"participants"`
}

// Participant is one connection in a session.
type Participant struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Role     string    `json:"role"`
	Owner    bool      `json:"owner"`
	JoinedAt time.Time `json:"joinedAt"`
	Replica  string    `json:"replica,omitempty"`
}

// Hub carries sessions between replicas: two topics per session, toward the home and toward
// the participants (the registry of live sessions is the replica directory, see registry.go).
// Delivery is in order per publisher and at most once; a subscriber that cannot keep up is ended
// with ErrLagging and re-joins.
type Hub interface {
	// Subscribe returns once the subscription is live: whatever is published after it returns
	// is delivered.
	Subscribe(ctx context.Context, topic string) (Subscription, error)
	Publish(ctx context.Context, topic string, msg []byte) error
	Close() error
}

// Subscription is a live subscription to a topic.
type Subscription interface {
	// C delivers messages; it is closed when the subscription ends (Err says why).
	C() <-chan []byte
	Err() error
	Close()
}

func homeTopic(id string) string { return "shell:{" + id + "}:home" }
func outTopic(id string) string  { return "shell:{" + id + "}:out" }

// subBuffer is how many messages a subscriber may be behind before it is ended.
const subBuffer = 4096

// MemoryHub is the single-replica Hub.
type MemoryHub struct {
	mu   sync.Mutex
	subs map[string]map[*memSub]struct{}
}

// NewMemoryHub returns an empty in-memory hub.
func NewMemoryHub() *MemoryHub {
	return &MemoryHub{subs: map[string]map[*memSub]struct{}{}}
}

type memSub struct {
	hub   *MemoryHub
	topic string
	c     chan []byte
	once  sync.Once
	err   error
}

func (s *memSub) C() <-chan []byte { return s.c }
func (s *memSub) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}
func (s *memSub) Close() { s.hub.drop(s, nil) }

func (h *MemoryHub) drop(s *memSub, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.once.Do(func() {
		s.err = err
		delete(h.subs[s.topic], s)
		if len(h.subs[s.topic]) == 0 {
			delete(h.subs, s.topic)
		}
		close(s.c)
	})
}

// Subscribe implements Hub.
func (h *MemoryHub) Subscribe(_ context.Context, topic string) (Subscription, error) {
	s := &memSub{hub: h, topic: topic, c: make(chan []byte, subBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[topic] == nil {
		h.subs[topic] = map[*memSub]struct{}{}
	}
	h.subs[topic][s] = struct{}{}
	return s, nil
}

// Publish implements Hub.
func (h *MemoryHub) Publish(_ context.Context, topic string, msg []byte) error {
	var lagging []*memSub
	h.mu.Lock()
	for s := range h.subs[topic] {
		select {
		case s.c <- msg:
		default:
			lagging = append(lagging, s)
		}
	}
	h.mu.Unlock()
	for _, s := range lagging {
		h.drop(s, ErrLagging)
	}
	return nil
}

// Close implements Hub: every subscription ends.
func (h *MemoryHub) Close() error {
	h.mu.Lock()
	var all []*memSub
	for _, m := range h.subs {
		for s := range m {
			all = append(all, s)
		}
	}
	h.mu.Unlock()
	for _, s := range all {
		h.drop(s, nil)
	}
	return nil
}
