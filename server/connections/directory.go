package connections

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/mux"
)

// Local is this replica's multiplexer (mux.Server).
type Local interface {
	Connections() []mux.ConnInfo
	Generation() uint64
	Disconnect(connID string, code int, reason string) bool
	DisconnectUser(userID string, code int, reason string) int
}

// Conn is one connection of one replica.
type Conn struct {
	mux.ConnInfo
	Replica string `json:"replica"`
}

// Directory is every replica's connections.
type Directory struct {
	local Local
	dir   *directory.Directory
	rdb   redis.UniversalClient
	log   *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// command is a disconnect request for whichever replica holds the connection(s).
type command struct {
	Conn   string `json:"conn,omitempty"`
	User   string `json:"user,omitempty"`
	Reason string `json:"reason"`
}

// Scope is the directory scope of connection lists: one entry per replica (its id), the JSON
// list of the replica's connections.
const Scope = "connections"

// commandsChannel carries disconnect commands to every replica.
const commandsChannel = "yard:connections:commands"

// New returns a Directory over local whose list is kept in dir; rdb (nil without Redis) carries
// disconnect commands to the other replicas. Start runs it.
func New(local Local, dir *directory.Directory, rdb redis.UniversalClient, log *slog.Logger) *Directory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Directory{local: local, dir: dir, rdb: rdb, log: log}
}

// Start publishes this replica's list and (with Redis) obeys other replicas' commands until
// Close. It returns once the command subscription is in place (or ctx ends).
func (d *Directory) Start(ctx context.Context) {
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if d.rdb != nil {
		ps := d.rdb.Subscribe(runCtx, commandsChannel)
		if _, err := ps.Receive(ctx); err != nil {
			// The client resubscribes by itself once Redis answers.
			d.log.Warn("subscribing to connection commands", "err", err)
		}
		d.wg.Go(func() { d.obey(runCtx, ps) })
	}
	d.wg.Go(func() { d.publishLoop(runCtx) })
}

// Close stops the goroutines and withdraws this replica's list.
func (d *Directory) Close() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = d.dir.Delete(ctx, Scope, d.dir.Replica())
}

func (d *Directory) obey(ctx context.Context, ps *redis.PubSub) {
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			var c command
			if json.Unmarshal([]byte(m.Payload), &c) != nil {
				continue
			}
			d.local1(c)
		}
	}
}

// local1 carries out a command on this replica and says how many connections it closed.
func (d *Directory) local1(c command) int {
	code := mux.CloseCode(mux.CodeDisconnected)
	switch {
	case c.Conn != "":
		if d.local.Disconnect(c.Conn, code, c.Reason) {
			return 1
		}
	case c.User != "":
		return d.local.DisconnectUser(c.User, code, c.Reason)
	}
	return 0
}

// changeCheck is how often the replica looks for changes to its list; the directory keeps the
// published list alive meanwhile.
const changeCheck = 250 * time.Millisecond

func (d *Directory) publishLoop(ctx context.Context) {
	t := time.NewTicker(changeCheck)
	defer t.Stop()
	var gen uint64
	first := true
	for {
		if g := d.local.Generation(); g != gen || first {
			gen, first = g, false
			d.publish(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Directory) publish(ctx context.Context) {
	b, err := json.Marshal(d.local.Connections())
	if err != nil {
		d.log.Error("encoding the connection list", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.dir.Put(ctx, Scope, d.dir.Replica(), b); err != nil && ctx.Err() == nil {
		d.log.Warn("publishing the connection list", "err", err)
	}
}

// List returns every replica's connections: this replica's as they are now, the others' as
// last published. Sorted by replica, then opening time.
func (d *Directory) List(ctx context.Context) ([]Conn, error) {
	out := d.localList()
	all, err := d.dir.List(ctx, Scope)
	if err != nil {
		return nil, fmt.Errorf("listing connections: %w", err)
	}
	for _, e := range all {
		if e.ID == d.dir.Replica() {
			continue
		}
		var cs []mux.ConnInfo
		if err := json.Unmarshal(e.Value, &cs); err != nil {
			d.log.Warn("unreadable connection list", "replica", e.ID, "err", err)
			continue
		}
		for _, ci := range cs {
			out = append(out, Conn{ConnInfo: ci, Replica: e.ID})
		}
	}
	slices.SortStableFunc(out, func(a, b Conn) int {
		if c := strings.Compare(a.Replica, b.Replica); c != 0 {
			return c
		}
		return a.OpenedAt.Compare(b.OpenedAt)
	})
	return out, nil
}

func (d *Directory) localList() []Conn {
	cs := d.local.Connections()
	out := make([]Conn, 0, len(cs))
	for _, c := range cs {
		out = append(out, Conn{ConnInfo: c, Replica: d.dir.Replica()})
	}
	return out
}

// reason is the close reason admins' disconnects carry.
func reason(by string) string {
	return mux.CodeDisconnected + ": disconnected by " + by
}

// Disconnect closes the connection connID wherever it is and reports whether any replica
// listed it. A remote one closes as soon as its replica receives the command.
func (d *Directory) Disconnect(ctx context.Context, connID, by string) (bool, error) {
	c := command{Conn: connID, Reason: reason(by)}
	if d.local1(c) > 0 {
		return true, nil
	}
	if d.rdb == nil {
		return false, nil
	}
	all, err := d.List(ctx)
	if err != nil {
		return false, err
	}
	if !slices.ContainsFunc(all, func(x Conn) bool { return x.ID == connID }) {
		return false, nil
	}
	return true, d.send(ctx, c)
}

// DisconnectUser closes every connection of userID on every replica and returns how many were
// listed (this replica's exactly, the others' as last published).
func (d *Directory) DisconnectUser(ctx context.Context, userID, by string) (int, error) {
	c := command{User: userID, Reason: reason(by)}
	if d.rdb == nil {
		return d.local1(c), nil
	}
	all, err := d.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range all {
		if x.UserID == userID && x.Replica != d.dir.Replica() {
			n++
		}
	}
	n += d.local1(c)
	// Always sent: a connection opened since the last published list is closed too.
	return n, d.send(ctx, c)
}

func (d *Directory) send(ctx context.Context, c command) error {
	b, _ := json.Marshal(c)
	if err := d.rdb.Publish(ctx, commandsChannel, b).Err(); err != nil {
		return fmt.Errorf("sending a disconnect: %w", err)
	}
	return nil
}
