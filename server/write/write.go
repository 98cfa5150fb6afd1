// Package write is Yard's one path for changing a cluster: server-side apply of YAML, and the
// actions on one object (scale, restart, delete). Every call is made with the user's
// impersonating client, so Kubernetes RBAC decides; every attempt is recorded in the audit trail
// before the apiserver is called and completed with its outcome after; a write made from a room
// is appended to that room's activity. With writes disabled (no --write-enabled) every write is
// refused before anything reaches the apiserver; dry runs are still served.
package write

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/identity"
)

// FieldManager is the server-side apply field manager of every change Yard makes.
const FieldManager = "yard"

// callTimeout bounds one request's calls to the apiserver.
const callTimeout = 30 * time.Second

// Options configure a Writer.
type Options struct {
	Clusters *cluster.Set
	// Trail records every attempt (required).
	Trail audit.Trail
	// Rooms receives the activity of writes made from a room; nil: no activity is written.
	Rooms Rooms
	// Enabled allows writes; when false every write that is not a dry run is refused with
	// writes_disabled, and recorded as refused.
	Enabled bool
	// Replica names this server in the audit trail.
	Replica string
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Registerer receives the write metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// Writer makes every cluster write.
type Writer struct {
	clusters *cluster.Set
	trail    audit.Trail
	rooms    Rooms
	enabled  bool
	replica  string
	log      *slog.Logger
	mappers  mappers

	writes   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a Writer.
func New(o Options) (*Writer, error) {
	if o.Clusters == nil || o.Trail == nil {
		return nil, errors.New("write: Clusters and Trail are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Writer{
		clusters: o.Clusters, trail: o.Trail, rooms: o.Rooms, enabled: o.Enabled, replica: o.Replica, log: o.Logger,
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yard_writes_total",
			Help: "Cluster write attempts (one per object) by verb and result (ok, refused, failed); dry runs included.",
		}, []string{"verb", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yard_write_duration_seconds",
			Help:    "Latency of a write request (all its objects, audit included) by verb.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"verb"}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(w.writes); err != nil {
			return nil, fmt.Errorf("write metrics: %w", err)
		}
		if err := o.Registerer.Register(w.duration); err != nil {
			return nil, fmt.Errorf("write metrics: %w", err)
		}
	}
	return w, nil
}

// Enabled reports whether writes are allowed on this server.
func (w *Writer) Enabled() bool { return w.enabled }

// Origin says where a write comes from, for the audit trail and the room's activity.
type Origin struct {
	// RequestID is the HTTP request's id.
	RequestID string
	// Room, when set, receives the write in its activity.
	Room string
	// Deploy names the deploy that made the write, if any.
	Deploy string
}

// ObjectError is a per-object failure.
type ObjectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// attempt is one audited write to one object.
type attempt struct {
	w      *Writer
	entry  audit.Entry
	result string // set by finish
}

// newEntry is the audit entry of a write to one object.
func (w *Writer) newEntry(u identity.User, clusterName, verb, kind, namespace, name string, dryRun bool, o Origin) audit.Entry {
	return audit.Entry{
		User: u.Name, Groups: u.Groups, Replica: w.replica, Cluster: clusterName, Verb: verb, Kind: kind,
		Namespace: namespace, Name: name, DryRun: dryRun, RequestID: o.RequestID, Room: o.Room, Deploy: o.Deploy,
	}
}

// begin records an attempt before the apiserver is called. A trail that cannot record refuses
// the write: an unrecorded change is worse than none.
func (w *Writer) begin(ctx context.Context, e audit.Entry) (*attempt, error) {
	e, err := w.trail.Begin(ctx, e)
	if err != nil {
		w.log.Warn("audit trail refused an attempt; the write is refused", "verb", e.Verb, "err", err)
		return nil, errcode.Errorf(errcode.Unavailable, "the audit trail is unavailable; nothing was changed")
	}
	return &attempt{w: w, entry: e}, nil
}

// refuse records, in one write, an attempt refused before anything was called (writes off).
func (w *Writer) refuse(ctx context.Context, e audit.Entry, why *ObjectError) (*attempt, error) {
	e.Result, e.ErrorCode = audit.ResultRefused, why.Code
	e, err := w.trail.Record(ctx, e)
	if err != nil {
		w.log.Warn("audit trail refused an attempt", "verb", e.Verb, "err", err)
		return nil, errcode.Errorf(errcode.Unavailable, "the audit trail is unavailable; nothing was changed")
	}
	a := &attempt{w: w, entry: e}
	a.done(audit.Outcome{Result: audit.ResultRefused, ErrorCode: why.Code})
	return a, nil
}

// finish records the outcome of the attempt (err nil: ok). diff is the redacted diff, only its
// hash is kept.
func (a *attempt) finish(ctx context.Context, err *ObjectError, diff string) {
	out := audit.Outcome{Result: audit.ResultOK}
	if err != nil {
		out.ErrorCode = err.Code
		out.Result = audit.ResultFailed
		if err.Code == errcode.Forbidden || err.Code == errcode.WritesDisabled {
			out.Result = audit.ResultRefused
		}
	}
	if diff != "" {
		sum := sha256.Sum256([]byte(diff))
		out.DiffSHA256 = hex.EncodeToString(sum[:])
	}
	// The outcome is recorded even when the request's context ended (a client gone after the
	// apiserver answered): the change happened either way.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := a.w.trail.Finish(fctx, a.entry.ID, out); ferr != nil {
		a.w.log.Warn("audit: could not record an outcome", "id", a.entry.ID, "err", ferr)
	}
	a.done(out)
}

// done counts and logs a completed attempt.
func (a *attempt) done(out audit.Outcome) {
	a.w.writes.WithLabelValues(a.entry.Verb, out.Result).Inc()
	e := a.entry
	a.w.log.Info("write", "user", e.User, "verb", e.Verb, "cluster", e.Cluster, "kind", e.Kind,
		"namespace", e.Namespace, "name", e.Name, "dry_run", e.DryRun, "result", out.Result,
		"code", out.ErrorCode, "request_id", e.RequestID, "room", e.Room, "audit_id", e.ID)
	a.result = out.Result
}

// observe records a request's latency.
func (w *Writer) observe(verb string, start time.Time) {
	w.duration.WithLabelValues(verb).Observe(time.Since(start).Seconds())
}

// disabled is the refusal of every write while writes are off.
func disabled() *ObjectError {
	return &ObjectError{Code: errcode.WritesDisabled, Message: "cluster writes are disabled on this server (--write-enabled); nothing was sent to the cluster"}
}

// objectError turns an apiserver answer into a per-object error with its reason. Conflicts
// keep the apiserver's message, which names the other managers and their fields.
func objectError(err error) *ObjectError {
	if err == nil {
		return nil
	}
	var ce *errcode.Error
	if errors.As(err, &ce) {
		return &ObjectError{Code: ce.Code, Message: ce.Message}
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		msg := st.Status().Message
		switch {
		case apierrors.IsForbidden(err):
			return &ObjectError{Code: errcode.Forbidden, Message: msg}
		case apierrors.IsNotFound(err):
			return &ObjectError{Code: errcode.NotFound, Message: msg}
		case apierrors.IsConflict(err):
			return &ObjectError{Code: errcode.Conflict, Message: msg}
		case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsAlreadyExists(err),
			apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
			return &ObjectError{Code: errcode.Invalid, Message: msg}
		case apierrors.IsUnauthorized(err):
			return &ObjectError{Code: errcode.Unavailable, Message: "the cluster refused Yard's credentials"}
		case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err):
			return &ObjectError{Code: errcode.Unavailable, Message: msg}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &ObjectError{Code: errcode.Unavailable, Message: "the cluster did not answer in time"}
	}
	return &ObjectError{Code: errcode.Unavailable, Message: "the cluster is unavailable"}
}

// asError is a per-object error as an *errcode.Error.
func (e *ObjectError) asError() *errcode.Error {
	return errcode.Errorf(e.Code, "%s", e.Message)
}

// target finds the cluster a request names.
func (w *Writer) cluster(name string) (*cluster.Cluster, error) {
	c, err := w.clusters.Get(name)
	if err != nil {
		return nil, errcode.Errorf(errcode.NotFound, "%v", err)
	}
	return c, nil
}
