package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// On a Redis Cluster one command's keys must share a hash slot, so the one multi-stream XREAD of
// single Redis becomes one XREAD BLOCK loop per slot that has followed rooms: a room's keys share
// its slot (the {room} hash tag), and rooms whose ids hash to one slot are read together. Each
// loop holds one connection of the cluster client's pool of its node while it blocks, which is
// for up to Block (5 s) when its rooms are idle: it also reads its slot's wake stream (wake.go),
// so following a room in its slot ends the wait at once rather than after a short poll.

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// keySlot is the hash slot of key, as Redis Cluster computes it: CRC16 of the hash tag (the
// part between the first '{' and the next '}', when that is not empty), else of the whole key.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % slotCount
}

// roomSlot is the slot of every key of room.
func roomSlot(room string) uint16 { return keySlot(updatesKey(room)) }

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the checksum of Redis Cluster.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// superviseSlots starts a reader for every slot that gains a followed room; a reader ends by
// itself when its slot has none left.
func (r *Redis) superviseSlots() {
	for {
		r.mu.Lock()
		for slot := range r.bySlot {
			if !r.slotReaders[slot] {
				r.slotReaders[slot] = true
				r.wg.Go(func() { r.readStreams(int(slot)) })
			}
		}
		r.mu.Unlock()
		select {
		case <-r.newRooms:
		case <-r.ctx.Done():
			return
		}
	}
}

// errNotReplicated is an append that no replica confirmed within the wait.
var errNotReplicated = errors.New("no replica confirmed the update in time")

// appendReplicated appends update on the master of the room's slot and waits (WAIT 1) until a
// replica of that master has it, on the same connection, as WAIT requires. An update that is
// not confirmed is reported as not stored; the room stores it again later, which is harmless
// (applying an update twice changes nothing).
func (r *Redis) appendReplicated(ctx context.Context, room string, update []byte) (string, error) {
	key := updatesKey(room)
	var lastErr error
	for attempt := range 2 {
		if attempt > 0 {
			// The slot moved (a failover): learn the new master.
			r.cluster.ReloadState(ctx)
		}
		node, err := r.cluster.MasterForKey(ctx, key)
		if err != nil {
			lastErr = err
			continue
		}
		var add *redis.StringCmd
		var wait *redis.Cmd
		// Each command's own error says which failed; the pipeline's is one of them.
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			add = p.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"u", update}})
			wait = p.Do(ctx, "wait", 1, r.opts.ReplicaWait.Milliseconds())
			return nil
		})
		if err = errors.Join(add.Err(), wait.Err()); err != nil {
			lastErr = err
			continue
		}
		if n, err := wait.Int(); err != nil || n < 1 {
			return "", fmt.Errorf("%w (%v)", errNotReplicated, r.opts.ReplicaWait)
		}
		return add.Val(), nil
	}
	return "", lastErr
}
