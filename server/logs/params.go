package logs

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/mux"
)

// Request is a parsed logs request (channel open params, /ws/logs or the download query).
type Request struct {
	Cluster   string
	Namespace string
	// Pod names one pod; Workload names a workload whose pods are all streamed. Exactly one is set.
	Pod      string
	Workload WorkloadRef
	// Container names one container; AllContainers streams every container. Neither: the pod's
	// default container (kubectl.kubernetes.io/default-container, else the first).
	Container     string
	AllContainers bool

	Follow       bool
	TailLines    *int64
	SinceTime    *time.Time
	SinceSeconds *int64
	Previous     bool
	// Timestamps asks for the time in front of each line of a download; stream messages always
	// carry the time in their own field.
	Timestamps bool
}

// WorkloadRef is a workload by kind and name.
type WorkloadRef struct {
	Kind string // canonical: Deployment, StatefulSet, DaemonSet, Job, ReplicaSet
	Name string
}

// IsZero reports whether no workload is named.
func (w WorkloadRef) IsZero() bool { return w.Kind == "" }

func (w WorkloadRef) String() string { return w.Kind + "/" + w.Name }

var workloadKinds = map[string]string{
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
	"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	"job": "Job", "jobs": "Job",
	"replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
}

const maxTailLines = 100000

// ParseRequest validates params; problems are bad_params errors naming the parameter.
func ParseRequest(p url.Values) (Request, error) {
	bad := func(format string, args ...any) (Request, error) {
		return Request{}, mux.Errorf(mux.CodeBadParams, format, args...)
	}
	r := Request{
		Cluster:   p.Get("cluster"),
		Namespace: p.Get("namespace"),
		Pod:       p.Get("pod"),
		Container: p.Get("container"),
	}
	if r.Namespace == "" {
		return bad("namespace is required")
	}
	if !cluster.ValidName(r.Namespace) {
		return bad("namespace %q is not a valid name", r.Namespace)
	}
	if w := p.Get("workload"); w != "" {
		if r.Pod != "" {
			return bad("give pod or workload, not both")
		}
		kind, name, ok := strings.Cut(w, "/")
		canon := workloadKinds[strings.ToLower(kind)]
		if !ok || canon == "" {
			return bad("workload %q: want <kind>/<name> with kind Deployment, StatefulSet, DaemonSet, Job or ReplicaSet", w)
		}
		if !cluster.ValidName(name) {
			return bad("workload name %q is not a valid name", name)
		}
		r.Workload = WorkloadRef{Kind: canon, Name: name}
	} else if r.Pod == "" {
		return bad("pod or workload is required")
	} else if !cluster.ValidName(r.Pod) {
		return bad("pod %q is not a valid name", r.Pod)
	}
	if r.Container != "" && !cluster.ValidName(r.Container) {
		return bad("container %q is not a valid name", r.Container)
	}
	var err error
	if r.AllContainers, err = boolParam(p, "allContainers"); err != nil {
		return bad("%v", err)
	}
	if r.AllContainers && r.Container != "" {
		return bad("give container or allContainers=true, not both")
	}
	if r.Follow, err = boolParam(p, "follow"); err != nil {
		return bad("%v", err)
	}
	if r.Previous, err = boolParam(p, "previous"); err != nil {
		return bad("%v", err)
	}
	if r.Timestamps, err = boolParam(p, "timestamps"); err != nil {
		return bad("%v", err)
	}
	if v := p.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxTailLines {
			return bad("tailLines %q: want an integer from 0 to %d", v, maxTailLines)
		}
		r.TailLines = &n
	}
	if v := p.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return bad("sinceSeconds %q: want a positive integer", v)
		}
		r.SinceSeconds = &n
	}
	if v := p.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad("sinceTime %q: want an RFC 3339 time", v)
		}
		r.SinceTime = &t
	}
	if r.SinceTime != nil && r.SinceSeconds != nil {
		return bad("give sinceTime or sinceSeconds, not both")
	}
	return r, nil
}

func boolParam(p url.Values, name string) (bool, error) {
	v := p.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want true or false", name, v)
	}
	return b, nil
}

// skipsResumed reports whether a line at t was already delivered before a resume at since. A
// sinceTime with a fraction of a second is the time of the last line a client received (the
// apiserver only takes whole seconds, so it sends that second again): lines up to and including
// it are skipped. A whole-second sinceTime is a user's "from this time on" and is inclusive.
func skipsResumed(since *time.Time, t time.Time) bool {
	if since == nil || t.IsZero() {
		return false
	}
	if since.Nanosecond() != 0 {
		return !t.After(*since)
	}
	return t.Before(*since)
}
