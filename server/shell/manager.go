package shell

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Cluster is what shells need of a served cluster (*cluster.Cluster has it).
type Cluster interface {
	Can(ctx context.Context, u identity.User, a cluster.Access) (cluster.Decision, error)
	Clients(u identity.User) (*cluster.UserClients, error)
}

// Lookup finds a served cluster by name ("" = the default one).
type Lookup func(name string) (Cluster, error)

// Config holds the shell limits and timers.
type Config struct {
	// ScrollbackBytes is how much recent output a joiner is shown first. Default 64 KiB.
	ScrollbackBytes int
	// IdleTimeout ends a session with no input and no output for this long. Default 30m.
	IdleTimeout time.Duration
	// Grace keeps a session whose last participant left (a lost connection) running this long,
	// so that a reconnect with session=<id> reattaches. Default 2m.
	Grace time.Duration
	// MaxPerUser bounds the sessions one user owns across all replicas. Default 5.
	MaxPerUser int
	// RecordingsDir receives one asciicast v2 file per session; empty disables recording.
	RecordingsDir string
	// Heartbeat is how often participants tell the home they are there; three missed beats
	// drop them. Default 5s.
	Heartbeat time.Duration
	// JoinTimeout bounds the wait for a session's home to answer a join. Default 5s.
	JoinTimeout time.Duration
}

// DefaultConfig returns the documented defaults (RecordingsDir is left empty).
func DefaultConfig() Config {
	return Config{
		ScrollbackBytes: 64 << 10, IdleTimeout: 30 * time.Minute, Grace: 2 * time.Minute,
		MaxPerUser: 5, Heartbeat: 5 * time.Second, JoinTimeout: 5 * time.Second,
	}
}

// Validate reports unusable values.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ScrollbackBytes < 1024 || c.ScrollbackBytes > 16<<20 {
		bad("shell: scrollback %d bytes: from 1 KiB to 16 MiB", c.ScrollbackBytes)
	}
	if c.IdleTimeout < time.Second {
		bad("--shell-idle-timeout %s: at least 1s", c.IdleTimeout)
	}
	if c.Grace < 0 {
		bad("--shell-grace %s: not negative", c.Grace)
	}
	if c.MaxPerUser < 1 {
		bad("--max-shells-per-user %d: at least 1", c.MaxPerUser)
	}
	if c.Heartbeat < 10*time.Millisecond || c.JoinTimeout < 10*time.Millisecond {
		bad("shell: heartbeat and join timeout must be at least 10ms")
	}
	return errors.Join(errs...)
}

type shellMetrics struct {
	sessions     prometheus.Gauge
	participants prometheus.Gauge
	refusals     *prometheus.CounterVec
	// recordingFailures counts sessions whose recording stopped being written.
	recordingFailures prometheus.Counter
}

// Manager runs the sessions whose home is this replica and attaches this replica's
// participants to sessions anywhere.
type Manager struct {
	hub      Hub
	dir      *directory.Directory
	trail    audit.Trail
	clusters Lookup
	cfg      Config
	log      *slog.Logger
	metrics  shellMetrics
	now      func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	local  map[string]*session
	closed bool

	recordingsProbe *reusedProbe
}

// NewManager returns a manager whose sessions are relayed by hub and listed in dir (which names
// this replica); sessions' starts, joins, leaves, hand-overs, kills and ends go to trail (verb
// exec), its metrics to reg (nil: not registered).
func NewManager(hub Hub, dir *directory.Directory, trail audit.Trail, clusters Lookup, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ms := shellMetrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yard_shell_sessions", Help: "Shell sessions whose exec runs on this replica.",
		}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yard_shell_participants", Help: "Shell session participants connected to this replica.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_shell_refusals_total", Help: "Shell opens and joins refused, by reason.",
		}, []string{"reason"}),
		recordingFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_shell_recording_failures_total", Help: "Shell sessions whose recording stopped being written (a full disk).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{ms.sessions, ms.participants, ms.refusals, ms.recordingFailures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("shell metrics: %w", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		hub: hub, dir: dir, trail: trail, clusters: clusters, cfg: cfg, log: log, metrics: ms, now: time.Now,
		recordingsProbe: newReusedProbe(func(ctx context.Context) error { return probeRecordings(ctx, cfg.RecordingsDir) }, time.Now),
		ctx:             ctx, cancel: cancel, local: map[string]*session{},
	}, nil
}

