package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Prefix starts every key of the directory. A scope's keys carry the scope as their hash tag,
// so on a Redis Cluster they share one slot and a claim is one script:
//
//	yard:dir:{scope}:e:<id>     an entry's value, expiring TTL after its last write
//	yard:dir:{scope}:ids        set of the scope's ids (expires with its last entry; ids whose
//	                            entry expired are dropped when the scope is listed)
//	yard:dir:{scope}:g:<group>  sorted set of a claim group's ids by expiry (ms, Redis's clock)
const Prefix = "yard:dir:"

func entryKey(scope, id string) string    { return Prefix + "{" + scope + "}:e:" + id }
func indexKey(scope string) string        { return Prefix + "{" + scope + "}:ids" }
func groupKey(scope, group string) string { return Prefix + "{" + scope + "}:g:" + group }

// Redis is the store shared by several replicas, on single Redis or a Redis Cluster.
type Redis struct {
	rdb redis.UniversalClient
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store on rdb, which the caller keeps owning.
func NewRedis(rdb redis.UniversalClient) *Redis { return &Redis{rdb: rdb} }

func unavailable(op string, err error) error {
	return fmt.Errorf("directory: %s: %w: %w", op, ErrUnavailable, err)
}

// putScript writes an entry (KEYS[1]) and indexes its id (KEYS[2], ARGV[1]) for ARGV[3] ms;
// with a group (KEYS[3]) it first drops the group's expired ids and refuses (0) when ARGV[4]
// (0 = no limit) live ones remain besides this id. The expiries come from Redis's clock, so the
// replicas' clocks do not matter.
var putScript = redis.NewScript(`
local ttl = tonumber(ARGV[3])
if KEYS[3] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local max = tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if max > 0 and not redis.call('ZSCORE', KEYS[3], ARGV[1]) and redis.call('ZCARD', KEYS[3]) >= max then
    return 0
  end
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ttl)
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

func (r *Redis) run(ctx context.Context, ttl time.Duration, rec record, max int) (bool, error) {
	keys := []string{entryKey(rec.scope, rec.id), indexKey(rec.scope)}
	if rec.group != "" {
		keys = append(keys, groupKey(rec.scope, rec.group))
	}
	n, err := putScript.Run(ctx, r.rdb, keys, rec.id, rec.value, ttl.Milliseconds(), max).Int()
	return n == 1, err
}

func (r *Redis) put(ctx context.Context, ttl time.Duration, recs ...record) error {
	// Plain entries go in one pipeline (the cluster client splits it per node); grouped ones
	// renew their group too, one script each.
	var plain, grouped []record
	for _, rec := range recs {
		if rec.group == "" {
			plain = append(plain, rec)
		} else {
			grouped = append(grouped, rec)
		}
	}
	if len(plain) > 0 {
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, rec := range plain {
				p.Set(ctx, entryKey(rec.scope, rec.id), rec.value, ttl)
				p.SAdd(ctx, indexKey(rec.scope), rec.id)
				p.PExpire(ctx, indexKey(rec.scope), ttl)
			}
			return nil
		})
		if err != nil {
			return unavailable("put", err)
		}
	}
	for _, rec := range grouped {
		if _, err := r.run(ctx, ttl, rec, 0); err != nil {
			return unavailable("put", err)
		}
	}
	return nil
}

func (r *Redis) claim(ctx context.Context, ttl time.Duration, rec record, max int) error {
	ok, err := r.run(ctx, ttl, rec, max)
	if err != nil {
		return unavailable("claim", err)
	}
	if !ok {
		return ErrLimit
	}
	return nil
}

func (r *Redis) delete(ctx context.Context, recs ...record) error {
	if len(recs) == 0 {
		return nil
	}
	// One transaction per slot (the cluster client splits it so): a claim counting the group must
	// never see the entry gone but its group member still there.
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, rec := range recs {
			p.Del(ctx, entryKey(rec.scope, rec.id))
			p.SRem(ctx, indexKey(rec.scope), rec.id)
			if rec.group != "" {
				p.ZRem(ctx, groupKey(rec.scope, rec.group), rec.id)
			}
		}
		return nil
	})
	if err != nil {
		return unavailable("delete", err)
	}
	return nil
}

func (r *Redis) get(ctx context.Context, scope, id string) ([]byte, error) {
	b, err := r.rdb.Get(ctx, entryKey(scope, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable("get", err)
	}
	return b, nil
}

func (r *Redis) list(ctx context.Context, scope string) ([]Entry, error) {
	ids, err := r.rdb.SMembers(ctx, indexKey(scope)).Result()
	if err != nil {
		return nil, unavailable("list", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = entryKey(scope, id)
	}
	// One slot: one MGET, on a cluster too.
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, unavailable("list", err)
	}
	out := make([]Entry, 0, len(ids))
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			gone = append(gone, ids[i])
			continue
		}
		out = append(out, Entry{ID: ids[i], Value: []byte(s)})
	}
	if len(gone) > 0 {
		// Their entries expired (a replica that went away): best effort, the next list retries.
		_ = r.rdb.SRem(ctx, indexKey(scope), gone...).Err()
	}
	return out, nil
}
