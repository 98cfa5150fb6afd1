package mux

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// NewConnID returns a random connection id. Every WebSocket the server serves gets one, so
// presence entries, logs and admin disconnects name the same connection the same way.
func NewConnID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Describer is implemented by kinds that can say, in a few server-chosen words, what an open
// channel serves ("demo/web-abc/app", "room r1"). Admins see it next to the connection; it must
// never hold a secret (a token, a command's arguments), only names the user already chose.
type Describer interface {
	Describe(req OpenRequest) string
}

// maxDescription bounds a description as admins see it.
const maxDescription = 120

func describe(k Kind, req OpenRequest) string {
	d, ok := k.(Describer)
	if !ok {
		return ""
	}
	s := strings.ToValidUTF8(d.Describe(req), "")
	if len(s) > maxDescription {
		s = strings.ToValidUTF8(s[:maxDescription], "")
	}
	return s
}

// ConnInfo is one live connection as admins see it.
type ConnInfo struct {
	ID       string        `json:"id"`
	UserID   string        `json:"userId"`
	UserName string        `json:"userName"`
	Endpoint string        `json:"endpoint"`
	OpenedAt time.Time     `json:"openedAt"`
	Channels []ChannelInfo `json:"channels"`
}

// ChannelInfo is one open channel of a connection.
type ChannelInfo struct {
	ID     uint32 `json:"id"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
}

func (s *Server) changed() { s.gen.Add(1) }

// Generation changes whenever a connection or an open channel comes or goes, so a poller can
// tell cheaply whether Connections would say something new.
func (s *Server) Generation() uint64 { return s.gen.Load() }

// Connections returns every connection this server serves, oldest first.
func (s *Server) Connections() []ConnInfo {
	s.mu.Lock()
	cs := make([]closer, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	out := make([]ConnInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.info())
	}
	slices.SortFunc(out, func(a, b ConnInfo) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Disconnect closes the connection connID with a close code and reason (see closeReason for the
// limit) and reports whether this server serves it.
func (s *Server) Disconnect(connID string, code int, reason string) bool {
	return s.disconnect(func(i ConnInfo) bool { return i.ID == connID }, code, reason) > 0
}

// DisconnectUser closes every connection of the user userID and returns how many there were.
func (s *Server) DisconnectUser(userID string, code int, reason string) int {
	return s.disconnect(func(i ConnInfo) bool { return i.UserID == userID }, code, reason)
}

func (s *Server) disconnect(match func(ConnInfo) bool, code int, reason string) int {
	s.mu.Lock()
	cs := make([]closer, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	n := 0
	for _, c := range cs {
		if match(c.info()) {
			c.fail(code, closeReason(reason, ""))
			n++
		}
	}
	return n
}

// info is a multiplexed connection's entry: its channels once open.
func (c *conn) info() ConnInfo {
	i := ConnInfo{ID: c.id, UserID: c.user.ID, UserName: c.user.Name, Endpoint: "/ws", OpenedAt: c.openedAt, Channels: []ChannelInfo{}}
	c.mu.Lock()
	for _, ch := range c.list {
		if !ch.opening {
			i.Channels = append(i.Channels, ChannelInfo{ID: ch.id, Kind: ch.kind, Target: ch.desc})
		}
	}
	c.mu.Unlock()
	return i
}

// singleEntry is a single-purpose connection as the server tracks it: its one channel is
// described when it is accepted.
type singleEntry struct {
	*single
	id ConnInfo
}

func (e *singleEntry) info() ConnInfo {
	i := e.id
	i.Channels = slices.Clone(i.Channels)
	return i
}

func newSingleEntry(sc *single, kind Kind, req OpenRequest) *singleEntry {
	return &singleEntry{single: sc, id: ConnInfo{
		ID: req.ConnID, UserID: req.User.ID, UserName: req.User.Name, Endpoint: "/ws/" + kind.Name(),
		OpenedAt: time.Now().UTC(), Channels: []ChannelInfo{{ID: 1, Kind: kind.Name(), Target: describe(kind, req)}},
	}}
}
