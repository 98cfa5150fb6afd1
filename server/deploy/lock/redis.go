package lock

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is Lock across replicas. A room's lock is the hash yard:{room}:deploy-lock {holder,
// token} with the lease as its TTL; yard:{room}:deploy-fence counts the tokens handed out and
// never expires, so tokens keep growing across holders (and across a Redis restart, with the
// append-only file). Both keys carry the room as hash tag, so each script touches one slot.
type Redis struct{ rdb redis.UniversalClient }

// NewRedis returns the lock over rdb.
func NewRedis(rdb redis.UniversalClient) *Redis { return &Redis{rdb: rdb} }

func keys(room string) []string {
	return []string{"yard:{" + room + "}:deploy-lock", "yard:{" + room + "}:deploy-fence"}
}

var acquireScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'holder', 'token')
  return {0, h[1] or '', h[2] or '0'}
end
local t = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', t)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ARGV[1], tostring(t)}
`)

var refreshScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Acquire implements Lock.
func (r *Redis) Acquire(ctx context.Context, room, holder string, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	res, err := acquireScript.Run(ctx, r.rdb, keys(room), holder, ttl.Milliseconds()).Slice()
	if err != nil {
		return 0, fmt.Errorf("deploy lock: acquire %s: %w", room, err)
	}
	if len(res) != 3 {
		return 0, fmt.Errorf("deploy lock: acquire %s: unexpected answer %v", room, res)
	}
	h, _ := res[1].(string)
	ts, _ := res[2].(string)
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("deploy lock: acquire %s: token %q: %w", room, ts, err)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		return 0, &HeldError{Held{h, t}}
	}
	return t, nil
}

// Refresh implements Lock.
func (r *Redis) Refresh(ctx context.Context, room string, token int64, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	n, err := refreshScript.Run(ctx, r.rdb, keys(room)[:1], strconv.FormatInt(token, 10), ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("deploy lock: refresh %s: %w", room, err)
	}
	if n != 1 {
		return ErrLost
	}
	return nil
}

// Release implements Lock.
func (r *Redis) Release(ctx context.Context, room string, token int64) error {
	n, err := releaseScript.Run(ctx, r.rdb, keys(room)[:1], strconv.FormatInt(token, 10)).Int()
	if err != nil {
		return fmt.Errorf("deploy lock: release %s: %w", room, err)
	}
	if n != 1 {
		return ErrLost
	}
	return nil
}

// Holder implements Lock.
func (r *Redis) Holder(ctx context.Context, room string) (Held, bool, error) {
	vals, err := r.rdb.HMGet(ctx, keys(room)[0], "holder", "token").Result()
	if err != nil {
		return Held{}, false, fmt.Errorf("deploy lock: holder %s: %w", room, err)
	}
	h, _ := vals[0].(string)
	ts, _ := vals[1].(string)
	if ts == "" {
		return Held{}, false, nil
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Held{}, false, fmt.Errorf("deploy lock: holder %s: token %q: %w", room, ts, err)
	}
	return Held{h, t}, true, nil
}
