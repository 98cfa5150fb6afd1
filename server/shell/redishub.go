package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisHub is the Hub for several replicas: the registry is one key per session (expiring
// unless its home refreshes it) plus an index set, and the topics are pub/sub channels. Keys
// hash-tag the session id so a Redis Cluster keeps each session's keys together.
type RedisHub struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisHub returns a hub on rdb; prefix namespaces the keys (default "yard:").
func NewRedisHub(rdb redis.UniversalClient, prefix string) *RedisHub {
	if prefix == "" {
		prefix = "yard:"
	}
	return &RedisHub{rdb: rdb, prefix: prefix}
}

func (h *RedisHub) sessionKey(id string) string { return h.prefix + "shell:{" + id + "}" }
func (h *RedisHub) indexKey() string            { return h.prefix + "shells" }

// ownerKey is a sorted set of an owner's session ids scored by when each entry expires (ms, by
// Redis's clock), so counting an owner's live sessions is one key, in one slot.
func (h *RedisHub) ownerKey(owner string) string { return h.prefix + "shells:owner:{" + owner + "}" }

// claimScript drops the owner's expired entries, refuses (0) when max (ARGV[3], 0 = no limit)
// live ones remain besides this id, and otherwise records the id until now + ttl (ARGV[2] ms).
var claimScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if max > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= max then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// Claim implements Hub.
func (h *RedisHub) Claim(ctx context.Context, info Info, ttl time.Duration, max int) error {
	ok, err := claimScript.Run(ctx, h.rdb, []string{h.ownerKey(info.Owner)}, info.ID, ttl.Milliseconds(), max).Int()
	if err != nil {
		return fmt.Errorf("claiming a session slot: %w", err)
	}
	if ok == 0 {
		return ErrSessionLimit
	}
	return h.put(ctx, info, ttl)
}

// Register implements Hub; the owner's slot is renewed with the entry.
func (h *RedisHub) Register(ctx context.Context, info Info, ttl time.Duration) error {
	if err := claimScript.Run(ctx, h.rdb, []string{h.ownerKey(info.Owner)}, info.ID, ttl.Milliseconds(), 0).Err(); err != nil {
		return fmt.Errorf("renewing a session slot: %w", err)
	}
	return h.put(ctx, info, ttl)
}

func (h *RedisHub) put(ctx context.Context, info Info, ttl time.Duration) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := h.rdb.Set(ctx, h.sessionKey(info.ID), b, ttl).Err(); err != nil {
		return fmt.Errorf("registering session: %w", err)
	}
	return h.rdb.SAdd(ctx, h.indexKey(), info.ID).Err()
}

// Unregister implements Hub; it frees the owner's slot at once (an entry already expired has
// freed it).
func (h *RedisHub) Unregister(ctx context.Context, id string) error {
	var err error
	if info, lerr := h.Lookup(ctx, id); lerr == nil {
		err = h.rdb.ZRem(ctx, h.ownerKey(info.Owner), id).Err()
	}
	err = errors.Join(err, h.rdb.Del(ctx, h.sessionKey(id)).Err())
	return errors.Join(err, h.rdb.SRem(ctx, h.indexKey(), id).Err())
}

// Lookup implements Hub.
func (h *RedisHub) Lookup(ctx context.Context, id string) (Info, error) {
	b, err := h.rdb.Get(ctx, h.sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Info{}, ErrNoSession
	}
	if err != nil {
		return Info{}, fmt.Errorf("looking up session: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("session record: %w", err)
	}
	return info, nil
}

// List implements Hub; ids whose records expired are removed from the index on the way.
func (h *RedisHub) List(ctx context.Context) ([]Info, error) {
	ids, err := h.rdb.SMembers(ctx, h.indexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	var out []Info
	for _, id := range ids {
		info, err := h.Lookup(ctx, id)
		if errors.Is(err, ErrNoSession) {
			h.rdb.SRem(ctx, h.indexKey(), id)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sortInfos(out)
	return out, nil
}

// Publish implements Hub.
func (h *RedisHub) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := h.rdb.Publish(ctx, h.prefix+topic, msg).Err(); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	return nil
}

// Subscribe implements Hub.
func (h *RedisHub) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	ps := h.rdb.Subscribe(ctx, h.prefix+topic)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("subscribing: %w", err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	s := &redisSub{ps: ps, c: make(chan []byte, subBuffer), cancel: cancel, done: make(chan struct{})}
	go s.pump(pctx)
	return s, nil
}

type redisSub struct {
	ps     *redis.PubSub
	c      chan []byte
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// pump moves messages from Redis to C; go-redis resubscribes by itself after a reconnect.
func (s *redisSub) pump(ctx context.Context) {
	defer close(s.done)
	defer close(s.c)
	for {
		m, err := s.ps.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			select { // Redis is away: go-redis reconnects on the next receive
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		select {
		case s.c <- []byte(m.Payload):
		default:
			s.mu.Lock()
			s.err = ErrLagging
			s.mu.Unlock()
			return
		}
	}
}

func (s *redisSub) C() <-chan []byte { return s.c }
func (s *redisSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
func (s *redisSub) Close() {
	s.cancel()
	_ = s.ps.Close()
	<-s.done
}

// Close implements Hub; the Redis client belongs to the caller.
func (h *RedisHub) Close() error { return nil }
