package room

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/room/backend"
)

// Options configure a Manager.
type Options struct {
	// Backend stores and relays rooms. Required.
	Backend backend.Backend
	// Directory holds every replica's presence and names this replica. Required.
	Directory *directory.Directory
	// Grace keeps a room loaded this long after its last client left. Default 30s.
	Grace time.Duration
	// CompactEvery compacts a room's log into a snapshot after this many updates (client updates
	// that arrived together share one merged entry and count one each). Default 500.
	CompactEvery int
	// LeaseTTL is how long a compaction lease is held (at most one compaction per room per
	// LeaseTTL across all replicas). Default 10s.
	LeaseTTL time.Duration
	// StoreTimeout bounds one load or compaction. Default 5s.
	StoreTimeout time.Duration
	// AppendTimeout bounds one append; the room's other clients wait meanwhile, and after it
	// the room refuses writes until the store answers again. Default 1s.
	AppendTimeout time.Duration
	// MaxMessageBytes bounds one message from a client. Default 1 MiB.
	MaxMessageBytes int
	// MessageRate and MessageBurst bound how fast one connection's messages are read, across all
	// its sync channels (a token bucket: excess waits, which pushes back on the client through
	// TCP). Defaults 200/s, 400.
	MessageRate  float64
	MessageBurst int
	// MaxDocBytes is a room document's size quota: an update that would take the document past
	// it is refused (the size is the last encoded snapshot plus the updates integrated since,
	// measured exactly when the estimate reaches the quota). Default 64 MiB.
	MaxDocBytes int
	// UserWriteBytesPerSec is each user's budget of document update bytes per second, across the
	// user's connections on this replica, with bursts of one second's worth: a user writing
	// faster is read more slowly (like MessageRate, nothing is dropped). Default 1 MiB.
	UserWriteBytesPerSec float64
	// MaxReadDocBytes bounds the documents Manager.DocJSON encodes: a larger one is refused with
	// code too_large, so reading cannot amplify memory. Default 8 MiB.
	MaxReadDocBytes int
	// ReadOnly lists who may read but not write: "user", "group:name", or either prefixed with
	// "room/" to apply to one room only.
	ReadOnly []string
	// SendEvery spaces a room's broadcasts of updates: an update after a quiet spell leaves at
	// once, updates arriving within SendEvery of the last broadcast wait for the next one and
	// leave merged (docs/benchmarks.md, "Rooms"). Default 15ms; a negative value sends every
	// update as soon as it is stored.
	SendEvery time.Duration
	Logger    *slog.Logger
	Metrics   *metrics.Set

	// clock is the time of rooms and their timers; tests set a fake one.
	clock clock
	// afterEvent, when set, runs on a room's goroutine after each event it handled (tests check
	// invariants and observe the room with it).
	afterEvent func(*room)
	// onMessage, when set, sees each client message before the room handles it (tests make it
	// panic).
	onMessage func(*conn, yprotocol.Message)
}

func (o *Options) defaults() {
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.CompactEvery <= 0 {
		o.CompactEvery = 500
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 5 * time.Second
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = time.Second
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 1 << 20
	}
	if o.MessageRate <= 0 {
		o.MessageRate = 200
	}
	if o.MessageBurst <= 0 {
		o.MessageBurst = 400
	}
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = 64 << 20
	}
	if o.UserWriteBytesPerSec <= 0 {
		o.UserWriteBytesPerSec = 1 << 20
	}
	if o.MaxReadDocBytes <= 0 {
		o.MaxReadDocBytes = 8 << 20
	}
	if o.SendEvery == 0 {
		o.SendEvery = 15 * time.Millisecond
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is missing or malformed.
func (o Options) Validate() error {
	var errs []error
	if o.Backend == nil {
		errs = append(errs, errors.New("rooms: a backend is required"))
	}
	if o.Directory == nil {
		errs = append(errs, errors.New("rooms: a directory is required"))
	}
	errs = append(errs, ValidateReadOnly(o.ReadOnly))
	return errors.Join(errs...)
}

// ValidateReadOnly checks read-only rules ("user", "group:g", "room/user", "room/group:g").
func ValidateReadOnly(rules []string) error {
	var errs []error
	for _, r := range rules {
		room, who, scoped := strings.Cut(r, "/")
		if !scoped {
			who, room = room, ""
		}
		if (scoped && !ValidID(room)) || who == "" || who == "group:" {
			errs = append(errs, fmt.Errorf("read-only rule %q: want user, group:name, room/user or room/group:name", r))
		}
	}
	return errors.Join(errs...)
}

func readOnly(rules []string, u identity.User, room string) bool {
	for _, r := range rules {
		rr, who, scoped := strings.Cut(r, "/")
		if !scoped {
			who = rr
		} else if rr != room {
			continue
		}
		if g, ok := strings.CutPrefix(who, "group:"); ok {
			for _, ug := range u.Groups {
				if ug == g {
					return true
				}
			}
		} else if who == u.Name || who == u.ID {
			return true
		}
	}
	return false
}
