package mux

import (
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// A batch is what the writer hands the kernel in one writev: up to maxBatchFrames frames or
// maxBatchBytes, picked by the protocol in the order it sends them. Batching saves a system call
// per frame under load; the bytes bound keeps a batch of bulk frames from delaying an urgent
// frame that arrives meanwhile by more than about one large frame would.
const (
	maxBatchFrames = 64
	maxBatchBytes  = 16 << 10
	maxWSHeader    = 10
)

type batch struct {
	frames int // data frames (WebSocket pings not counted)
	size   int // their WebSocket payload bytes
	ping   bool
	hdrs   []byte
	bufs   net.Buffers
}

// batchPool keeps idle connections from holding batch buffers.
var batchPool = sync.Pool{New: func() any {
	return &batch{
		hdrs: make([]byte, 0, maxBatchFrames*(maxWSHeader+MaxHeaderLen)),
		bufs: make(net.Buffers, 0, 2*maxBatchFrames),
	}
}}

func (b *batch) full() bool { return b.frames >= maxBatchFrames || b.size >= maxBatchBytes }

func (b *batch) empty() bool { return b.frames == 0 && !b.ping }

// add appends one final, unmasked WebSocket frame of opcode op (websocket.TextMessage or
// BinaryMessage) whose payload is head (copied) then body (referenced until the write).
func (b *batch) add(op byte, head, body []byte) {
	start := len(b.hdrs)
	b.hdrs = appendWSHeader(b.hdrs, op, len(head)+len(body))
	b.hdrs = append(b.hdrs, head...)
	b.bufs = append(b.bufs, b.hdrs[start:len(b.hdrs):len(b.hdrs)])
	if len(body) > 0 {
		b.bufs = append(b.bufs, body)
	}
	b.frames++
	b.size += len(head) + len(body)
}

// addPing appends an empty WebSocket ping.
func (b *batch) addPing() {
	start := len(b.hdrs)
	b.hdrs = appendWSHeader(b.hdrs, websocket.PingMessage, 0)
	b.bufs = append(b.bufs, b.hdrs[start:len(b.hdrs):len(b.hdrs)])
	b.ping = true
}

func (b *batch) reset() {
	b.frames, b.size, b.ping = 0, 0, false
	b.hdrs = b.hdrs[:0]
	clear(b.bufs[:cap(b.bufs)])
	b.bufs = b.bufs[:0]
}

// writeLoop writes until there is nothing to send, then ends; wakeLocked starts it again. The run
// that writes the close frame closes writerDone, which serve waits for.
func (s *socket) writeLoop() {
	for {
		s.mu.Lock()
		if s.closing {
			code, reason, peer := s.closeCode, s.closeReason, s.peerClosed
			s.mu.Unlock()
			s.pingTimer.Stop()
			s.writeClose(code, reason, peer)
			close(s.writerDone)
			return
		}
		b := batchPool.Get().(*batch)
		if s.pingDue {
			s.pingDue = false
			s.proto.pingLocked(b)
		}
		s.proto.fillLocked(b)
		if s.closing || b.empty() {
			// Nothing to send, or the protocol closed the socket (a finished single-purpose
			// stream): the close is written on the next turn.
			done := !s.closing
			if done {
				s.writing = false
			}
			s.mu.Unlock()
			b.reset()
			batchPool.Put(b)
			if done {
				return
			}
			continue
		}
		s.mu.Unlock()
		if b.ping {
			s.pingTimer.Reset(s.cfg.PingInterval)
		}
		err := s.writeBatch(b)
		b.reset()
		batchPool.Put(b)
		if err != nil {
			s.fail(websocket.CloseAbnormalClosure, "")
		}
	}
}

// writeBatch writes the batch in one writev: one system call per turn of the writer instead of
// one per frame. Bypassing gorilla's writer is safe because this goroutine is the only one
// writing messages; gorilla's own control frames (close, pong answers) are single writes, which
// the descriptor's write lock keeps whole between ours. net.Buffers makes one writev only on the
// net package's own connection types; through a wrapper that hides them it writes each buffer
// on its own, two system calls and two TCP segments per frame (frontdoor.Listen's connections
// keep the *net.TCPConn for this).
func (s *socket) writeBatch(b *batch) error {
	nc := s.ws.NetConn()
	// Moving the deadline costs a runtime timer update per write; moving it only once it is
	// half spent keeps every write bounded by between WriteTimeout/2 and WriteTimeout.
	if now := time.Now(); s.writeDeadline.Sub(now) < s.cfg.WriteTimeout/2 {
		s.writeDeadline = now.Add(s.cfg.WriteTimeout)
		_ = nc.SetWriteDeadline(s.writeDeadline)
	}
	bufs := b.bufs // WriteTo consumes the slice it is called on; keep b.bufs for reuse
	if _, err := bufs.WriteTo(nc); err != nil {
		return err
	}
	s.m.framesOut.Add(float64(b.frames))
	s.m.bytesOut.Add(float64(b.size))
	return nil
}

// appendWSHeader appends the header of a final, unmasked WebSocket frame of opcode op carrying n
// payload bytes (RFC 6455 5.2).
func appendWSHeader(b []byte, op byte, n int) []byte {
	fin := 0x80 | op
	switch {
	case n < 126:
		return append(b, fin, byte(n))
	case n <= 0xffff:
		return append(b, fin, 126, byte(n>>8), byte(n))
	default:
		return append(b, fin, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40),
			byte(uint64(n)>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
