package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisKey is the stream that holds the trail of every replica. It is one key, so it lives on
// one node of a Redis Cluster: audits are rare, and one key keeps the order total.
const RedisKey = "yard:audit"

// Redis bounds: how many stream entries one List reads at most (about 50,000 attempts), and
// how long each call may take.
const (
	redisMaxScan = 100_000
	redisTimeout = 3 * time.Second
)

// Redis is the trail of several replicas: one stream, one stream entry per record (field "r",
// the record's JSON). An entry's ID is its attempt's stream id and its Time is that id's
// millisecond time (Redis's clock, one clock for every replica), so the stream's order is the
// listing's order. Every add also trims the stream of entries older than the retention (exact
// MINID trimming, cheap when audits are rare), and List never returns older ones.
type Redis struct {
	rdb       redis.Cmdable
	key       string
	retention time.Duration
	replica   string
	now       func() time.Time
}

// NewRedis returns the trail in stream key (RedisKey when empty) of rdb, keeping retention;
// replica fills entries' Replica.
func NewRedis(rdb redis.Cmdable, key string, retention time.Duration, replica string) (*Redis, error) {
	if retention <= 0 {
		return nil, fmt.Errorf("audit: retention %s: must be positive", retention)
	}
	if key == "" {
		key = RedisKey
	}
	return &Redis{rdb: rdb, key: key, retention: retention, replica: replica, now: time.Now}, nil
}

// Begin implements Trail.
func (r *Redis) Begin(ctx context.Context, e Entry) (Entry, error) { return r.attempt(ctx, e, false) }

// Record implements Trail.
func (r *Redis) Record(ctx context.Context, e Entry) (Entry, error) { return r.attempt(ctx, e, true) }

func (r *Redis) attempt(ctx context.Context, e Entry, final bool) (Entry, error) {
	if err := begin(&e, r.replica, r.now(), final); err != nil {
		return Entry{}, err
	}
	id, err := r.add(ctx, record{Attempt: &e})
	if err != nil {
		return Entry{}, err
	}
	e.ID, e.Time = id, streamTime(id)
	if final {
		e.FinishedAt = &e.Time
	}
	return e, nil
}

var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// Finish implements Trail.
func (r *Redis) Finish(ctx context.Context, id string, o Outcome) error {
	if err := checkOutcome(o); err != nil {
		return err
	}
	if !streamID.MatchString(id) {
		return fmt.Errorf("audit: %q is not an attempt id of this trail", id)
	}
	_, err := r.add(ctx, record{Done: &done{ID: id, Outcome: o}})
	return err
}

// add appends one record, trimming what is past the retention on the way.
func (r *Redis) add(ctx context.Context, rec record) (string, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	id, err := r.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: r.key,
		MinID:  strconv.FormatInt(r.oldest().UnixMilli(), 10),
		Values: []any{"r", b},
	}).Result()
	if err != nil {
		return "", fmt.Errorf("audit: storing in Redis: %w", err)
	}
	return id, nil
}

// oldest is the time before which entries are past the retention.
func (r *Redis) oldest() time.Time { return r.now().Add(-r.retention) }

// List implements Trail: XREVRANGE from the newest entry down to the query's since (or the
// retention), in batches, folding outcomes into their attempts, until the limit is reached or
// redisMaxScan entries were read.
func (r *Redis) List(ctx context.Context, q Query) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*redisTimeout)
	defer cancel()
	from := q.Since
	if o := r.oldest(); from.Before(o) {
		from = o
	}
	q.Since = from
	f := newFolder(q)
	stop := strconv.FormatInt(from.UnixMilli(), 10)
	start := "+"
	batch := int64(min(2*f.limit+16, 2000))
	for scanned := 0; scanned < redisMaxScan; {
		msgs, err := r.rdb.XRevRangeN(ctx, r.key, start, stop, batch).Result()
		if err != nil {
			return nil, fmt.Errorf("audit: reading from Redis: %w", err)
		}
		for _, m := range msgs {
			rec, ok := decodeStream(m)
			if ok && f.add(rec) {
				return f.entries(), nil
			}
		}
		if int64(len(msgs)) < batch {
			break
		}
		scanned += len(msgs)
		start = "(" + msgs[len(msgs)-1].ID
	}
	return f.entries(), nil
}

// decodeStream reads one stream entry; the stream id gives attempts their ID and Time and
// outcomes their time. Entries that are not records are skipped.
func decodeStream(m redis.XMessage) (record, bool) {
	s, _ := m.Values["r"].(string)
	var rec record
	if json.Unmarshal([]byte(s), &rec) != nil {
		return record{}, false
	}
	at := streamTime(m.ID)
	switch {
	case rec.Attempt != nil:
		rec.Attempt.ID, rec.Attempt.Time = m.ID, at
		if rec.Attempt.FinishedAt != nil {
			rec.Attempt.FinishedAt = &at
		}
	case rec.Done != nil:
		rec.Done.At = at
	default:
		return record{}, false
	}
	return rec, true
}

// streamTime is the millisecond time of a stream id.
func streamTime(id string) time.Time {
	ms, err := strconv.ParseInt(id[:max(strings.IndexByte(id, '-'), 0)], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
