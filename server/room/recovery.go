package room

import (
	"fmt"
	"runtime/debug"

	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/mux"
)

// handleSafely handles ev, surviving a panic in it (a latent engine bug, a server reader's
// callback): the room keeps serving its other clients. The connection whose message panicked is
// closed with code internal (its client reconnects and resyncs); a server read or write gets the
// error. What the document integrated before the panic is stored like any other change, so the
// log and this replica's document do not part.
func (r *room) handleSafely(ev event) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		r.m.m.panics.Inc()
		r.m.opts.Logger.Error("room event panicked", "room", r.id, "event", fmt.Sprintf("%T", ev),
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		err := errcode.Errorf(errcode.Internal, "room %s failed to handle the request", r.id)
		switch ev := ev.(type) {
		case msgEv:
			r.leave(ev.c)
			ev.c.ch.CloseConn(mux.CloseCode(errcode.Internal), "internal error: the server could not handle a message")
		case joinEv:
			r.leave(ev.c)
			ev.c.ch.CloseConn(mux.CloseCode(errcode.Internal), "internal error: the server could not greet the client")
			close(ev.done)
		case readEv:
			ev.done <- err
		case writeEv:
			ev.done <- err
		}
		if len(r.upd.senders) == 0 && len(r.upd.applied) > 0 {
			applied, _ := r.upd.take()
			_ = r.store(applied)
		}
	}()
	r.handle(ev)
}

// survive runs fn, work of the room itself, surviving a panic in it like handleSafely.
func (r *room) survive(what string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			r.m.m.panics.Inc()
			r.m.opts.Logger.Error("room work panicked", "room", r.id, "work", what,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	fn()
}
