package room

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/room/backend"
)

// Manager owns this replica's live rooms.
type Manager struct {
	opts Options
	be   backend.Backend
	dir  *directory.Directory
	m    roomMetrics
	clk  clock

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	rooms map[string]*room
	conns map[*conn]struct{}

	presenceKick chan struct{}

	connRates  limiters // messages read, per connection
	userWrites limiters // document update bytes read, per user
	docs       docCache
}

type roomMetrics struct {
	loaded   prometheus.Gauge
	clients  prometheus.Gauge
	updates  *prometheus.CounterVec
	compacts *prometheus.CounterVec
	panics   prometheus.Counter
	delayed  *prometheus.CounterVec
}

// NewManager starts the presence registration loop; Close stops it and every room (the backend
// and the directory stay the caller's).
func NewManager(o Options) (*Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		opts: o, be: o.Backend, dir: o.Directory, clk: o.clock, ctx: ctx, cancel: cancel,
		rooms: map[string]*room{}, conns: map[*conn]struct{}{},
		presenceKick: make(chan struct{}, 1),
		m: roomMetrics{
			loaded:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "yard_rooms_loaded", Help: "Rooms with a live document on this replica."}),
			clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "yard_room_clients", Help: "Sync clients connected to this replica."}),
			updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "yard_room_updates_total",
				Help: "Client updates by result (stored, duplicate, malformed, read_only, unavailable, doc_full, pending, pending_full, never_integrated)."}, []string{"result"}),
			compacts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "yard_room_compactions_total",
				Help: "Room log compactions by result (done, lease_held, failed)."}, []string{"result"}),
			delayed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "yard_room_reads_delayed_total",
				Help: "Client messages read late because a limit was reached (message_rate: the connection's, write_budget: the user's)."}, []string{"limit"}),
			panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "yard_room_panics_total",
				Help: "Panics a room goroutine survived (each closed the connection or failed the call that caused it)."}),
		},
	}
	if o.Metrics != nil {
		for _, c := range []prometheus.Collector{m.m.loaded, m.m.clients, m.m.updates, m.m.compacts, m.m.panics, m.m.delayed} {
			if err := o.Metrics.Registry.Register(c); err != nil {
				cancel()
				return nil, fmt.Errorf("rooms: register metrics: %w", err)
			}
		}
	}
	m.wg.Go(m.presenceLoop)
	return m, nil
}

// Close stops every room (compacting what it can) and waits for their goroutines.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// acquire returns the live room id, loading it if needed, holding a reference until release.
func (m *Manager) acquire(id string) (*room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return nil, mux.Errorf(mux.CodeShuttingDown, "the server is stopping")
	}
	r := m.rooms[id]
	if r == nil {
		r = newRoom(m, id)
		m.rooms[id] = r
		m.m.loaded.Inc()
		m.wg.Go(r.run)
	}
	r.refs++
	return r, nil
}

func (m *Manager) release(r *room) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.refs--
	if r.refs == 0 {
		r.idleSince = m.clk.Now()
	}
}

// tryUnload removes r if nobody held it for the grace period; after true, r must exit.
func (m *Manager) tryUnload(r *room, force bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.refs > 0 || (!force && m.clk.Now().Sub(r.idleSince) < m.opts.Grace) {
		return false
	}
	delete(m.rooms, r.id)
	m.m.loaded.Dec()
	return true
}

// ReadOnly reports whether u may only read room.
func (m *Manager) ReadOnly(u identity.User, room string) bool {
	return readOnly(m.opts.ReadOnly, u, room)
}

// Read runs fn on the room's document: the live one on the room's goroutine when the room is
// loaded here, else a copy read from the store for this call only (a read does not load a room,
// so reading many rooms costs no goroutines or subscriptions).
func (m *Manager) Read(ctx context.Context, id string, fn func(*crdt.Doc)) error {
	return m.read(ctx, id, 0, func(d *crdt.Doc, _ int) { fn(d) })
}

// read is Read with the document's size (as the room counts it, see Options.MaxDocBytes). With
// maxSize > 0, a stored document larger than that is refused (too_large) without being decoded.
func (m *Manager) read(ctx context.Context, id string, maxSize int, fn func(doc *crdt.Doc, size int)) error {
	if !ValidID(id) {
		return mux.Errorf(mux.CodeBadParams, "invalid room id")
	}
	m.mu.Lock()
	r := m.rooms[id]
	if r != nil {
		r.refs++
	}
	m.mu.Unlock()
	if r == nil {
		st, err := m.be.Load(ctx, id)
		if err != nil {
			return err
		}
		size := len(st.Snapshot)
		for _, e := range st.Entries {
			size += len(e.Update)
		}
		if maxSize > 0 && size > maxSize {
			return docTooLarge(id, size, maxSize)
		}
		tmp := &room{id: id, m: m, doc: crdt.NewDocWithClientID(randomClientID())}
		tmp.applyState(st)
		fn(tmp.doc, size)
		return nil
	}
	defer m.release(r)
	done := make(chan error, 1)
	if err := r.post(ctx, readEv{fn: fn, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// JSON returns the room's document as yjs toJSON gives it.
func (m *Manager) JSON(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	err := m.Read(ctx, id, func(d *crdt.Doc) { out = d.RootJSON() })
	return out, err
}

// Write runs fn on the room's document as the server (fn makes local changes through the
// engine); what fn changed is stored and reaches every client on every replica. When the store
// is unreachable the change stays in this replica's document and is stored once it is back;
// the error says so.
func (m *Manager) Write(ctx context.Context, id string, fn func(*crdt.Doc)) error {
	if !ValidID(id) {
		return mux.Errorf(mux.CodeBadParams, "invalid room id")
	}
	r, err := m.acquire(id)
	if err != nil {
		return err
	}
	defer m.release(r)
	done := make(chan error, 1)
	if err := r.post(ctx, writeEv{fn: fn, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Info is one room in the rooms listing.
type Info struct {
	ID           string `json:"id"`
	Participants int    `json:"participants"`
	Users        int    `json:"users"`
}

// Rooms lists every stored or occupied room with its participants on every replica.
func (m *Manager) Rooms(ctx context.Context) ([]Info, error) {
	ids, err := m.be.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := m.Presence(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Info{}
	users := map[string]map[string]bool{}
	for _, id := range ids {
		byID[id] = &Info{ID: id}
	}
	for _, p := range ps {
		in := byID[p.Room]
		if in == nil {
			in = &Info{ID: p.Room}
			byID[p.Room] = in
			users[p.Room] = map[string]bool{}
		}
		if users[p.Room] == nil {
			users[p.Room] = map[string]bool{}
		}
		in.Participants++
		if !users[p.Room][p.UserID] {
			users[p.Room][p.UserID] = true
			in.Users++
		}
	}
	out := make([]Info, 0, len(byID))
	for _, in := range byID {
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Info) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, nil
}

// randomClientID returns a Yjs client id for this replica's copy of a room: a fresh one per load,
// since the server never holds another incarnation's history of its own id.
func randomClientID() uint64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return uint64(binary.LittleEndian.Uint32(b[:]))
}
