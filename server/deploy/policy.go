package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Policies keep each room's approval policy on the server: never in the document, which any
// client of the room may edit.
type Policies interface {
	// Get returns room's policy, or the default when none was set.
	Get(ctx context.Context, room string) (Policy, error)
	// Set stores room's policy.
	Set(ctx context.Context, room string, p Policy) error
}

// MemoryPolicies keeps policies in the process (one replica).
type MemoryPolicies struct {
	def Policy
	mu  sync.Mutex
	m   map[string]Policy
}

// NewMemoryPolicies returns policies in memory with default def.
func NewMemoryPolicies(def Policy) *MemoryPolicies {
	return &MemoryPolicies{def: def, m: map[string]Policy{}}
}

// Get implements Policies.
func (m *MemoryPolicies) Get(_ context.Context, room string) (Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.m[room]; ok {
		return p, nil
	}
	return m.def, nil
}

// Set implements Policies.
func (m *MemoryPolicies) Set(_ context.Context, room string, p Policy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[room] = p
	return nil
}

// RedisPolicies keeps policies in Redis, key yard:{room}:deploy-policy (JSON), for every replica.
type RedisPolicies struct {
	rdb redis.UniversalClient
	def Policy
}

// NewRedisPolicies returns policies in Redis with default def.
func NewRedisPolicies(rdb redis.UniversalClient, def Policy) *RedisPolicies {
	return &RedisPolicies{rdb: rdb, def: def}
}

func policyKey(room string) string { return "yard:{" + room + "}:deploy-policy" }

// Get implements Policies.
func (r *RedisPolicies) Get(ctx context.Context, room string) (Policy, error) {
	b, err := r.rdb.Get(ctx, policyKey(room)).Bytes()
	if errors.Is(err, redis.Nil) {
		return r.def, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("deploy policy: %w", err)
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return Policy{}, fmt.Errorf("deploy policy of %s: %w", room, err)
	}
	return p, nil
}

// Set implements Policies.
func (r *RedisPolicies) Set(ctx context.Context, room string, p Policy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := r.rdb.Set(ctx, policyKey(room), b, 0).Err(); err != nil {
		return fmt.Errorf("deploy policy: %w", err)
	}
	return nil
}
