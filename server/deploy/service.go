package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/deploy/lock"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/write"
)

// Rooms is what a deploy needs of the rooms: reading and writing a room's document as the
// server, and the room's read-only rule. *room.Manager satisfies it.
type Rooms interface {
	View(ctx context.Context, id string, fn func(doc *crdt.Doc)) error
	Transact(ctx context.Context, id string, fn func(doc *crdt.Doc, tx *crdt.Transaction)) error
	ReadOnly(u identity.User, room string) bool
}

// Writer is the write path (*write.Writer): every cluster call of a deploy goes through it.
type Writer interface {
	Apply(ctx context.Context, u identity.User, clusterName string, objs []*unstructured.Unstructured, o write.ApplyOptions) ([]write.Result, error)
	Delete(ctx context.Context, u identity.User, ref write.Ref, propagation string, o write.Origin) (write.ActionResult, error)
	Enabled() bool
}

// Options configure a Service.
type Options struct {
	Rooms    Rooms
	Writer   Writer
	Clusters *cluster.Set
	Lock     lock.Lock
	Policies Policies
	// Applying indexes the deploys being applied on every replica (default: in memory).
	Applying Applying
	// Watcher follows a rollout from the replica's shared watches (nil: every rollout is read as
	// the user every Poll).
	Watcher ObjectWatcher
	Trail   audit.Trail
	// Replica names this server as the lock's holder.
	Replica string
	// Timeout bounds an apply, rollout included (default 5m).
	Timeout time.Duration
	// Poll is how often a followed deploy is checked for a cancel or a takeover, and how often a
	// rollout's objects are read when the shared watches cannot serve it (default 1s).
	Poll time.Duration
	// LockTTL is the lock's lease, refreshed while applying (default 30s).
	LockTTL time.Duration
	// Sweep is how often deploys whose replica stopped are looked for (default 10s).
	Sweep      time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service runs the deploys of every room this replica serves.
type Service struct {
	o   Options
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	watched watched

	total    *prometheus.CounterVec
	duration prometheus.Histogram
	follows  *prometheus.CounterVec
}

// New returns a Service and starts its sweeper, which ends deploys whose replica stopped;
// Close stops its applies and the sweeper.
func New(o Options) (*Service, error) {
	if o.Rooms == nil || o.Writer == nil || o.Clusters == nil || o.Lock == nil || o.Policies == nil || o.Trail == nil {
		return nil, errors.New("deploy: Rooms, Writer, Clusters, Lock, Policies and Trail are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 30 * time.Second
	}
	if o.Sweep <= 0 {
		o.Sweep = 10 * time.Second
	}
	if o.Applying == nil {
		o.Applying = NewMemoryApplying()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{o: o, log: o.Logger,
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_deploys_total",
			Help: "Finished deploy applies by result (succeeded, failed, cancelled).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "yard_deploy_duration_seconds",
			Help:    "Time from apply to the deploy's end (all ready, failed or cancelled).",
			Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600},
		}),
		follows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_deploy_follows_total",
			Help: "Rollouts followed, by source: watch (the shared watches) or poll (reads as the user, when the watches cannot serve it).",
		}, []string{"source"}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{s.total, s.duration, s.follows} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("deploy metrics: %w", err)
			}
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sweep()
	}()
	return s, nil
}

// Close stops every apply this replica runs and waits for them; their locks are released, so
// the next sweep (of any replica) ends them.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Policy returns room's approval policy.
func (s *Service) Policy(ctx context.Context, room string) (Policy, error) {
	p, err := s.o.Policies.Get(ctx, room)
	if err != nil {
		return Policy{}, errcode.Errorf(errcode.Unavailable, "%v", err)
	}
	return p, nil
}

// SetPolicy stores room's approval policy (admins only).
func (s *Service) SetPolicy(ctx context.Context, u identity.User, room string, p Policy) error {
	if !u.Admin {
		return errcode.Errorf(errcode.Forbidden, "only admins set a room's deploy policy")
	}
	if p.Approvals < 0 || p.Approvals > MaxApprovals {
		return errcode.Errorf(errcode.BadParams, "approvals: 0..%d", MaxApprovals)
	}
	if err := s.o.Policies.Set(ctx, room, p); err != nil {
		return errcode.Errorf(errcode.Unavailable, "%v", err)
	}
	return nil
}

// Get returns deploy id of room. An open deploy whose workflow changed since its plan is
// invalidated on the way (the check is cheap: one hash of the workflow).
func (s *Service) Get(ctx context.Context, room, id string) (*Deploy, error) {
	var d *Deploy
	var ok, stale bool
	if err := s.o.Rooms.View(ctx, room, func(doc *crdt.Doc) {
		d, ok = readDeploy(doc, id)
		stale = ok && Open(d.State) && d.RollbackOf == "" && d.WorkflowHash != currentHash(doc)
	}); err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "reading room %s: %v", room, err)
	}
	if !ok {
		return nil, errcode.Errorf(errcode.NotFound, "no deploy %s in room %s", id, room)
	}
	if stale {
		inv, err := s.update(ctx, room, id, func(*Deploy, string) error { return nil })
		if inv != nil {
			return inv, nil
		}
		return nil, err
	}
	return d, nil
}

