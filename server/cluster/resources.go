package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// Resource is a kind of object Yard lists and watches, named the way clients ask for it.
type Resource struct {
	// Name is what clients say: the plural ("pods") for the built-in kinds, "plural.group"
	// ("widgets.example.com") for custom resources.
	Name       string                      `json:"name"`
	GVR        schema.GroupVersionResource `json:"-"`
	Kind       string                      `json:"kind"`
	Namespaced bool                        `json:"namespaced"`
}

// Access returns the permission question for verb on this resource in namespace.
func (r Resource) Access(verb, namespace string) Access {
	if !r.Namespaced {
		namespace = ""
	}
	return Access{Verb: verb, Group: r.GVR.Group, Resource: r.GVR.Resource, Namespace: namespace}
}

// Builtins are the kinds every cluster has (SPEC §6), in the order the UI lists them.
var Builtins = []Resource{
	{Name: "namespaces", GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Kind: "Namespace"},
	{Name: "nodes", GVR: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, Kind: "Node"},
	{Name: "pods", GVR: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Kind: "Pod", Namespaced: true},
	{Name: "deployments", GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Kind: "Deployment", Namespaced: true},
	{Name: "statefulsets", GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, Kind: "StatefulSet", Namespaced: true},
	{Name: "daemonsets", GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, Kind: "DaemonSet", Namespaced: true},
	{Name: "replicasets", GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, Kind: "ReplicaSet", Namespaced: true},
	{Name: "jobs", GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Kind: "Job", Namespaced: true},
	{Name: "cronjobs", GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, Kind: "CronJob", Namespaced: true},
	{Name: "services", GVR: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Kind: "Service", Namespaced: true},
	{Name: "ingresses", GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, Kind: "Ingress", Namespaced: true},
	{Name: "configmaps", GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true},
	{Name: "secrets", GVR: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, Kind: "Secret", Namespaced: true},
	{Name: "persistentvolumeclaims", GVR: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, Kind: "PersistentVolumeClaim", Namespaced: true},
	{Name: "events", GVR: schema.GroupVersionResource{Version: "v1", Resource: "events"}, Kind: "Event", Namespaced: true},
	{Name: "customresourcedefinitions", GVR: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, Kind: "CustomResourceDefinition"},
}

var builtinAliases = map[string]string{
	"pvcs": "persistentvolumeclaims", "pvc": "persistentvolumeclaims",
	"crds": "customresourcedefinitions", "crd": "customresourcedefinitions",
}

// ErrUnknownKind is returned for a kind neither built in nor found by discovery.
var ErrUnknownKind = errors.New("unknown kind")

// LookupBuiltin finds a built-in kind by name or alias, without asking the cluster.
func LookupBuiltin(name string) (Resource, bool) {
	name = strings.ToLower(name)
	if a, ok := builtinAliases[name]; ok {
		name = a
	}
	for _, r := range Builtins {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// discovered caches the cluster's list-and-watchable resources found by discovery.
type discovered struct {
	mu     sync.Mutex
	at     time.Time
	byName map[string]Resource
}

// Resolve finds the kind called name: a built-in kind or alias, else a resource found by
// discovery, named "plural.group" (or just "plural" when only one group has it).
func (c *Cluster) Resolve(name string) (Resource, error) {
	if r, ok := LookupBuiltin(name); ok {
		return r, nil
	}
	name = strings.ToLower(name)
	if !validKindName(name) {
		return Resource{}, fmt.Errorf("%w %q", ErrUnknownKind, name)
	}
	d := &c.discovery
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.byName[name]; ok && time.Since(d.at) < 10*time.Minute {
		return r, nil
	}
	// A miss re-reads discovery (a CRD may have just been created), at most every few seconds.
	if time.Since(d.at) > 3*time.Second {
		byName, err := c.discover()
		if err != nil && len(byName) == 0 {
			return Resource{}, fmt.Errorf("discovery on %s: %w", c.Name, err)
		}
		d.byName, d.at = byName, time.Now()
	}
	if r, ok := d.byName[name]; ok {
		return r, nil
	}
	return Resource{}, fmt.Errorf("%w %q", ErrUnknownKind, name)
}

func validKindName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// discover lists the preferred version of every resource that can be listed and watched. A
// partial answer (an aggregated API down) still serves what it found.
func (c *Cluster) discover() (map[string]Resource, error) {
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 15 * time.Second // discovery takes no context: bound it here
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredResources()
	out := map[string]Resource{}
	plural := map[string][]Resource{}
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, ar := range l.APIResources {
			if strings.Contains(ar.Name, "/") || !slices.Contains(ar.Verbs, "list") || !slices.Contains(ar.Verbs, "watch") {
				continue
			}
			r := Resource{Name: ar.Name, GVR: gv.WithResource(ar.Name), Kind: ar.Kind, Namespaced: ar.Namespaced}
			if gv.Group != "" {
				r.Name = ar.Name + "." + gv.Group
			}
			out[r.Name] = r
			plural[ar.Name] = append(plural[ar.Name], r)
		}
	}
	for p, rs := range plural {
		if _, taken := out[p]; !taken && len(rs) == 1 {
			out[p] = rs[0]
		}
	}
	return out, err
}
