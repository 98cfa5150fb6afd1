// Package cluster knows the Kubernetes clusters Yard serves: one per kubeconfig context (or the
// in-cluster config), each with the admin rest.Config Yard's own identity uses. Requests made for
// a user go through impersonation on top of these configs.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is one served cluster.
type Cluster struct {
	// Name is the kubeconfig context name ("in-cluster" for the in-cluster config).
	Name string
	// Config is Yard's own (not impersonating) client config.
	Config *rest.Config

	client    kubernetes.Interface
	dynamic   dynamic.Interface
	clients   clientCache
	access    *accessCache
	discovery discovered
}

// Load reads the clusters of kubeconfig (empty: the default loading rules, then in-cluster
// config). contexts selects contexts; empty means the current context.
func Load(kubeconfig string, contexts []string) ([]*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	if len(contexts) == 0 {
		if raw.CurrentContext == "" {
			if kubeconfig != "" {
				return nil, fmt.Errorf("kubeconfig %s has no current context; name one with --context", kubeconfig)
			}
			cfg, err := rest.InClusterConfig()
			if err != nil {
				return nil, errors.New("no kubeconfig context and not running in a cluster")
			}
			return []*Cluster{newCluster("in-cluster", cfg)}, nil
		}
		contexts = []string{raw.CurrentContext}
	}
	var out []*Cluster
	for _, name := range contexts {
		if _, ok := raw.Contexts[name]; !ok {
			return nil, fmt.Errorf("kubeconfig has no context %q", name)
		}
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
		out = append(out, newCluster(name, cfg))
	}
	return out, nil
}

func newCluster(name string, cfg *rest.Config) *Cluster {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "yard"
	cfg.QPS, cfg.Burst = 50, 100
	c := &Cluster{Name: name, Config: cfg}
	c.client, _ = kubernetes.NewForConfig(cfg)
	c.dynamic, _ = dynamic.NewForConfig(cfg)
	c.access = newAccessCache(c.client, DefaultAccessTTL)
	return c
}

// Client returns Yard's own (not impersonating) clientset; use it only for what Yard does on its
// own behalf (shared watches, access reviews, health), never to answer a user.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Dynamic returns Yard's own dynamic client, for the shared watches (each user's view of them is
// filtered by that user's permissions).
func (c *Cluster) Dynamic() dynamic.Interface { return c.dynamic }

// Ping asks the apiserver for /readyz and reports whether it answered ready.
func (c *Cluster) Ping(ctx context.Context) error {
	if c.client == nil {
		return errors.New("no client")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Raw()
	if err != nil {
		return fmt.Errorf("apiserver not ready: %w", err)
	}
	if string(body) != "ok" {
		return fmt.Errorf("apiserver not ready: %.200s", body)
	}
	return nil
}
