package write

import (
	"context"
	"time"

	"github.com/yardhq/yard/crdt"
)

// ActivityRoot is the root of a room's document that lists the writes made from the room: a
// Y.Array of Y.Maps {at, user, verb, kind, namespace, name, result}, oldest first.
const ActivityRoot = "activity"

// ActivityKeep is how many activity entries a room keeps (the newest).
const ActivityKeep = 200

// Rooms changes a room's document as the server (room.Manager).
type Rooms interface {
	Transact(ctx context.Context, id string, fn func(doc *crdt.Doc, tx *crdt.Transaction)) error
}

// announce appends the finished attempts made from a room (dry runs aside) to its activity,
// in one change. It reaches every client of the room on every replica through the room's write
// path; a failure costs only the entries.
func (w *Writer) announce(ctx context.Context, atts []*attempt) {
	if w.rooms == nil || len(atts) == 0 || atts[0].entry.Room == "" || atts[0].entry.DryRun {
		return
	}
	room, now := atts[0].entry.Room, time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := w.rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		for _, a := range atts {
			if e := a.entry; a.result != "" {
				AppendActivity(doc, tx, Activity{At: now, User: e.User, Verb: e.Verb, Kind: e.Kind,
					Namespace: e.Namespace, Name: e.Name, Result: a.result})
			}
		}
	})
	if err != nil {
		w.log.Warn("room activity not recorded", "room", room, "entries", len(atts), "err", err)
	}
}

// Activity is one entry of a room's activity.
type Activity struct {
	At        time.Time
	User      string
	Verb      string
	Kind      string
	Namespace string
	Name      string
	Result    string
}

// AppendActivity appends a to doc's activity in tx, keeping the newest ActivityKeep entries.
func AppendActivity(doc *crdt.Doc, tx *crdt.Transaction, a Activity) {
	arr := doc.GetArray(ActivityRoot)
	m, err := arr.InsertMap(tx, arr.Len())
	if err != nil {
		return
	}
	for _, f := range [][2]string{
		{"at", a.At.UTC().Format(time.RFC3339)}, {"user", a.User}, {"verb", a.Verb}, {"kind", a.Kind},
		{"namespace", a.Namespace}, {"name", a.Name}, {"result", a.Result},
	} {
		_ = m.Set(tx, f[0], f[1])
	}
	if n := arr.Len(); n > ActivityKeep {
		_ = arr.Delete(tx, 0, n-ActivityKeep)
	}
}
