package mux

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// readLoop reads messages and hands them to the protocol until the socket fails. Once the socket
// is closing it only discards what arrives, waiting for the peer's close frame (the close
// handshake), bounded by the deadline the writer set.
func (s *socket) readLoop() {
	limit := int64(s.cfg.MaxFrameBytes)
	for {
		s.extendDeadline()
		typ, r, err := s.ws.NextReader()
		if err != nil {
			s.readFailed(err)
			return
		}
		if s.closingF.Load() {
			// gorilla skips what is left of a message at the next NextReader; this bounds the
			// work one message can cost before the deadline is looked at again.
			if _, err := io.Copy(io.Discard, io.LimitReader(r, 4*limit)); err != nil {
				s.readFailed(err)
				return
			}
			continue
		}
		buf, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			s.readFailed(err)
			return
		}
		s.m.framesIn.Inc()
		s.m.bytesIn.Add(float64(len(buf)))
		if err := s.proto.receive(typ, buf, r); err != nil {
			var ce *closeError
			if !errors.As(err, &ce) {
				s.readFailed(err)
				return
			}
			s.failWith(ce)
		}
	}
}

// extendDeadline pushes the idle deadline out, unless the socket is closing, when the close
// grace set by the writer must stand. It runs on the reader goroutine (the pong handler too).
func (s *socket) extendDeadline() {
	if s.closingF.Load() {
		return
	}
	_ = s.ws.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if s.closingF.Load() {
		// The writer may have set the grace deadline between the check and the set above.
		_ = s.ws.SetReadDeadline(time.Now().Add(s.cfg.CloseGrace))
	}
}

func (s *socket) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	s.mu.Lock()
	s.readEnded = true
	s.peerClosed = errors.As(err, &ce)
	s.mu.Unlock()
	switch {
	case ce != nil:
		s.fail(ce.Code, ce.Text)
	case errors.As(err, &ne) && ne.Timeout() && !s.closingF.Load():
		s.failWith(coded(Errorf(CodeIdleTimeout, "nothing received for %s", s.cfg.IdleTimeout)))
	default:
		s.fail(websocket.CloseAbnormalClosure, "")
	}
}
