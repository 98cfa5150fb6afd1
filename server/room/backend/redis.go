package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout. Every per-room key carries the room in a hash tag so that a room's keys live
// in one Redis Cluster slot (compaction runs a script over two of them). Room ids never contain
// braces (see room.ValidID), so no id can escape its tag.
//
//	yard:{room}:updates    stream of v1 updates (field "u")
//	yard:{room}:snapshot   hash: "snap" v2 snapshot, "pos" the stream id it covers
//	yard:{room}:lease      compaction lease (SET NX PX), value = holder
//	yard:{room}:awareness  pub/sub channel between replicas
//	yard:rooms             sorted set of room ids by last write (ms)
func updatesKey(room string) string    { return "yard:{" + room + "}:updates" }
func snapshotKey(room string) string   { return "yard:{" + room + "}:snapshot" }
func leaseKey(room string) string      { return "yard:{" + room + "}:lease" }
func awarenessChan(room string) string { return "yard:{" + room + "}:awareness" }

// roomIndexEvery is how often an append also refreshes the room's entry in the rooms index
// (advisory, for GET /api/rooms), instead of on every update.
const roomIndexEvery = 10 * time.Second

const roomsKey = "yard:rooms"

// RedisOptions tune the Redis backend.
type RedisOptions struct {
	// Replica names this process in awareness messages. Required.
	Replica string
	// LogRetention keeps compacted log entries this long, so a replica that fell behind can still
	// read them. Default 60s.
	LogRetention time.Duration
	// Block is how long one XREAD waits when nothing arrives. A room followed while a reader
	// waits wakes it through its wake stream (see wake.go), so Block is only a safety net, and
	// each idle reader asks Redis once per Block. Longer would cost less still, but a reader
	// notices a master that died without closing its connections only when its read times out
	// (Block plus the client's 10 s): at 5 s that is within the 15 s a Redis Cluster takes by
	// default to replace the master, so the reader is back no later than the cluster. Default 5s.
	Block time.Duration
	// ReplicaWait bounds how long an append on a Redis Cluster waits (WAIT 1) for a replica of
	// its master to confirm it; unconfirmed, the append counts as failed. Default 500ms.
	ReplicaWait time.Duration
	Logger      *slog.Logger
}

// Redis is the backend for several replicas sharing rooms through Redis.
type Redis struct {
	rdb  redis.UniversalClient
	opts RedisOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	follows map[string]*follow
	// indexed is when this process last recorded a room in the rooms index.
	indexed map[string]time.Time
	subs    map[string]*subscriber
	// newRooms tells the slot supervisor (on a cluster) or the idle reader (on single Redis)
	// that a room was followed.
	newRooms chan struct{}

	// reading holds the readers (by slot, or allSlots) that took their room list and wait, or
	// are about to wait, in XREAD: the ones a newly followed room must wake. wakeAt is each
	// reader's wake-stream cursor; wakePending the readers sendWakes is to wake.
	reading     map[int]bool
	wakeAt      map[int]Pos
	wakePending map[int]struct{}
	wakeNeeded  chan struct{}

	// cluster is rdb on a Redis Cluster, nil on single Redis.
	cluster *redis.ClusterClient
	// bySlot groups the followed rooms by hash slot; slotReaders are the slots whose reader runs
	// (on a cluster).
	bySlot      map[uint16]map[string]struct{}
	slotReaders map[uint16]bool

	pubsub *redis.PubSub

	// beforeXRead, when set (by tests), runs between a reader taking its room list and its XREAD.
	beforeXRead func(slot int)
}

type subscriber struct{ fn func(AwarenessMessage) }

type follow struct {
	cursor Pos
	fn     func([]Entry)
}

var _ Backend = (*Redis)(nil)

