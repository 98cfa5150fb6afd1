package mux

import "fmt"

// Subprotocol is the WebSocket subprotocol of the multiplexer.
const Subprotocol = "yard.v1"

// ControlChannel is the id of the control channel; data channels use any other id.
const ControlChannel = 0

// MaxChannelID is the largest channel id; ids are varuints of at most 5 bytes.
const MaxChannelID = 1<<32 - 1

// MaxHeaderLen is the longest frame header: a 5-byte varuint channel id and the type byte.
const MaxHeaderLen = 6

// Control operations: the type byte of a frame on channel 0.
const (
	OpOpen   byte = 1 // client -> server: JSON OpenMsg
	OpOpened byte = 2 // server -> client: JSON OpenedMsg
	OpClose  byte = 3 // both ways: JSON CloseMsg
	OpError  byte = 4 // both ways: JSON ErrorMsg, a notice that closes nothing
	OpPing   byte = 5 // both ways: opaque payload, answered by a pong with the same payload
	OpPong   byte = 6 // both ways: the ping's payload
	OpCredit byte = 7 // both ways: JSON CreditMsg
)

// Frame is one decoded WebSocket binary message: a channel id, a type byte (a MessageType on a
// data channel, an Op on channel 0) and the payload.
type Frame struct {
	Channel uint32
	Type    byte
	Payload []byte
}

// AppendHeader appends the header of a frame on channel ch with type typ to dst.
func AppendHeader(dst []byte, ch uint32, typ byte) []byte {
	v := ch
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v), typ)
}

// AppendFrame appends a whole frame to dst.
func AppendFrame(dst []byte, f Frame) []byte {
	return append(AppendHeader(dst, f.Channel, f.Type), f.Payload...)
}

// DecodeFrame parses b. The payload aliases b. Every malformed input is a *Error with code
// bad_frame: a truncated or non-minimal varuint, an id over MaxChannelID, a missing type byte,
// or a type byte that is not defined for that channel.
func DecodeFrame(b []byte) (Frame, error) {
	var ch uint64
	i := 0
	for shift := uint(0); ; shift += 7 {
		if i >= len(b) {
			return Frame{}, Errorf(CodeBadFrame, "truncated channel id")
		}
		if i == 5 {
			return Frame{}, Errorf(CodeBadFrame, "channel id longer than 5 bytes")
		}
		c := b[i]
		i++
		ch |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && i > 1 {
				return Frame{}, Errorf(CodeBadFrame, "non-minimal channel id")
			}
			break
		}
	}
	if ch > MaxChannelID {
		return Frame{}, Errorf(CodeBadFrame, "channel id over %d", uint64(MaxChannelID))
	}
	if i >= len(b) {
		return Frame{}, Errorf(CodeBadFrame, "missing type byte")
	}
	f := Frame{Channel: uint32(ch), Type: b[i], Payload: b[i+1:]}
	if f.Channel == ControlChannel {
		if f.Type < OpOpen || f.Type > OpCredit {
			return Frame{}, Errorf(CodeBadFrame, "unknown control operation %d", f.Type)
		}
	} else if f.Type != byte(Binary) && f.Type != byte(Text) {
		return Frame{}, Errorf(CodeBadFrame, "unknown message type %d", f.Type)
	}
	return f, nil
}

// cost is what a data payload of n bytes charges against the receiver's credit. Empty messages
// cost one byte so that credit bounds their number too.
func cost(n int) int64 {
	if n == 0 {
		return 1
	}
	return int64(n)
}

func (t MessageType) String() string {
	switch t {
	case Binary:
		return "binary"
	case Text:
		return "text"
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}
