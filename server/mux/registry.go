package mux

import (
	"fmt"
	"sort"
	"sync"
)

// Registry holds the channel kinds a Server can open, by name.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]Kind{}} }

// Register adds k; a second kind with the same name, or an invalid one, is an error.
func (r *Registry) Register(k Kind) error {
	name := k.Name()
	if name == "" {
		return fmt.Errorf("mux: kind with an empty name")
	}
	if k.Priority() == PriorityControl || k.Priority() > PriorityLogs {
		return fmt.Errorf("mux: kind %q: priority %d is not one of PriorityShell..PriorityLogs", name, k.Priority())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[name]; dup {
		return fmt.Errorf("mux: kind %q registered twice", name)
	}
	r.kinds[name] = k
	return nil
}

// Lookup returns the kind named name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