// NewRedis starts the backend's log reader and awareness subscriber on rdb, which the caller
// keeps owning (Close does not close it).
func NewRedis(rdb redis.UniversalClient, o RedisOptions) (*Redis, error) {
	if o.Replica == "" {
		return nil, errors.New("redis backend: a replica id is required")
	}
	if o.LogRetention <= 0 {
		o.LogRetention = 60 * time.Second
	}
	if o.Block <= 0 {
		o.Block = 5 * time.Second
	}
	if o.ReplicaWait <= 0 {
		o.ReplicaWait = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Redis{
		rdb: rdb, opts: o, ctx: ctx, cancel: cancel,
		follows: map[string]*follow{},
		indexed: map[string]time.Time{},
		subs:    map[string]*subscriber{},
		pubsub:  rdb.Subscribe(ctx),

		newRooms:    make(chan struct{}, 1),
		reading:     map[int]bool{},
		wakeAt:      map[int]Pos{},
		wakePending: map[int]struct{}{},
		wakeNeeded:  make(chan struct{}, 1),

		bySlot:      map[uint16]map[string]struct{}{},
		slotReaders: map[uint16]bool{},
	}
	r.cluster, _ = rdb.(*redis.ClusterClient)
	if r.cluster != nil {
		wakeTags() // computed once, here rather than when the first reader needs it
	}
	r.wg.Go(r.readLogs)
	r.wg.Go(r.sendWakes)
	r.wg.Go(r.readAwareness)
	return r, nil
}

// Close stops the reader goroutines.
func (r *Redis) Close() error {
	r.cancel()
	err := r.pubsub.Close()
	// A cancelled context does not end an XREAD that blocks (the client does not interrupt a
	// read for it): wake every reader that may block, or Close would wait for up to Block. A
	// reader that takes its room list after this sees the context cancelled (readStreams checks
	// it under r.mu).
	r.mu.Lock()
	slots := slices.Collect(maps.Keys(r.reading))
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if _, werr := r.writeWakes(ctx, slots); werr != nil {
		r.opts.Logger.Warn("waking log readers to stop them", "err", werr)
	}
	cancel()
	r.wg.Wait()
	return err
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// Load implements Store: the snapshot and the whole remaining stream in one MULTI, so a
// compaction cannot trim entries between reading the snapshot and reading the stream.
func (r *Redis) Load(ctx context.Context, room string) (State, error) {
	var snap *redis.SliceCmd
	var xr *redis.XMessageSliceCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		snap = p.HMGet(ctx, snapshotKey(room), "snap", "pos")
		xr = p.XRange(ctx, updatesKey(room), "-", "+")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return State{}, unavailable("load room", err)
	}
	var st State
	if v := snap.Val(); len(v) == 2 && v[0] != nil && v[1] != nil {
		s, _ := v[0].(string)
		ps, _ := v[1].(string)
		pos, err := ParsePos(ps)
		if err != nil {
			return State{}, fmt.Errorf("load room %s: snapshot: %w", room, err)
		}
		st.Snapshot, st.SnapshotPos, st.Last = []byte(s), pos, pos
	}
	for _, m := range xr.Val() {
		e, err := toEntry(m)
		if err != nil {
			return State{}, fmt.Errorf("load room %s: %w", room, err)
		}
		if !st.SnapshotPos.Less(e.Pos) {
			continue
		}
		st.Entries = append(st.Entries, e)
		st.Last = e.Pos
	}
	return st, nil
}

func toEntry(m redis.XMessage) (Entry, error) {
	p, err := ParsePos(m.ID)
	if err != nil {
		return Entry{}, err
	}
	u, _ := m.Values["u"].(string)
	return Entry{Pos: p, Update: []byte(u)}, nil
}

// Append implements Store. On a Redis Cluster the update counts as stored once a replica has it
// too (see appendReplicated), so a failover keeps it.
func (r *Redis) Append(ctx context.Context, room string, update []byte) (Pos, error) {
	now := time.Now()
	r.mu.Lock()
	index := now.Sub(r.indexed[room]) > roomIndexEvery
	if index {
		r.indexed[room] = now
	}
	r.mu.Unlock()
	var id string
	var err error
	if r.cluster != nil {
		// The rooms index is in another slot: a command of its own.
		if id, err = r.appendReplicated(ctx, room, update); err == nil && index {
			err = r.rdb.ZAdd(ctx, roomsKey, redis.Z{Score: float64(now.UnixMilli()), Member: room}).Err()
			if err != nil {
				r.opts.Logger.Warn("indexing room", "room", room, "err", err)
			}
			err = nil
		}
	} else {
		var add *redis.StringCmd
		// Only the XADD's own error matters: the room index is advisory (GET /api/rooms).
		_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			add = p.XAdd(ctx, &redis.XAddArgs{Stream: updatesKey(room), Values: []any{"u", update}})
			if index {
				p.ZAdd(ctx, roomsKey, redis.Z{Score: float64(now.UnixMilli()), Member: room})
			}
			return nil
		})
		if err = add.Err(); err == nil {
			id = add.Val()
		}
	}
	if err != nil {
		r.mu.Lock()
		delete(r.indexed, room)
		r.mu.Unlock()
		return Pos{}, unavailable("append update", err)
	}
	return ParsePos(id)
}

