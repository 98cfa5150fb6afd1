// Package audit keeps the trail of every attempt to change a cluster (apply, scale, restart,
// delete, deploy, exec): an attempt is recorded before the apiserver is called and completed with
// its outcome after, so a replica that dies in between still leaves the attempt visible. The
// trail lives in Redis (a stream trimmed by age) when Redis is configured, else in an append-only
// JSON lines file; Memory is for tests of code above it.
package audit

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Verbs of the trail.
const (
	VerbApply   = "apply"
	VerbScale   = "scale"
	VerbRestart = "restart"
	VerbDelete  = "delete"
	VerbDeploy  = "deploy"
	VerbExec    = "exec"
)

// Results of an attempt. Pending is an attempt whose outcome was never recorded (yet).
const (
	ResultPending = "pending"
	ResultOK      = "ok"
	ResultRefused = "refused"
	ResultFailed  = "failed"
)

// Entry is one attempt. Begin fills ID and Time; Finish fills Result (until then pending),
// ErrorCode, DiffSHA256 and FinishedAt.
type Entry struct {
	ID         string     `json:"id"`
	Time       time.Time  `json:"time"`
	User       string     `json:"user"`
	Groups     []string   `json:"groups,omitempty"`
	Replica    string     `json:"replica"`
	Cluster    string     `json:"cluster,omitempty"`
	Verb       string     `json:"verb"`
	Kind       string     `json:"kind,omitempty"`
	Namespace  string     `json:"namespace,omitempty"`
	Name       string     `json:"name,omitempty"`
	DryRun     bool       `json:"dryRun"`
	Result     string     `json:"result"`
	ErrorCode  string     `json:"errorCode,omitempty"`
	DiffSHA256 string     `json:"diffSha256,omitempty"`
	RequestID  string     `json:"requestId,omitempty"`
	Room       string     `json:"room,omitempty"`
	Deploy     string     `json:"deploy,omitempty"`
	Detail     string     `json:"detail,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Outcome completes an attempt.
type Outcome struct {
	Result     string // ok, refused or failed
	ErrorCode  string
	DiffSHA256 string
	Detail     string
}

// Query selects entries; zero fields select everything. Limit 0 means DefaultLimit.
type Query struct {
	User  string
	Verb  string
	Since time.Time
	Limit int
}

// DefaultLimit and MaxLimit bound a listing.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Trail records attempts and lists them.
type Trail interface {
	// Begin records an attempt before it is carried out and returns it with its ID and Time.
	Begin(ctx context.Context, e Entry) (Entry, error)
	// Finish records the outcome of attempt id.
	Finish(ctx context.Context, id string, o Outcome) error
	// List returns the entries q selects, newest first, each attempt once with its outcome.
	List(ctx context.Context, q Query) ([]Entry, error)
}

// Memory is a Trail in this process only.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	seq     int
	entries []Entry
}

// NewMemory returns an empty in-memory trail.
func NewMemory() *Memory { return &Memory{now: time.Now} }

// Begin implements Trail.
func (m *Memory) Begin(_ context.Context, e Entry) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	e.ID = newID(m.seq)
	if e.Time.IsZero() {
		e.Time = m.now().UTC()
	}
	e.Result = ResultPending
	m.entries = append(m.entries, e)
	return e, nil
}

// Finish implements Trail.
func (m *Memory) Finish(_ context.Context, id string, o Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.entries {
		if m.entries[i].ID == id {
			complete(&m.entries[i], o, m.now().UTC())
			return nil
		}
	}
	return nil
}

// List implements Trail.
func (m *Memory) List(_ context.Context, q Query) ([]Entry, error) {
	m.mu.Lock()
	all := append([]Entry(nil), m.entries...)
	m.mu.Unlock()
	return Select(all, q), nil
}

// complete applies an outcome to its attempt.
func complete(e *Entry, o Outcome, at time.Time) {
	e.Result = o.Result
	e.ErrorCode = o.ErrorCode
	if o.DiffSHA256 != "" {
		e.DiffSHA256 = o.DiffSHA256
	}
	if o.Detail != "" {
		e.Detail = o.Detail
	}
	e.FinishedAt = &at
}

// Select filters entries by q and returns them newest first, at most q's limit.
func Select(entries []Entry, q Query) []Entry {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	out := make([]Entry, 0, min(limit, len(entries)))
	for _, e := range entries {
		if (q.User == "" || e.User == q.User) && (q.Verb == "" || e.Verb == q.Verb) && !e.Time.Before(q.Since) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func newID(seq int) string {
	return time.Now().UTC().Format("20060102T150405.000000000") + "-" + strconv.Itoa(seq)
}
