package shell

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/yardhq/yard/server/audit"
)

// Admins read sessions from the registry: a participant shows there as soon as it joins or
// leaves, not only at the next heartbeat.
func TestRegistryListsParticipantsAtOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Heartbeat = time.Minute // no housekeeping during the test
	m := newManager(t, NewMemoryHub(), audit.NewMemory(), nil, cfg, "r1")
	info := startSession(t, m, "alice", nil)
	owner := attach(m, info, "alice", RoleDriver)
	owner.ch.waitTerminal(t, "bash$ ")
	bob := attach(m, info, "bob", RoleObserver)
	bob.ch.waitControl(t, "session as observer", func(c map[string]any) bool { return c["type"] == "session" })

	users := func() []string {
		list, err := m.Sessions(context.Background())
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions: %v %v", list, err)
		}
		var out []string
		for _, p := range list[0].Participants {
			out = append(out, p.User+":"+p.Role)
		}
		slices.Sort(out)
		return out
	}
	owner.ch.wait(t, "bob listed as observer", func() bool {
		return slices.Equal(users(), []string{"alice:driver", "bob:observer"})
	})
	bob.stop(t)
	owner.ch.wait(t, "bob gone from the list", func() bool { return slices.Equal(users(), []string{"alice:driver"}) })
	owner.stop(t)
}
