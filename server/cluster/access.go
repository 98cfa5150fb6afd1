package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/server/identity"
)

// DefaultAccessTTL is how long a permission answer is trusted. A revoked RoleBinding takes
// effect in Yard's long-lived streams within this time.
const DefaultAccessTTL = 10 * time.Second

// Access names one permission question: may the user do Verb on Resource (in Group, optionally
// a Subresource) in Namespace ("" = cluster-wide), optionally on the object Name.
type Access struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
}

func (a Access) String() string {
	r := a.Resource
	if a.Group != "" {
		r += "." + a.Group
	}
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	ns := a.Namespace
	if ns == "" {
		ns = "*"
	}
	return a.Verb + " " + r + " in " + ns
}

// Decision is the apiserver's answer.
type Decision struct {
	Allowed bool
	// Reason is the authorizer's explanation, when it gives one.
	Reason string
}

// accessCache answers permission questions with SubjectAccessReviews made by Yard's own
// identity, cached per (user, question) for ttl. Concurrent askers of the same question share
// one review.
type accessCache struct {
	client kubernetes.Interface
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*accessEntry
}

type accessEntry struct {
	done     chan struct{}
	decision Decision
	err      error
	expires  time.Time
}

func newAccessCache(client kubernetes.Interface, ttl time.Duration) *accessCache {
	return &accessCache{client: client, ttl: ttl, now: time.Now, entries: map[string]*accessEntry{}}
}

// Can asks whether u may do a, through the cache.
func (c *Cluster) Can(ctx context.Context, u identity.User, a Access) (Decision, error) {
	return c.access.can(ctx, u, a)
}

// SetAccessTTL changes how long permission answers are cached (tests use short TTLs).
func (c *Cluster) SetAccessTTL(ttl time.Duration) {
	c.access.mu.Lock()
	defer c.access.mu.Unlock()
	c.access.ttl = ttl
	c.access.entries = map[string]*accessEntry{}
}

func (ac *accessCache) can(ctx context.Context, u identity.User, a Access) (Decision, error) {
	key := userKey(u) + "\x01" + strings.Join([]string{a.Verb, a.Group, a.Resource, a.Subresource, a.Namespace, a.Name}, "\x00")
	now := ac.now()
	ac.mu.Lock()
	e, ok := ac.entries[key]
	if ok {
		select {
		case <-e.done:
			if now.Before(e.expires) && e.err == nil {
				ac.mu.Unlock()
				return e.decision, nil
			}
			ok = false // expired or failed: ask again
		default:
		}
	}
	if !ok {
		if len(ac.entries) > 10000 {
			ac.sweepLocked(now)
		}
		e = &accessEntry{done: make(chan struct{})}
		ac.entries[key] = e
		ac.mu.Unlock()
		e.decision, e.err = ac.review(ctx, u, a)
		e.expires = ac.now().Add(ac.ttl)
		close(e.done)
		return e.decision, e.err
	}
	ac.mu.Unlock()
	select {
	case <-e.done:
		return e.decision, e.err
	case <-ctx.Done():
		return Decision{}, ctx.Err()
	}
}

func (ac *accessCache) sweepLocked(now time.Time) {
	for k, e := range ac.entries {
		select {
		case <-e.done:
			if now.After(e.expires) {
				delete(ac.entries, k)
			}
		default:
		}
	}
}

func (ac *accessCache) review(ctx context.Context, u identity.User, a Access) (Decision, error) {
	sar := &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   u.Name,
			Groups: slices.Clone(u.Groups),
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource,
				Namespace: a.Namespace, Name: a.Name,
			},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := ac.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return Decision{}, fmt.Errorf("access review (%s): %w", a, err)
	}
	return Decision{Allowed: res.Status.Allowed && !res.Status.Denied, Reason: res.Status.Reason}, nil
}
