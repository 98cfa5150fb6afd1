package room

import (
	"context"
	"errors"
	"fmt"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/mux"
)

// join greets a client as the y-websocket server does: the server's step 1 (so the client sends
// what the server lacks) and every known awareness state.
func (r *room) join(c *conn) {
	r.conns[c] = struct{}{}
	r.m.addConn(c)
	r.send(c, yprotocol.SyncStep1For(r.doc))
	if u, ok := r.aw.states.EncodeAll(); ok {
		r.send(c, yprotocol.EncodeAwareness(u))
	}
}

// leave forgets a client, whether it left or the server dropped it, and removes its awareness
// states for everyone.
func (r *room) leave(c *conn) {
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	r.m.removeConn(c)
	r.removeAwareness(c)
}

func (r *room) message(c *conn, msg yprotocol.Message) {
	if r.m.opts.onMessage != nil {
		r.m.opts.onMessage(c, msg)
	}
	switch msg.Type {
	case yprotocol.MessageSync:
		switch msg.Sync {
		case yprotocol.SyncStep1:
			reply, err := yprotocol.HandleSync(r.doc, msg)
			if err != nil {
				r.refuse(c, "malformed state vector")
				return
			}
			r.send(c, reply)
		default:
			r.clientUpdate(c, msg.Payload)
		}
	case yprotocol.MessageAwareness:
		r.clientAwareness(c, msg.Payload)
	case yprotocol.MessageQueryAwareness:
		if u, ok := r.aw.states.EncodeAll(); ok {
			r.send(c, yprotocol.EncodeAwareness(u))
		}
	case yprotocol.MessageAuth:
		// Clients have nothing to tell the server here.
	}
}

// refuse tells c why its message changed nothing, with the y-protocols auth message that
// y-websocket clients log; the connection stays open.
func (r *room) refuse(c *conn, reason string) {
	r.send(c, yprotocol.EncodePermissionDenied(reason))
}

const refusedDuringOutage = " is read-only until its store is reachable again; your changes will be synced then"

// clientUpdate applies a client's update; what it integrated waits in r.upd for flushUpdates.
func (r *room) clientUpdate(c *conn, update []byte) {
	count := r.m.m.updates
	switch {
	case c.readOnly:
		count.WithLabelValues("read_only").Inc()
		r.refuse(c, "read-only: you may not change room "+r.id)
		return
	case r.upd.outage:
		count.WithLabelValues("unavailable").Inc()
		r.refuse(c, "room "+r.id+refusedDuringOutage)
		return
	case !r.fits(len(update)):
		count.WithLabelValues("doc_full").Inc()
		r.refuse(c, fmt.Sprintf("update rejected: room %s's document is at its size limit (%d bytes)", r.id, r.m.opts.MaxDocBytes))
		return
	}
	mark := r.upd.mark()
	res, err := r.doc.ApplyUpdateResult(update)
	switch {
	case errors.Is(err, crdt.ErrPendingLimit):
		r.upd.rollback(mark)
		count.WithLabelValues("pending_full").Inc()
		r.refuse(c, "update rejected: room "+r.id+" holds too much data waiting for updates it has not seen")
		return
	case err != nil:
		r.upd.rollback(mark)
		count.WithLabelValues("malformed").Inc()
		r.refuse(c, "update rejected: malformed")
		return
	}
	if res.Integrated {
		c.deferred, c.deferredBytes = 0, 0
	} else if res.Deferred {
		r.deferredOnly(c, len(update))
		return
	}
	if !r.upd.integratedSince(mark) {
		count.WithLabelValues("duplicate").Inc()
		return
	}
	r.upd.from(c)
}

// A client whose updates only ever wait for updates nobody sent (a broken or hostile client) is
// disconnected after maxDeferredUpdates of them or maxDeferredBytes: it would otherwise fill the
// document's pending data, which every replica holding the room pays for. The limit code lets
// the client reconnect; its resync starts from what the room has.
const (
	maxDeferredUpdates = 64
	maxDeferredBytes   = 1 << 20
)

func (r *room) deferredOnly(c *conn, n int) {
	r.m.m.updates.WithLabelValues("pending").Inc()
	c.deferred++
	c.deferredBytes += n
	if c.deferred < maxDeferredUpdates && c.deferredBytes < maxDeferredBytes {
		return
	}
	r.m.m.updates.WithLabelValues("never_integrated").Inc()
	r.leave(c)
	c.ch.CloseConn(mux.CloseCode(errcode.Limit), fmt.Sprintf("limit: %d updates (%d bytes) in a row waited for updates the room has not seen", c.deferred, c.deferredBytes))
}

func (r *room) broadcast(msg []byte) {
	for c := range r.conns {
		r.send(c, msg)
	}
}

// send never waits: a client that cannot keep up is disconnected with a code rather than
// skipped, because a skipped sync message would leave it silently diverged.
func (r *room) send(c *conn, msg []byte) {
	err := c.ch.Send(noWait, mux.Message{Type: mux.Binary, Data: msg})
	switch {
	case err == nil:
		return
	case errors.Is(err, context.Canceled):
		// The queue is full.
		c.ch.CloseConn(mux.CloseCode(mux.CodeSlowConsumer), "slow consumer: sync messages are never dropped")
	}
	r.leave(c)
}

// noWait makes Send fail at once instead of waiting for room in the queue; unlike TrySend it
// tells a full queue (context.Canceled) from a closed channel.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