// Follow implements Store. One follower per room per process: a later one replaces an earlier
// one, whose stop then does nothing. Following wakes the room's reader if it waits in XREAD
// (see wake.go), so the room is read at once, from the new follower's position.
func (r *Redis) Follow(room string, after Pos, fn func([]Entry)) (stop func()) {
	f := &follow{cursor: after, fn: fn}
	slot := roomSlot(room)
	reader := r.readerOf(slot)
	r.mu.Lock()
	r.follows[room] = f
	if r.bySlot[slot] == nil {
		r.bySlot[slot] = map[string]struct{}{}
	}
	r.bySlot[slot][room] = struct{}{}
	r.wakeLocked(reader)
	r.mu.Unlock()
	select {
	case r.newRooms <- struct{}{}:
	default:
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.follows[room] != f {
			return
		}
		delete(r.follows, room)
		if rs := r.bySlot[slot]; rs != nil {
			delete(rs, room)
			if len(rs) == 0 {
				delete(r.bySlot, slot)
			}
		}
		// A reader left without rooms is woken too: a slot's reader then ends (and returns
		// its connection to the pool) now rather than after Block.
		if reader == allSlots && len(r.follows) == 0 || reader != allSlots && r.bySlot[slot] == nil {
			r.wakeLocked(reader)
		}
	}
}

// readerOf is the reader of the rooms of slot: the slot's on a cluster, the single one else.
func (r *Redis) readerOf(slot uint16) int {
	if r.cluster != nil {
		return int(slot)
	}
	return allSlots
}

// readLogs reads the followed rooms' streams: on single Redis in one XREAD loop, every followed
// room's stream in one blocking read, so a thousand idle rooms cost one connection; on a cluster,
// where one command's keys must share a slot, in one loop per slot (see superviseSlots). Each
// read also names the loop's wake stream, so a loop blocks for up to Block (5 s) when its rooms
// are idle and still reads a newly followed room at once (see wake.go).
func (r *Redis) readLogs() {
	if r.cluster != nil {
		r.superviseSlots()
		return
	}
	r.readStreams(allSlots)
}

// allSlots makes readStreams read every followed room and wait for one when there is none.
const allSlots = -1

