package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/deploy/lock"
	"github.com/yardhq/yard/server/errcode"
)

// Applying indexes the deploys being applied on any replica, so that when a replica dies
// mid-apply another one finds the deploy once its lock expired and ends it: a deploy is never
// left applying forever.
type Applying interface {
	Add(ctx context.Context, room, id string) error
	Remove(ctx context.Context, room, id string) error
	// List returns every indexed deploy as room and id.
	List(ctx context.Context) ([][2]string, error)
}

// MemoryApplying is the index in the process (one replica).
type MemoryApplying struct {
	mu sync.Mutex
	m  map[[2]string]bool
}

// NewMemoryApplying returns an empty index.
func NewMemoryApplying() *MemoryApplying { return &MemoryApplying{m: map[[2]string]bool{}} }

// Add implements Applying.
func (m *MemoryApplying) Add(_ context.Context, room, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[[2]string{room, id}] = true
	return nil
}

// Remove implements Applying.
func (m *MemoryApplying) Remove(_ context.Context, room, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, [2]string{room, id})
	return nil
}

// List implements Applying.
func (m *MemoryApplying) List(context.Context) ([][2]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][2]string, 0, len(m.m))
	for k := range m.m {
		out = append(out, k)
	}
	return out, nil
}

// RedisApplying is the index in Redis: the set yard:deploys:applying of "room/id" (not per
// room, so not hash-tagged).
type RedisApplying struct{ rdb redis.UniversalClient }

// NewRedisApplying returns the index in rdb.
func NewRedisApplying(rdb redis.UniversalClient) *RedisApplying { return &RedisApplying{rdb: rdb} }

const applyingKey = "yard:deploys:applying"

// Add implements Applying.
func (r *RedisApplying) Add(ctx context.Context, room, id string) error {
	return r.rdb.SAdd(ctx, applyingKey, room+"/"+id).Err()
}

// Remove implements Applying.
func (r *RedisApplying) Remove(ctx context.Context, room, id string) error {
	return r.rdb.SRem(ctx, applyingKey, room+"/"+id).Err()
}

// List implements Applying.
func (r *RedisApplying) List(ctx context.Context) ([][2]string, error) {
	ms, err := r.rdb.SMembers(ctx, applyingKey).Result()
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(ms))
	for _, m := range ms {
		// Room ids have no "/", deploy ids neither: the last one separates them.
		if i := strings.LastIndexByte(m, '/'); i > 0 {
			out = append(out, [2]string{m[:i], m[i+1:]})
		}
	}
	return out, nil
}

// sweep runs until the service closes: every Sweep it ends the indexed deploys whose lock
// nobody holds any more, and every Poll it invalidates stale plans of the watched rooms.
func (s *Service) sweep() {
	t := time.NewTicker(s.o.Sweep)
	defer t.Stop()
	inv := time.NewTicker(s.o.Poll)
	defer inv.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.sweepOnce(s.ctx)
		case <-inv.C:
			s.invalidateStale(s.ctx)
		}
	}
}

func (s *Service) sweepOnce(ctx context.Context) {
	list, err := s.o.Applying.List(ctx)
	if err != nil {
		s.log.Warn("deploy: listing applying deploys", "err", err)
		return
	}
	for _, rd := range list {
		if err := s.takeOver(ctx, rd[0], rd[1]); err != nil && ctx.Err() == nil {
			s.log.Warn("deploy: taking over", "room", rd[0], "deploy", rd[1], "err", err)
		}
	}
}

// takeOver ends deploy id of room when its lock expired: the replica that applied it stopped
// (killed, or shut down) before it ended. The objects it applied stay; the deploy is marked
// failed with the reason, and can be planned and applied again.
func (s *Service) takeOver(ctx context.Context, room, id string) error {
	if _, held, err := s.o.Lock.Holder(ctx, room); err != nil || held {
		return err
	}
	token, err := s.o.Lock.Acquire(ctx, room, s.o.Replica+"/takeover/"+id, s.o.LockTTL)
	if errors.Is(err, lock.ErrHeld) {
		return nil // someone just started; it is theirs
	}
	if err != nil {
		return err
	}
	defer s.release(room, token)
	ended := false
	_, err = s.update(ctx, room, id, func(d *Deploy, _ string) error {
		if d.State != StateApplying || d.Token >= token {
			return errStopped
		}
		d.State, d.FinishedAt = StateFailed, now()
		d.Message = fmt.Sprintf("the replica applying it stopped before it ended (lock token %d expired); the objects it applied stay, plan and apply again", d.Token)
		for n, st := range d.Nodes {
			if st.Status != NodeReady && st.Status != NodeFailed {
				d.Nodes[n] = NodeStatus{Status: NodeFailed, Message: "not finished: the replica applying it stopped"}
			}
		}
		ended = true
		return nil
	})
	if errcode.As(err).Code == errcode.NotFound {
		err = nil // the deploy is gone from the document: nothing to end
	}
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	if ended {
		s.total.WithLabelValues(StateFailed).Inc()
		s.log.Info("deploy taken over and failed", "room", room, "deploy", id)
	}
	return s.o.Applying.Remove(ctx, room, id)
}