// NewSessionID returns a fresh random session id.
func NewSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// start creates a session homed here and starts its loop; the exec starts when its owner joins.
// The exec attempt is in the audit trail before anything else happens: a session whose attempt
// cannot be recorded does not start.
func (m *Manager) start(info Info, groups []string, exec execFunc, cmds [][]string) (*session, error) {
	what := "a shell"
	if len(info.Command) > 0 {
		what = fmt.Sprintf("%q", info.Command)
	}
	if info.Container != "" {
		what += " in container " + info.Container
	}
	att := m.auditEntry(info, info.Owner, "start "+what)
	att.Groups = groups
	actx, acancel := context.WithTimeout(m.ctx, 3*time.Second)
	att, err := m.trail.Begin(actx, att)
	acancel()
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "the audit trail cannot record this exec: %v", err)
	}
	m.log.Info("shell audit", "session", info.ID, "event", "start", "user", info.Owner, "detail", att.Detail)
	s, err := m.startSession(info, att.ID, exec, cmds)
	if err != nil {
		e := mux.AsError(err)
		m.finishAttempt(info.ID, att.ID, audit.Outcome{Result: audit.ResultFailed, ErrorCode: e.Code, Detail: "not started: " + e.Message})
		return nil, err
	}
	return s, nil
}

func (m *Manager) startSession(info Info, attempt string, exec execFunc, cmds [][]string) (*session, error) {
	sub, err := m.hub.Subscribe(m.ctx, homeTopic(info.ID))
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "shell relay: %v", err)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	s := &session{
		m: m, id: info.ID, attempt: attempt, exec: exec, cmds: cmds, ctx: ctx, cancel: cancel, sub: sub,
		log:   m.log.With("session", info.ID, "owner", info.Owner),
		stdin: make(chan []byte, 256), sizes: make(chan remotecommand.TerminalSize, 1),
		info: info, parts: map[string]*partState{}, scroll: ring{max: m.cfg.ScrollbackBytes},
		cols: 80, rows: 24, lastActivity: m.now(), emptySince: m.now(),
	}
	s.input = &input{c: s.stdin}
	rctx, rcancel := context.WithTimeout(m.ctx, 3*time.Second)
	defer rcancel()
	// Open checked the limit already, but another open may have raced it: claiming counts and
	// registers in one step. A refused session leaves no recording behind.
	if err := m.claim(rctx, info); err != nil {
		cancel()
		sub.Close()
		if errors.Is(err, ErrSessionLimit) {
			m.metrics.refusals.WithLabelValues("limit").Inc()
			return nil, mux.Errorf(mux.CodeLimit, "%s already has %d shell sessions (the limit); close one first", info.Owner, m.cfg.MaxPerUser)
		}
		return nil, mux.Errorf(mux.CodeUnavailable, "shell registry: %v", err)
	}
	if m.cfg.RecordingsDir != "" {
		rec, err := newRecorder(m.cfg.RecordingsDir, info.ID, s.cols, s.rows, info.Namespace+"/"+info.Pod, m.now())
		if err != nil {
			cancel()
			sub.Close()
			_ = m.dropSession(rctx, info.ID)
			return nil, mux.Errorf(mux.CodeUnavailable, "%v", err)
		}
		s.rec = rec
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		cancel()
		sub.Close()
		return nil, mux.Errorf(mux.CodeShuttingDown, "the server is shutting down")
	}
	m.local[info.ID] = s
	m.wg.Add(1)
	m.mu.Unlock()
	m.metrics.sessions.Inc()
	go func() {
		defer m.wg.Done()
		defer m.metrics.sessions.Dec()
		s.run()
	}()
	return s, nil
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	delete(m.local, id)
	m.mu.Unlock()
}

