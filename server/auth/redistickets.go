package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/identity"
)

// TicketPrefix starts every key of the shared ticket store. A user's keys carry a hash of the
// user's id as their hash tag, so on a Redis Cluster they share one slot and issuing is one
// script; the ticket itself starts with that tag, so redeeming finds the slot from the ticket
// alone:
//
//	yard:tkt:{u}:t:<ticket>  the ticket's user, expiring with the ticket
//	yard:tkt:{u}:q           sorted set of the user's unredeemed tickets by expiry (ms, Redis's clock)
const TicketPrefix = "yard:tkt:"

// RedisTickets is the TicketStore of several replicas: a ticket issued by one replica is
// redeemed by whichever replica the WebSocket upgrade reaches, once.
type RedisTickets struct {
	rdb redis.UniversalClient
	ttl time.Duration // TicketTTL; shorter in tests of expiry
}

var _ TicketStore = (*RedisTickets)(nil)

// NewRedisTickets returns a store on rdb, which the caller keeps owning.
func NewRedisTickets(rdb redis.UniversalClient) *RedisTickets {
	return &RedisTickets{rdb: rdb, ttl: TicketTTL}
}

// userTag is the hash tag of a user's tickets: short, and free of the characters a user id may
// hold ({, }, :).
func userTag(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return hex.EncodeToString(sum[:6])
}

func ticketKey(tag, ticket string) string { return TicketPrefix + "{" + tag + "}:t:" + ticket }
func userQueueKey(tag string) string      { return TicketPrefix + "{" + tag + "}:q" }

// issueScript stores ticket ARGV[1] (KEYS[1]) holding ARGV[2] for ARGV[3] ms, unless the user's
// queue (KEYS[2]), once its expired tickets are dropped, holds ARGV[4] already (0: refused).
var issueScript = redis.NewScript(`
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
return 1
`)

// redeemScript takes ticket ARGV[1] (KEYS[1]) out of the store and its user's queue (KEYS[2]):
// whoever runs it first gets the value, every later run nil.
var redeemScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v
`)

// Issue implements TicketStore. The ticket expires on Redis's clock, so replicas' clocks do not
// matter; the expiry returned is this replica's estimate of it.
func (r *RedisTickets) Issue(ctx context.Context, u identity.User) (string, time.Time, error) {
	value, err := json.Marshal(u)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tickets: encode the user: %w", err)
	}
	tag := userTag(u.ID)
	ticket := tag + "." + randomID(24)
	exp := time.Now().Add(r.ttl)
	n, err := issueScript.Run(ctx, r.rdb, []string{ticketKey(tag, ticket), userQueueKey(tag)},
		ticket, value, r.ttl.Milliseconds(), MaxTicketsPerUser).Int()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tickets: issue: %w", err)
	}
	if n == 0 {
		return "", time.Time{}, authErr(CodeTicketLimit, fmt.Sprintf("%d tickets are waiting to be used (the limit)", MaxTicketsPerUser), nil)
	}
	return ticket, exp, nil
}

// Redeem implements TicketStore.
func (r *RedisTickets) Redeem(ctx context.Context, ticket string) (identity.User, error) {
	tag, _, ok := strings.Cut(ticket, ".")
	if !ok || len(tag) != 12 || strings.ContainsAny(tag, "{}") {
		return identity.User{}, authErr(CodeTicketInvalid, "unknown or already used ticket", nil)
	}
	v, err := redeemScript.Run(ctx, r.rdb, []string{ticketKey(tag, ticket), userQueueKey(tag)}, ticket).Text()
	if errors.Is(err, redis.Nil) {
		return identity.User{}, authErr(CodeTicketInvalid, "unknown, expired or already used ticket", nil)
	}
	if err != nil {
		return identity.User{}, fmt.Errorf("tickets: redeem: %w", err)
	}
	var u identity.User
	if err := json.Unmarshal([]byte(v), &u); err != nil {
		return identity.User{}, fmt.Errorf("tickets: decode the user: %w", err)
	}
	return u, nil
}
