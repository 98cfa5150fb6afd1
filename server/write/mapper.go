package write

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/errcode"
)

// mappers keeps one REST mapper (apiVersion and kind -> resource) per cluster. Discovery is
// made with Yard's own identity: what kinds exist is not the user's to see or hide.
type mappers struct {
	mu sync.Mutex
	m  map[*cluster.Cluster]*mapper
}

type mapper struct {
	rm        *restmapper.DeferredDiscoveryRESTMapper
	mu        sync.Mutex
	lastReset time.Time
}

func (ms *mappers) get(c *cluster.Cluster) (*mapper, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m, ok := ms.m[c]; ok {
		return m, nil
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 15 * time.Second // discovery takes no context: bound it here
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client for %s: %w", c.Name, err)
	}
	if ms.m == nil {
		ms.m = map[*cluster.Cluster]*mapper{}
	}
	m := &mapper{rm: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
	ms.m[c] = m
	return m, nil
}

// mapping resolves gvk. A miss re-reads discovery (a CRD may have just been created), at most
// every few seconds; an unknown kind is bad_params.
func (m *mapper) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mp, err := m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		m.mu.Lock()
		if time.Since(m.lastReset) > 3*time.Second {
			m.rm.Reset()
			m.lastReset = time.Now()
		}
		m.mu.Unlock()
		mp, err = m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, errcode.Errorf(errcode.BadParams, "unknown kind %s %s on this cluster", gvk.GroupVersion(), gvk.Kind)
		}
		var de *discovery.ErrGroupDiscoveryFailed
		if errors.As(err, &de) {
			return nil, errcode.Errorf(errcode.Unavailable, "discovery of the cluster's kinds failed")
		}
		return nil, errcode.Errorf(errcode.Unavailable, "discovery of the cluster's kinds failed: %v", err)
	}
	return mp, nil
}
