package shell

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// ErrNoSession is returned for a session id the hub does not know (ended, expired, or never).
var ErrNoSession = errors.New("no such session")

// ErrSessionLimit refuses a Claim: the owner already has the most sessions allowed.
var ErrSessionLimit = errors.New("shell session limit reached")

// ErrLagging ends a subscription whose reader fell too far behind.
var ErrLagging = errors.New("subscriber fell behind")

// Info describes a live session; the home re-registers it while it runs.
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

// Hub carries sessions between replicas: a registry of live sessions, and two topics per
// session, toward the home and toward the participants. Delivery is in order per publisher and
// at most once; a subscriber that cannot keep up is ended with ErrLagging and re-joins.
type Hub interface {
	// Claim registers a new session unless its owner already has max live sessions
	// (ErrSessionLimit); counting and registering are one step, so concurrent opens on any
	// replicas cannot exceed max.
	Claim(ctx context.Context, info Info, ttl time.Duration, max int) error
	// Register refreshes a session's entry (participants, driver) and its expiry.
	Register(ctx context.Context, info Info, ttl time.Duration) error
	Unregister(ctx context.Context, id string) error
	Lookup(ctx context.Context, id string) (Info, error)
	List(ctx context.Context) ([]Info, error)
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
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]memEntry
	subs     map[string]map[*memSub]struct{}
}

type memEntry struct {
	info    Info
	expires time.Time
}

// NewMemoryHub returns an empty in-memory hub.
func NewMemoryHub() *MemoryHub {
	return &MemoryHub{now: time.Now, sessions: map[string]memEntry{}, subs: map[string]map[*memSub]struct{}{}}
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

// Claim implements Hub.
func (h *MemoryHub) Claim(_ context.Context, info Info, ttl time.Duration, max int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	owned := 0
	for id, e := range h.sessions {
		if id != info.ID && e.info.Owner == info.Owner && !now.After(e.expires) {
			owned++
		}
	}
	if owned >= max {
		return ErrSessionLimit
	}
	h.sessions[info.ID] = memEntry{info: info, expires: now.Add(ttl)}
	return nil
}

// Register implements Hub.
func (h *MemoryHub) Register(_ context.Context, info Info, ttl time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[info.ID] = memEntry{info: info, expires: h.now().Add(ttl)}
	return nil
}

// Unregister implements Hub.
func (h *MemoryHub) Unregister(_ context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, id)
	return nil
}

// Lookup implements Hub.
func (h *MemoryHub) Lookup(_ context.Context, id string) (Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.sessions[id]
	if !ok || h.now().After(e.expires) {
		return Info{}, ErrNoSession
	}
	return e.info, nil
}

// List implements Hub.
func (h *MemoryHub) List(_ context.Context) ([]Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var out []Info
	for id, e := range h.sessions {
		if now.After(e.expires) {
			delete(h.sessions, id)
			continue
		}
		out = append(out, e.info)
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(l []Info) {
	sort.Slice(l, func(i, j int) bool {
		if !l[i].Started.Equal(l[j].Started) {
			return l[i].Started.Before(l[j].Started)
		}
		return l[i].ID < l[j].ID
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
