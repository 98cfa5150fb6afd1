package cluster

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yardhq/yard/server/identity"
)

// ForUser returns a client config that impersonates u, so the apiserver authorizes every call
// as that user and Kubernetes RBAC decides. Yard's own credentials only carry the impersonation.
func (c *Cluster) ForUser(u identity.User) *rest.Config {
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: u.Name, Groups: slices.Clone(u.Groups)}
	return cfg
}

// UserClients are the typed and dynamic clients for one user on one cluster.
type UserClients struct {
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
}

// clientCache keeps each user's clients for a while: building a clientset costs far more than
// a request, and the transport underneath is shared anyway.
type clientCache struct {
	ttl time.Duration

	mu      sync.Mutex
	entries map[string]clientEntry
}

type clientEntry struct {
	clients *UserClients
	expires time.Time
}

// Clients returns the impersonating clients for u, cached for a few minutes.
func (c *Cluster) Clients(u identity.User) (*UserClients, error) {
	key := userKey(u)
	now := time.Now()
	c.clients.mu.Lock()
	defer c.clients.mu.Unlock()
	if c.clients.entries == nil {
		c.clients.entries = map[string]clientEntry{}
	}
	if e, ok := c.clients.entries[key]; ok && now.Before(e.expires) {
		return e.clients, nil
	}
	for k, e := range c.clients.entries {
		if now.After(e.expires) {
			delete(c.clients.entries, k)
		}
	}
	cfg := c.ForUser(u)
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: clients for %s: %w", c.Name, u.Name, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: dynamic client for %s: %w", c.Name, u.Name, err)
	}
	uc := &UserClients{Typed: typed, Dynamic: dyn, Config: cfg}
	ttl := c.clients.ttl
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	c.clients.entries[key] = clientEntry{clients: uc, expires: now.Add(ttl)}
	return uc, nil
}

// userKey identifies a user with their groups: the same name with other groups is another
// identity to the apiserver.
func userKey(u identity.User) string {
	g := slices.Clone(u.Groups)
	slices.Sort(g)
	return u.Name + "\x00" + strings.Join(g, "\x00")
}
