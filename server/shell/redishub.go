package shell

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisHub is the Hub for several replicas: the topics are pub/sub channels, which a Redis
// Cluster relays to every node.
type RedisHub struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisHub returns a hub on rdb; prefix namespaces the channels (default "yard:").
func NewRedisHub(rdb redis.UniversalClient, prefix string) *RedisHub {
	if prefix == "" {
		prefix = "yard:"
	}
	return &RedisHub{rdb: rdb, prefix: prefix}
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