// readStreams is one XREAD BLOCK loop over the followed rooms of slot (or of every slot) and the
// loop's wake stream. A slot's loop ends once its slot has no followed room left.
func (r *Redis) readStreams(slot int) {
	var failingSince time.Time
	backoff := 50 * time.Millisecond
	wake := wakeKey(slot)
	for {
		r.mu.Lock()
		var rooms []string
		if slot == allSlots {
			rooms = slices.Collect(maps.Keys(r.follows))
		} else {
			rooms = slices.Collect(maps.Keys(r.bySlot[uint16(slot)]))
		}
		n := len(rooms)
		// Checked under r.mu: Close wakes the readers it finds reading after cancelling, so a
		// reader that passes this check is one Close wakes.
		if r.ctx.Err() != nil || n == 0 && slot != allSlots {
			delete(r.reading, slot)
			if slot != allSlots {
				delete(r.slotReaders, uint16(slot))
			}
			r.mu.Unlock()
			return
		}
		if n == 0 {
			delete(r.reading, slot)
			r.mu.Unlock()
			select {
			case <-r.newRooms:
			case <-r.ctx.Done():
			}
			continue
		}
		// Taking the room list and the wake cursor together, under r.mu, is what makes a wake
		// for a room not in the list newer than the cursor.
		r.reading[slot] = true
		fs := make([]*follow, n)
		streams := make([]string, 0, 2*n+2)
		for i, room := range rooms {
			fs[i] = r.follows[room]
			streams = append(streams, updatesKey(room))
		}
		streams = append(streams, wake)
		for _, f := range fs {
			streams = append(streams, f.cursor.String())
		}
		streams = append(streams, r.wakeAt[slot].String())
		r.mu.Unlock()
		if r.beforeXRead != nil {
			r.beforeXRead(slot)
		}
		res, err := r.rdb.XRead(r.ctx, &redis.XReadArgs{Streams: streams, Count: 1000, Block: r.opts.Block}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if r.ctx.Err() != nil {
				return
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
				r.opts.Logger.Warn("reading room logs failed", "slot", slot, "err", err)
			}
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		if !failingSince.IsZero() {
			// Entries may have been compacted away while the logs were unreadable: followers
			// reload from the snapshot when the gap could exceed the retention.
			lost := time.Since(failingSince) > r.opts.LogRetention/2
			r.opts.Logger.Info("reading room logs again", "slot", slot, "after", time.Since(failingSince).Round(time.Millisecond), "reload", lost)
			failingSince, backoff = time.Time{}, 50*time.Millisecond
			if lost {
				r.deliverAll(rooms)
			}
		}
		// readFor is which follower each stream was read for: a follower that replaced it
		// meanwhile is read from its own position by the next XREAD (its Follow woke this loop).
		var readFor map[string]*follow
		for _, s := range res {
			if s.Stream == wake {
				// Only a cursor to move: wake entries are not updates.
				if len(s.Messages) > 0 {
					p, err := ParsePos(s.Messages[len(s.Messages)-1].ID)
					r.mu.Lock()
					if err == nil && r.wakeAt[slot].Less(p) {
						r.wakeAt[slot] = p
					}
					r.mu.Unlock()
				}
				continue
			}
			if readFor == nil {
				readFor = make(map[string]*follow, n)
				for i, room := range rooms {
					readFor[room] = fs[i]
				}
			}
			room := roomOfUpdatesKey(s.Stream)
			entries := make([]Entry, 0, len(s.Messages))
			for _, m := range s.Messages {
				e, err := toEntry(m)
				if err != nil {
					r.opts.Logger.Error("bad stream entry", "room", room, "err", err)
					continue
				}
				entries = append(entries, e)
			}
			if len(entries) == 0 {
				continue
			}
			r.mu.Lock()
			f := r.follows[room]
			if f == nil || f != readFor[room] || !f.cursor.Less(entries[0].Pos) {
				// Stopped, or replaced by a follower that started later.
				r.mu.Unlock()
				continue
			}
			f.cursor = entries[len(entries)-1].Pos
			r.mu.Unlock()
			f.fn(entries)
		}
	}
}

// deliverAll tells the followers of rooms to reload (an empty delivery).
func (r *Redis) deliverAll(rooms []string) {
	r.mu.Lock()
	fs := make([]*follow, 0, len(rooms))
	for _, room := range rooms {
		if f := r.follows[room]; f != nil {
			fs = append(fs, f)
		}
	}
	r.mu.Unlock()
	for _, f := range fs {
		f.fn(nil)
	}
}

func roomOfUpdatesKey(key string) string {
	const prefix, suffix = "yard:{", "}:updates"
	if len(key) < len(prefix)+len(suffix) {
		return ""
	}
	return key[len(prefix) : len(key)-len(suffix)]
}

// TryLease implements Store.
func (r *Redis) TryLease(ctx context.Context, room, holder string, ttl time.Duration) (bool, error) {
	ok, err := r.rdb.SetNX(ctx, leaseKey(room), holder, ttl).Result()
	if err != nil {
		return false, unavailable("take compaction lease", err)
	}
	return ok, nil
}

// compactScript stores a snapshot unless a newer one is stored, then trims the stream below
// both the snapshot's position and the retention window (computed from the server's clock, so
// replicas' clocks do not matter).
var compactScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'pos')
local ums, useq = tonumber(ARGV[2]), tonumber(ARGV[3])
if cur then
  local ms, seq = string.match(cur, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  if ums < ms or (ums == ms and useq < seq) then return 0 end
end
redis.call('HSET', KEYS[1], 'snap', ARGV[1], 'pos', ARGV[2] .. '-' .. ARGV[3])
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
local minid
if cutoff <= ums then minid = cutoff .. '-0' else minid = ARGV[2] .. '-' .. (useq + 1) end
redis.call('XTRIM', KEYS[2], 'MINID', minid)
return 1
`)

// Compact implements Store.
func (r *Redis) Compact(ctx context.Context, room string, snapshot []byte, upTo Pos) error {
	err := compactScript.Run(ctx, r.rdb, []string{snapshotKey(room), updatesKey(room)},
		snapshot, strconv.FormatUint(upTo.Ms, 10), strconv.FormatUint(upTo.Seq, 10),
		r.opts.LogRetention.Milliseconds()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("compact room", err)
	}
	return nil
}

// Rooms implements Store.
func (r *Redis) Rooms(ctx context.Context) ([]string, error) {
	rooms, err := r.rdb.ZRange(ctx, roomsKey, 0, -1).Result()
	if err != nil {
		return nil, unavailable("list rooms", err)
	}
	slices.Sort(rooms)
	return rooms, nil
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Publish implements Awareness.
func (r *Redis) Publish(ctx context.Context, room string, msg AwarenessMessage) error {
	msg.Replica = r.opts.Replica
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := r.rdb.Publish(ctx, awarenessChan(room), b).Err(); err != nil {
		return unavailable("publish awareness", err)
	}
	return nil
}

// Subscribe implements Awareness. One subscriber per room per process: a later one replaces an
// earlier one, whose stop then does nothing.
func (r *Redis) Subscribe(room string, fn func(AwarenessMessage)) (stop func()) {
	sub := &subscriber{fn: fn}
	r.mu.Lock()
	r.subs[room] = sub
	r.mu.Unlock()
	// go-redis re-subscribes by itself after reconnecting; an error here only means Redis is
	// down right now, and that re-subscription covers it.
	if err := r.pubsub.Subscribe(r.ctx, awarenessChan(room)); err != nil {
		r.opts.Logger.Warn("subscribing to awareness", "room", room, "err", err)
	}
	return func() {
		r.mu.Lock()
		mine := r.subs[room] == sub
		if mine {
			delete(r.subs, room)
		}
		r.mu.Unlock()
		if !mine {
			// A newer subscriber for the room (it was reloaded) keeps the channel.
			return
		}
		if err := r.pubsub.Unsubscribe(r.ctx, awarenessChan(room)); err != nil && r.ctx.Err() == nil {
			r.opts.Logger.Warn("unsubscribing from awareness", "room", room, "err", err)
		}
	}
}

func (r *Redis) readAwareness() {
	ch := r.pubsub.Channel(redis.WithChannelSize(4096))
	for {
		select {
		case <-r.ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			var msg AwarenessMessage
			if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil || msg.Replica == r.opts.Replica {
				continue
			}
			room := m.Channel[len("yard:{") : len(m.Channel)-len("}:awareness")]
			r.mu.Lock()
			sub := r.subs[room]
			r.mu.Unlock()
			if sub != nil {
				sub.fn(msg)
			}
		}
	}
}