// update reads deploy id, lets fn change it (fn's error aborts, nothing is written) and writes
// it back, in one transaction of the room's document. The workflow's hash is passed to fn, so
// an open deploy whose workflow changed is invalidated in the same step.
func (s *Service) update(ctx context.Context, room, id string, fn func(d *Deploy, hash string) error) (*Deploy, error) {
	var out *Deploy
	var ferr error
	err := s.o.Rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		d, ok := readDeploy(doc, id)
		if !ok {
			ferr = errcode.Errorf(errcode.NotFound, "no deploy %s in room %s", id, room)
			return
		}
		hash := currentHash(doc)
		if invalidate(d, hash) {
			ferr = errcode.Errorf(errcode.BadState, "deploy %s is invalidated: the workflow changed after its plan; plan again", id)
			if werr := writeDeploy(doc, tx, d); werr != nil {
				ferr = werr
			}
			out = d
			return
		}
		if ferr = fn(d, hash); ferr != nil {
			return
		}
		if werr := writeDeploy(doc, tx, d); werr != nil {
			ferr = werr
			return
		}
		out = d
	})
	if err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "writing room %s: %v", room, err)
	}
	return out, ferr
}

// invalidate moves an open deploy whose workflow changed (hash differs) to invalidated and
// reports whether it did. A rollback applies stored manifests, so the workflow does not concern
// it.
func invalidate(d *Deploy, hash string) bool {
	if !Open(d.State) || d.RollbackOf != "" || d.WorkflowHash == hash {
		return false
	}
	d.State = StateInvalidated
	d.Message = "the workflow changed after the plan"
	return true
}

// Approve records u's approval of deploy id.
func (s *Service) Approve(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error) {
	d, err := s.update(ctx, room, id, func(d *Deploy, _ string) error {
		if !Open(d.State) {
			return errcode.Errorf(errcode.BadState, "deploy %s is %s", id, d.State)
		}
		if d.FourEyes && u.Name == d.Proposer {
			return errcode.Errorf(errcode.Forbidden, "four-eyes: the proposer cannot approve their own deploy")
		}
		for _, a := range d.Approvals {
			if a.User == u.Name {
				return nil
			}
		}
		d.Approvals = append(d.Approvals, Approval{User: u.Name, At: now()})
		if d.PolicyMet() {
			d.State = StateApproved
		}
		return nil
	})
	s.record(ctx, u, room, id, "approve", requestID, err)
	return d, err
}

// Reject records u's rejection: the deploy is rejected and cannot be applied.
func (s *Service) Reject(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error) {
	d, err := s.update(ctx, room, id, func(d *Deploy, _ string) error {
		if !CanMove(d.State, StateRejected) {
			return errcode.Errorf(errcode.BadState, "deploy %s is %s", id, d.State)
		}
		d.Rejections = append(d.Rejections, Approval{User: u.Name, At: now()})
		d.State = StateRejected
		d.FinishedAt = now()
		return nil
	})
	s.record(ctx, u, room, id, "reject", requestID, err)
	return d, err
}

// Cancel stops deploy id: an open deploy at once, an applying one between two objects.
func (s *Service) Cancel(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error) {
	d, err := s.update(ctx, room, id, func(d *Deploy, _ string) error {
		if !CanMove(d.State, StateCancelled) {
			return errcode.Errorf(errcode.BadState, "deploy %s is %s", id, d.State)
		}
		d.State = StateCancelled
		d.Message = "cancelled by " + u.Name
		d.FinishedAt = now()
		return nil
	})
	s.record(ctx, u, room, id, "cancel", requestID, err)
	return d, err
}

// record puts one deploy action in the audit trail.
func (s *Service) record(ctx context.Context, u identity.User, room, id, action, requestID string, err error) {
	e := audit.Entry{User: u.Name, Groups: u.Groups, Replica: s.o.Replica, Verb: audit.VerbDeploy, Room: room,
		Deploy: id, RequestID: requestID, Detail: action, Result: audit.ResultOK}
	if err != nil {
		c := errcode.As(err)
		e.ErrorCode = c.Code
		e.Result = audit.ResultFailed
		if c.Code == errcode.Forbidden || c.Code == errcode.WritesDisabled || c.Code == errcode.NotApproved {
			e.Result = audit.ResultRefused
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, rerr := s.o.Trail.Record(rctx, e); rerr != nil {
		s.log.Warn("audit: could not record a deploy action", "action", action, "deploy", id, "err", rerr)
	}
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// newID is a deploy id: short, random, a valid label value.
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "d" + hex.EncodeToString(b[:])
}
