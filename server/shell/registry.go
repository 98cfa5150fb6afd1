package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/yardhq/yard/server/directory"
)

// ErrNoSession is returned for a session id the directory does not list (ended, expired, or
// never).
var ErrNoSession = errors.New("no such session")

// ErrSessionLimit refuses a claim: the owner already has the most sessions allowed.
var ErrSessionLimit = errors.New("shell session limit reached")

// SessionScope is the directory scope of shell sessions: one entry per session (its id), the
// session's Info as JSON, put by its home and claimed in its owner's group, so that a user's
// sessions are counted across replicas.
const SessionScope = "shells"

// claim registers a new session unless its owner already has MaxPerUser live sessions
// (ErrSessionLimit); counting and registering are one step, so concurrent opens on any replicas
// cannot exceed the limit.
func (m *Manager) claim(ctx context.Context, info Info) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	err = m.dir.Claim(ctx, SessionScope, info.ID, info.Owner, m.cfg.MaxPerUser, b)
	if errors.Is(err, directory.ErrLimit) {
		return ErrSessionLimit
	}
	return err
}

// putSession replaces a session's entry (participants, driver); the directory keeps it alive
// while this replica runs.
func (m *Manager) putSession(ctx context.Context, info Info) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return m.dir.Put(ctx, SessionScope, info.ID, b)
}

// dropSession removes a session's entry and frees its owner's slot at once.
func (m *Manager) dropSession(ctx context.Context, id string) error {
	return m.dir.Delete(ctx, SessionScope, id)
}

// lookup returns a live session of any replica (ErrNoSession if there is none).
func (m *Manager) lookup(ctx context.Context, id string) (Info, error) {
	b, err := m.dir.Get(ctx, SessionScope, id)
	if errors.Is(err, directory.ErrNotFound) {
		return Info{}, ErrNoSession
	}
	if err != nil {
		return Info{}, fmt.Errorf("looking up session: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("session record: %w", err)
	}
	return info, nil
}

// Sessions lists the live sessions of every replica, oldest first.
func (m *Manager) Sessions(ctx context.Context) ([]Info, error) {
	es, err := m.dir.List(ctx, SessionScope)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	out := make([]Info, 0, len(es))
	for _, e := range es {
		var info Info
		if err := json.Unmarshal(e.Value, &info); err != nil {
			m.log.Warn("unreadable session record", "session", e.ID, "err", err)
			continue
		}
		out = append(out, info)
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(l []Info) {
	sort.Slice(l, func(i, j int) bool {
		if !l[i].Started.Equal(l[j].Started) {
			return l[i].Started.Before(l[j].Started)
		}
		return l[i].ID < l[j].ID
	})
}
