package backend

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/testwait"
)

// A replica promoted while a room is written keeps every update whose append succeeded.
func TestClusterFailoverKeepsAcknowledgedAppends(t *testing.T) {
	c := redistest.StartCluster(t)
	admin := c.Client(t)
	a := newBackendOn(t, redistest.Target{URL: c.URL(), Cluster: true}, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "failover"
	slot := int64(roomSlot(room))

	master, replica := shardOf(t, ctx, admin, slot)
	t.Logf("slot %d: master %s, replica %s", slot, master, replica)

	var mu sync.Mutex
	var acked [][]byte
	var refused int
	stop := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); <-done }
	defer halt()
	go func() {
		defer close(done)
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := binary.BigEndian.AppendUint32(nil, i)
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := a.Append(actx, room, u)
			acancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, u)
			} else {
				refused++
			}
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	testwait.Until(t, 30*time.Second, 10*time.Millisecond, "50 appends before the failover", func() bool { return count() >= 50 })

	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	// FORCE: no handshake with the master, which keeps taking writes until it learns it was
	// replaced; only WAIT keeps those from being acknowledged.
	if err := rc.Do(ctx, "cluster", "failover", "force").Err(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 60*time.Second, 50*time.Millisecond, "the replica to become master", func() bool {
		m, _ := shardOf(t, ctx, admin, slot)
		return m == replica
	})
	before := count()
	testwait.Until(t, 60*time.Second, 10*time.Millisecond, "50 appends after the failover", func() bool { return count() >= before+50 })
	halt()

	st, err := newBackendOn(t, redistest.Target{URL: c.URL(), Cluster: true}, "reader").Load(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, e := range st.Entries {
		stored[string(e.Update)] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range acked {
		if !stored[string(u)] {
			t.Fatalf("acknowledged update %x lost in the failover (%d acknowledged, %d stored)", u, len(acked), len(st.Entries))
		}
	}
	if len(acked) == 0 || !bytes.Equal(acked[len(acked)-1], st.Entries[len(st.Entries)-1].Update) {
		t.Errorf("last acknowledged update is not the last stored one")
	}
	t.Logf("%d appends acknowledged, %d refused during the failover, all acknowledged ones stored", len(acked), refused)
}

// A reader blocked in XREAD (for a minute here) on a master that fails over reads the room from
// the new master as soon as it takes writes: Redis redirects the blocked read, so neither a wake
// nor Block is what recovers it.
func TestClusterFailoverRedirectsBlockedReader(t *testing.T) {
	c := redistest.StartCluster(t)
	tg := redistest.Target{URL: c.URL(), Cluster: true}
	admin := c.Client(t)
	a := newBackendOn(t, tg, "a")
	b := blockedBackend(t, tg, "failover-b")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "failover-read"
	slot := int64(roomSlot(room))
	_, replica := shardOf(t, ctx, admin, slot)
	col := newCollector()
	defer b.Follow(room, Pos{}, col.fn)()
	appendOne := func(u byte) {
		testwait.Until(t, 60*time.Second, 50*time.Millisecond, "an append to succeed", func() bool {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			defer acancel()
			_, err := a.Append(actx, room, []byte{u})
			return err == nil
		})
	}
	appendOne(1)
	col.waitFor(t, 1)
	waitBlocked(t, b, 1)

	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	if err := rc.Do(ctx, "cluster", "failover").Err(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 60*time.Second, 50*time.Millisecond, "the replica to become master", func() bool {
		m, _ := shardOf(t, ctx, admin, slot)
		return m == replica
	})
	appendOne(2)
	got := col.waitWithin(t, 2, 5*time.Second, "update appended on the new master")
	if got[1].Update[0] != 2 {
		t.Fatalf("second entry %x", got[1].Update)
	}
}

// shardOf returns the addresses of the master and a replica serving slot.
func shardOf(t *testing.T, ctx context.Context, rdb *redis.ClusterClient, slot int64) (master, replica string) {
	t.Helper()
	shards, err := rdb.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if slot < r.Start || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				addr := fmt.Sprintf("%s:%d", n.IP, n.Port)
				if n.Role == "master" {
					master = addr
				} else {
					replica = addr
				}
			}
			return master, replica
		}
	}
	t.Fatalf("no shard serves slot %d", slot)
	return "", ""
}