// auditEntry is an exec entry of the trail for a session's pod, recorded by this replica.
func (m *Manager) auditEntry(info Info, user, detail string) audit.Entry {
	return audit.Entry{
		User: user, Replica: m.dir.Replica(), Cluster: info.Cluster, Verb: audit.VerbExec, Kind: "Pod", Namespace: info.Namespace,
		Name: info.Pod, Detail: "session " + info.ID + ": " + detail,
	}
}

// event records a session event that is complete when it happens (join, leave, grant, kill), in
// the server log and the audit trail. A trail that is unreachable loses the event, not the
// session: the log line remains.
func (m *Manager) event(info Info, ev, user, detail string) {
	m.log.Info("shell audit", "session", info.ID, "event", ev, "user", user, "detail", detail)
	e := m.auditEntry(info, user, ev)
	if detail != "" {
		e.Detail += " " + detail
	}
	e.Result = audit.ResultOK
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := m.trail.Record(ctx, e); err != nil {
		m.log.Warn("shell audit not stored", "session", info.ID, "event", ev, "err", err)
	}
}

// finishAttempt completes a session's exec attempt.
func (m *Manager) finishAttempt(session, attempt string, o audit.Outcome) {
	m.log.Info("shell audit", "session", session, "event", "end", "result", o.Result, "detail", o.Detail)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := m.trail.Finish(ctx, attempt, o); err != nil {
		m.log.Warn("shell audit not stored", "session", session, "event", "end", "err", err)
	}
}

// refused records an open that was refused or failed before any session existed: starts, and
// joins (which let the joiner see and, handed the keyboard, type into a shell).
func (m *Manager) refused(u identity.User, op OpenParams, err error) {
	e := mux.AsError(err)
	result := audit.ResultRefused
	switch e.Code {
	case mux.CodeUnavailable, mux.CodeInternal, mux.CodeShuttingDown:
		result = audit.ResultFailed
	}
	what := "start"
	if op.Session != "" {
		what = "join session " + op.Session
	}
	entry := audit.Entry{
		User: u.Name, Groups: u.Groups, Replica: m.dir.Replica(), Cluster: op.Cluster, Verb: audit.VerbExec, Kind: "Pod",
		Namespace: op.Namespace, Name: op.Pod, Result: result, ErrorCode: e.Code, Detail: what + ": " + e.Message,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := m.trail.Record(ctx, entry); err != nil {
		m.log.Warn("shell audit not stored", "event", "refused", "err", err)
	}
}

// Close ends every session homed here and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// End asks a session's home, wherever it is, to end it.
func (m *Manager) End(ctx context.Context, id string, by identity.User) error {
	if !ValidSessionID(id) {
		return mux.Errorf(mux.CodeBadParams, "not a session id")
	}
	if _, err := m.lookup(ctx, id); err != nil {
		if errors.Is(err, ErrNoSession) {
			return mux.Errorf(mux.CodeNotFound, "no session %s", id)
		}
		return mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	if err := m.hub.Publish(ctx, homeTopic(id), event{K: "kill", U: by.Name}.encode()); err != nil {
		return mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	return nil
}

// RecordingsReady reports whether a new recording can be written (nil when recording is off):
// /api/readyz shows recordings as degraded while it cannot.
func (m *Manager) RecordingsReady(ctx context.Context) error {
	if m.cfg.RecordingsDir == "" {
		return nil
	}
	return m.recordingsProbe.check(ctx)
}

// RecordingPath returns the file of a session's recording when this replica has it.
func (m *Manager) RecordingPath(id string) (string, bool) {
	if m.cfg.RecordingsDir == "" || !ValidSessionID(id) {
		return "", false
	}
	p := filepath.Join(m.cfg.RecordingsDir, id+".cast")
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

func sortParticipants(l []Participant) {
	sort.Slice(l, func(i, j int) bool {
		if !l[i].JoinedAt.Equal(l[j].JoinedAt) {
			return l[i].JoinedAt.Before(l[j].JoinedAt)
		}
		return l[i].ID < l[j].ID
	})
}
