package watch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Cluster is what a watch needs of one cluster.
type Cluster interface {
	// ID is the cluster's name, used in upstream keys and metric labels.
	ID() string
	Resolve(kind string) (cluster.Resource, error)
	Can(ctx context.Context, u identity.User, a cluster.Access) (cluster.Decision, error)
	// Dynamic is Yard's own client: upstreams are shared by users, so they never impersonate.
	Dynamic() dynamic.Interface
}

// Clusters finds a cluster by name ("" = the default one).
type Clusters interface {
	Lookup(name string) (Cluster, error)
}

// FromSet serves the clusters of s.
func FromSet(s *cluster.Set) Clusters { return setClusters{s} }

type setClusters struct{ s *cluster.Set }

func (s setClusters) Lookup(name string) (Cluster, error) {
	c, err := s.s.Get(name)
	if err != nil {
		return nil, err
	}
	return clusterAdapter{c}, nil
}

type clusterAdapter struct{ *cluster.Cluster }

func (c clusterAdapter) ID() string { return c.Name }

// Limits on one watch request.
const (
	maxKinds      = 32
	maxNamespaces = 64
)

// Kind is the "watch" channel kind (and the /ws/watch endpoint).
type Kind struct {
	hub      *Hub
	clusters Clusters
}

// NewKind serves watches from hub's shared upstreams on clusters.
func NewKind(hub *Hub, clusters Clusters) *Kind { return &Kind{hub: hub, clusters: clusters} }

// Name implements mux.Kind.
func (k *Kind) Name() string { return "watch" }

// Priority implements mux.Kind.
func (k *Kind) Priority() mux.Priority { return mux.PriorityWatch }

// request is a parsed watch request.
type request struct {
	cluster    Cluster
	kinds      []cluster.Resource
	namespaces []string // nil: every namespace the user may see
	selector   labels.Selector
	resume     map[string]uint64 // kind name -> resourceVersion; "" key: every kind
}

func (r *request) resumeFrom(kind string) uint64 {
	if v, ok := r.resume[kind]; ok {
		return v
	}
	return r.resume[""]
}

func paramList(p url.Values, name string) []string {
	var out []string
	for _, v := range p[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func parse(p url.Values, clusters Clusters) (*request, error) {
	cl, err := clusters.Lookup(p.Get("cluster"))
	if err != nil {
		if errors.Is(err, cluster.ErrNoCluster) {
			return nil, mux.Errorf(mux.CodeNotFound, "%v", err)
		}
		return nil, mux.Errorf(mux.CodeBadParams, "cluster: %v", err)
	}
	r := &request{cluster: cl, selector: labels.Everything()}
	kinds := paramList(p, "kinds")
	if len(kinds) == 0 {
		return nil, mux.Errorf(mux.CodeBadParams, "kinds: name at least one kind (for example kinds=pods,deployments)")
	}
	if len(kinds) > maxKinds {
		return nil, mux.Errorf(mux.CodeBadParams, "kinds: at most %d", maxKinds)
	}
	for _, name := range kinds {
		res, err := cl.Resolve(name)
		if err != nil {
			if errors.Is(err, cluster.ErrUnknownKind) {
				return nil, mux.Errorf(mux.CodeBadParams, "kinds: %v", err)
			}
			return nil, mux.Errorf(mux.CodeUnavailable, "kinds: %v", err)
		}
		if !slices.ContainsFunc(r.kinds, func(x cluster.Resource) bool { return x.Name == res.Name }) {
			r.kinds = append(r.kinds, res)
		}
	}
	r.namespaces = paramList(p, "namespaces")
	if len(r.namespaces) > maxNamespaces {
		return nil, mux.Errorf(mux.CodeBadParams, "namespaces: at most %d", maxNamespaces)
	}
	for _, ns := range r.namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, mux.Errorf(mux.CodeBadParams, "namespaces: %q is not a namespace name", ns)
		}
	}
	slices.Sort(r.namespaces)
	if s := p.Get("labelSelector"); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return nil, mux.Errorf(mux.CodeBadParams, "labelSelector: %v", err)
		}
		r.selector = sel
	}
	r.resume, err = parseResume(p.Get("resourceVersion"))
	if err != nil {
		return nil, mux.Errorf(mux.CodeBadParams, "resourceVersion: %v", err)
	}
	return r, nil
}

// parseResume reads "123" (every kind resumes from 123) or "pods=123,deployments=456" (per kind:
// each kind's watch advances on its own, so a client watching several kinds resumes each from
// what it last saw of that kind).
func parseResume(s string) (map[string]uint64, error) {
	out := map[string]uint64{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		kind, v, per := strings.Cut(strings.TrimSpace(part), "=")
		if !per {
			kind, v = "", kind
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a resource version", v)
		}
		if per {
			res, ok := cluster.LookupBuiltin(kind)
			if ok {
				kind = res.Name
			}
		}
		out[kind] = n
	}
	return out, nil
}

// Open implements mux.Kind: it checks the request and that the user may list and watch what
// they named (explicit namespaces, cluster-scoped kinds), so a denial is a coded refusal.
func (k *Kind) Open(ctx context.Context, req mux.OpenRequest) (mux.Runner, error) {
	s, err := k.open(ctx, req)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// open parses and checks a request (Open and Follow share it) and returns its stream.
func (k *Kind) open(ctx context.Context, req mux.OpenRequest) (*stream, error) {
	r, err := parse(req.Params, k.clusters)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s := newStream(k.hub, req.User, r)
	// A kind refused everywhere named is reported on the stream while the other kinds stream;
	// only a request with nothing the user may see is refused as a whole.
	var refusals []refusal
	for _, ks := range s.kinds {
		scopes := []string{""}
		if ks.res.Namespaced && r.namespaces != nil {
			scopes = r.namespaces
		}
		var denied []string
		for _, ns := range scopes {
			if ks.res.Namespaced && ns == "" {
				continue // every namespace the user may see: filtered per namespace later
			}
			ok, reason, err := s.may(ctx, ks.res, ns)
			if err != nil {
				return nil, mux.Errorf(mux.CodeUnavailable, "checking permissions: %v", err)
			}
			if !ok {
				denied = append(denied, ns)
				s.perm[permKey{ks.res.Name, ns}] = &permState{allowed: false, reported: true}
				if reason == "" {
					reason = "RBAC denies it"
				}
				ks.deniedReasons = append(ks.deniedReasons, reason)
			}
		}
		if len(denied) == len(scopes) && !(ks.res.Namespaced && r.namespaces == nil) {
			where := "cluster-wide"
			if ks.res.Namespaced {
				where = "in namespace " + strings.Join(denied, ", ")
			}
			refusals = append(refusals, refusal{ks.res.Name, fmt.Sprintf("%s may not list and watch %s %s: %s",
				req.User.Name, ks.res.Name, where, ks.deniedReasons[0])})
			continue
		}
		ks.denied = denied
	}
	if len(refusals) == len(s.kinds) {
		return nil, mux.Errorf(mux.CodeForbidden, "%s", refusals[0].message)
	}
	for _, f := range refusals {
		s.refuse(f.kind, f.message)
	}
	return s, nil
}

// refusal is a requested kind the user may not list and watch anywhere the request names.
type refusal struct{ kind, message string }
