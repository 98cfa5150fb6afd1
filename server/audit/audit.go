// Package audit keeps the trail of every attempt to change a cluster (apply, scale, restart,
// delete, deploy, exec): an attempt is recorded before the apiserver is called and completed with
// its outcome after, so a replica that dies in between still leaves the attempt visible. The
// trail lives in Redis (a stream trimmed by age) when Redis is configured, else in an append-only
// JSON lines file; Memory is for tests of code above it.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
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

// Entry is one attempt. Begin fills ID, Time and (when empty) Replica; Finish fills Result (until
// then pending), ErrorCode, DiffSHA256 and FinishedAt, and appends its detail to the attempt's.
// Detail is free text for people (what a shell event was, why something failed); it never holds
// secret values.
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
	Result     string `json:"result"` // ok, refused or failed
	ErrorCode  string `json:"errorCode,omitempty"`
	DiffSHA256 string `json:"diffSha256,omitempty"`
	Detail     string `json:"detail,omitempty"`
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
	// Record records an entry that is complete when it happens (e.Result set: ok, refused or
	// failed), such as a refusal made before anything was called or someone joining a shell, in
	// one write instead of Begin and Finish.
	Record(ctx context.Context, e Entry) (Entry, error)
	// List returns the entries q selects, newest first, each attempt once with its outcome.
	List(ctx context.Context, q Query) ([]Entry, error)
}

// RoomHeader names the room a request was made from; its value goes to Entry.Room.
const RoomHeader = "X-Yard-Room"

// ValidVerb reports whether v is one of the trail's verbs.
func ValidVerb(v string) bool {
	switch v {
	case VerbApply, VerbScale, VerbRestart, VerbDelete, VerbDeploy, VerbExec:
		return true
	}
	return false
}

func finalResult(r string) bool { return r == ResultOK || r == ResultRefused || r == ResultFailed }

// begin stamps an attempt (or, with final, a complete entry) before it is stored; every Trail
// checks and fills entries the same way.
func begin(e *Entry, replica string, now time.Time, final bool) error {
	if !ValidVerb(e.Verb) {
		return fmt.Errorf("audit: unknown verb %q", e.Verb)
	}
	if e.Replica == "" {
		e.Replica = replica
	}
	e.Time = now.UTC()
	e.FinishedAt = nil
	if !final {
		e.Result = ResultPending
		return nil
	}
	if !finalResult(e.Result) {
		return fmt.Errorf("audit: result %q: want ok, refused or failed", e.Result)
	}
	at := e.Time
	e.FinishedAt = &at
	return nil
}

func checkOutcome(o Outcome) error {
	if !finalResult(o.Result) {
		return fmt.Errorf("audit: result %q: want ok, refused or failed", o.Result)
	}
	return nil
}

// Memory is a Trail in this process only.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	entries []Entry
}

// NewMemory returns an empty in-memory trail.
func NewMemory() *Memory { return &Memory{now: time.Now} }

// Begin implements Trail.
func (m *Memory) Begin(_ context.Context, e Entry) (Entry, error) { return m.add(e, false) }

// Record implements Trail.
func (m *Memory) Record(_ context.Context, e Entry) (Entry, error) { return m.add(e, true) }

func (m *Memory) add(e Entry, final bool) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := begin(&e, "", m.now(), final); err != nil {
		return Entry{}, err
	}
	e.ID = newID()
	m.entries = append(m.entries, e)
	return e, nil
}

// Finish implements Trail.
func (m *Memory) Finish(_ context.Context, id string, o Outcome) error {
	if err := checkOutcome(o); err != nil {
		return err
	}
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
	switch {
	case e.Detail == "":
		e.Detail = o.Detail
	case o.Detail != "":
		e.Detail += "; " + o.Detail // what was attempted, then how it went
	}
	e.FinishedAt = &at
}

// limit is q's limit within [1, MaxLimit].
func (q Query) limit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}

// matches reports whether q selects e.
func (q Query) matches(e Entry) bool {
	return (q.User == "" || e.User == q.User) && (q.Verb == "" || e.Verb == q.Verb) && !e.Time.Before(q.Since)
}

// Select filters entries (in the order they were recorded) by q and returns them newest first,
// at most q's limit.
func Select(entries []Entry, q Query) []Entry {
	limit := q.limit()
	out := make([]Entry, 0, min(limit, len(entries)))
	// Backwards, so that entries of the same instant keep newest first.
	for i := len(entries) - 1; i >= 0; i-- {
		if q.matches(entries[i]) {
			out = append(out, entries[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// newID returns an id that sorts by time and does not repeat across processes.
func newID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405.000000000") + "-" + hex.EncodeToString(b[:])
}
