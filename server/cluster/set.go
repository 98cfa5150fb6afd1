package cluster

import "fmt"

// Set is the served clusters, found by name.
type Set struct {
	list   []*Cluster
	byName map[string]*Cluster
}

// NewSet indexes clusters by name; the first is the default.
func NewSet(clusters []*Cluster) *Set {
	s := &Set{list: clusters, byName: map[string]*Cluster{}}
	for _, c := range clusters {
		s.byName[c.Name] = c
	}
	return s
}

// All returns the clusters in configuration order.
func (s *Set) All() []*Cluster { return s.list }

// ErrNoCluster is returned for a cluster name that is not served.
var ErrNoCluster = fmt.Errorf("no such cluster")

// Get returns the cluster called name; "" means the only (or first) cluster.
func (s *Set) Get(name string) (*Cluster, error) {
	if name == "" {
		if len(s.list) == 0 {
			return nil, fmt.Errorf("%w: no cluster is configured", ErrNoCluster)
		}
		return s.list[0], nil
	}
	c, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNoCluster, name)
	}
	return c, nil
}
