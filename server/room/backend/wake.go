package backend

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Wake streams let a log reader block for a long time and still pick up a room followed while
// it blocks. Each reader (one per hash slot on a cluster, one in all on single Redis) names, in
// every XREAD, a wake stream of its own slot besides its rooms' update streams:
//
//	yard:wake          the wake stream on single Redis
//	yard:wake:{tag}    the wake stream of slot s on a cluster; tag is wakeTags()[s], a short
//	                   string whose slot is s, so the key can share an XREAD with s's rooms
//
// Following a room in a slot whose reader is blocked (or about to block) XADDs an entry to that
// slot's wake stream, which ends the reader's XREAD at once; the reader then reads again with
// the new room. MAXLEN 1 (exact, so cheap on a one-entry stream) is enough: a reader only needs
// some entry newer than its cursor, and the newest entry is never trimmed. A wake stream expires
// wakeTTL after its last wake: a stream costs about 4.7 KB however short (its first node is
// allocated whole), so only slots with recent follows keep one. A reader's cursor survives the
// expiry: the stream's next wake is created with a newer id (ids come from Redis's clock; only
// a clock set back by more than wakeTTL would make a wake older than a cursor, and then Block
// is the safety net). The reader reads the wake stream from the last wake entry it has
// seen or this process wrote, never from "$": a wake written after the reader took its room
// list but before its XREAD reached Redis is then already newer than its cursor, and the XREAD
// returns at once instead of missing it. Wake entries are never delivered to followers. Wakes
// written by other replicas, which share the streams, end this process's XREADs too; that costs
// one extra XREAD and keeps the keys bounded (at most one per slot, each one entry long),
// whatever replicas come and go. With wakes, RedisOptions.Block is only a safety net (a wake
// lost with the node that held it) and the bound on an idle reader's round trips.

// wakeTTL is how long a wake stream outlives its last wake; wakeEvery is the least time between
// two batches of wakes of one process (see sendWakes).
const (
	wakeTTL   = time.Minute
	wakeEvery = 20 * time.Millisecond
)

// wakeKey is the wake stream of the reader of slot (or of the single reader, allSlots).
func wakeKey(slot int) string {
	if slot == allSlots {
		return "yard:wake"
	}
	return "yard:wake:{" + wakeTags()[slot] + "}"
}

// wakeTags holds, for every hash slot, the first base-36 number (in its string form) whose slot
// it is: at most four characters, found by trying numbers in order (about 90,000 of them, once
// per process, on a cluster only).
var wakeTags = sync.OnceValue(func() *[slotCount]string {
	var tags [slotCount]string
	for n, found := uint64(0), 0; found < slotCount; n++ {
		s := strconv.FormatUint(n, 36)
		if slot := keySlot(s); tags[slot] == "" {
			tags[slot] = s
			found++
		}
	}
	return &tags
})

// wakeLocked asks sendWakes to wake the reader of slot, if it reads: a reader that does not
// will see the rooms as they are when it next takes its room list. r.mu is held.
func (r *Redis) wakeLocked(slot int) {
	if !r.reading[slot] {
		return
	}
	r.wakePending[slot] = struct{}{}
	select {
	case r.wakeNeeded <- struct{}{}:
	default:
	}
}

// sendWakes writes the wakes that Follow and stop ask for, off their callers' path (they do not
// wait for Redis), several in one pipeline when they come together. Failed wakes are retried:
// a reader that is not woken would wait for up to Block. After each batch it waits wakeEvery, so
// a burst of follows (rooms opening together) wakes a reader at most 50 times a second: a woken
// reader reads all of its rooms again, which on single Redis can be thousands of streams. A
// wake alone goes out at once.
func (r *Redis) sendWakes() {
	var failingSince time.Time
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-r.wakeNeeded:
		case <-r.ctx.Done():
			return
		}
		r.mu.Lock()
		slots := slices.Collect(maps.Keys(r.wakePending))
		clear(r.wakePending)
		r.mu.Unlock()
		failed, err := r.writeWakes(r.ctx, slots)
		if err == nil {
			if !failingSince.IsZero() {
				r.opts.Logger.Info("waking log readers again", "after", time.Since(failingSince).Round(time.Millisecond))
				failingSince, backoff = time.Time{}, 50*time.Millisecond
			}
			select {
			case <-time.After(wakeEvery):
			case <-r.ctx.Done():
				return
			}
			continue
		}
		if r.ctx.Err() != nil {
			return
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
			r.opts.Logger.Warn("waking log readers failed", "err", err)
		}
		r.mu.Lock()
		for _, s := range failed {
			r.wakePending[s] = struct{}{}
		}
		r.mu.Unlock()
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return
		}
		backoff = min(2*backoff, 2*time.Second)
		select {
		case r.wakeNeeded <- struct{}{}:
		default:
		}
	}
}

// writeWakes adds an entry to the wake stream of each of slots and returns the slots whose add
// failed. The readers of this process need not see their own wakes again: each written id
// becomes the slot's wake cursor (wakeAt) unless the reader has seen a later one, so a reader
// that takes its room list after that (and so already has the room the wake is for) does not
// wake for it.
func (r *Redis) writeWakes(ctx context.Context, slots []int) (failed []int, err error) {
	if len(slots) == 0 {
		return nil, nil
	}
	adds := make([]*redis.StringCmd, len(slots))
	// Each add's own error says which failed; the pipeline's is one of them. The expiry only
	// bounds memory: whether it is set does not matter to readers.
	_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range slots {
			adds[i] = p.XAdd(ctx, &redis.XAddArgs{Stream: wakeKey(s), MaxLen: 1, Values: []any{"r", r.opts.Replica}})
			p.PExpire(ctx, wakeKey(s), wakeTTL)
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range slots {
		if e := adds[i].Err(); e != nil {
			failed, err = append(failed, s), e
			continue
		}
		if p, e := ParsePos(adds[i].Val()); e == nil && r.wakeAt[s].Less(p) {
			r.wakeAt[s] = p
		}
	}
	return failed, err
}
