package yprotocol

import (
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

// MessageType is the outer type that starts every message.
type MessageType uint64

// Outer message types of y-protocols.
const (
	MessageSync           MessageType = 0
	MessageAwareness      MessageType = 1
	MessageAuth           MessageType = 2
	MessageQueryAwareness MessageType = 3
)

// SyncType is the sub-type of a MessageSync.
type SyncType uint64

// Sync sub-types: step 1 carries a state vector, step 2 and update carry a v1 update.
const (
	SyncStep1  SyncType = 0
	SyncStep2  SyncType = 1
	SyncUpdate SyncType = 2
)

// AuthPermissionDenied is the only auth sub-type y-protocols defines.
const AuthPermissionDenied uint64 = 0

// maxSafeInteger is the largest integer a JS number holds exactly; lib0 readers reject larger
// varUints, so nothing above it may be accepted or emitted.
const maxSafeInteger = 1<<53 - 1

// Message is one decoded y-protocols message.
type Message struct {
	Type MessageType
	// Sync is the sub-type of a MessageSync.
	Sync SyncType
	// Payload is the state vector (SyncStep1), the v1 update (SyncStep2, SyncUpdate) or the
	// encoded awareness update (MessageAwareness). It aliases the decoded buffer.
	Payload []byte
	// Reason is why permission was denied (MessageAuth).
	Reason string
}

// IsWrite reports whether the message would change the document: a read-only peer's step 2 and
// updates are dropped, its step 1 is still answered (y-protocols PROTOCOL.md).
func (m Message) IsWrite() bool {
	return m.Type == MessageSync && (m.Sync == SyncStep2 || m.Sync == SyncUpdate)
}

// Encode returns the message's bytes.
func (m Message) Encode() []byte {
	var e lib0.Encoder
	e.WriteVarUint(uint64(m.Type))
	switch m.Type {
	case MessageSync:
		e.WriteVarUint(uint64(m.Sync))
		e.WriteVarUint8Array(m.Payload)
	case MessageAwareness:
		e.WriteVarUint8Array(m.Payload)
	case MessageAuth:
		e.WriteVarUint(AuthPermissionDenied)
		e.WriteVarString(m.Reason)
	}
	return e.Bytes()
}

// EncodeSyncStep1 returns a step 1 message carrying an encoded state vector.
func EncodeSyncStep1(stateVector []byte) []byte {
	return Message{Type: MessageSync, Sync: SyncStep1, Payload: stateVector}.Encode()
}

// EncodeSyncStep2 returns a step 2 message carrying a v1 update (the answer to a step 1).
func EncodeSyncStep2(update []byte) []byte {
	return Message{Type: MessageSync, Sync: SyncStep2, Payload: update}.Encode()
}

// EncodeUpdate returns an update message carrying a v1 update.
func EncodeUpdate(update []byte) []byte {
	return Message{Type: MessageSync, Sync: SyncUpdate, Payload: update}.Encode()
}

// EncodeAwareness returns an awareness message carrying an encoded awareness update.
func EncodeAwareness(awarenessUpdate []byte) []byte {
	return Message{Type: MessageAwareness, Payload: awarenessUpdate}.Encode()
}

// EncodeQueryAwareness returns a query-awareness message (the receiver answers with every
// awareness state it knows).
func EncodeQueryAwareness() []byte {
	return Message{Type: MessageQueryAwareness}.Encode()
}

// EncodePermissionDenied returns an auth message telling the peer it may not write; y-websocket
// clients log the reason.
func EncodePermissionDenied(reason string) []byte {
	return Message{Type: MessageAuth, Reason: reason}.Encode()
}

// DecodeMessage decodes the first message in b and returns the bytes after it. y-websocket 2.x
// and 3.x peers send one message per frame and ignore what follows it; newer ones may concatenate
// several, which a caller handles by decoding rest until it is empty.
func DecodeMessage(b []byte) (m Message, rest []byte, err error) {
	d := lib0.NewDecoder(b)
	t, err := d.ReadVarUint()
	if err != nil {
		return Message{}, nil, errorf(CodeMalformed, "message type: %w", err)
	}
	m.Type = MessageType(t)
	switch m.Type {
	case MessageSync:
		s, err := d.ReadVarUint()
		if err != nil {
			return Message{}, nil, errorf(CodeMalformed, "sync type: %w", err)
		}
		if s > uint64(SyncUpdate) {
			return Message{}, nil, errorf(CodeUnknownType, "sync type %d", s)
		}
		m.Sync = SyncType(s)
		if m.Payload, err = d.ReadVarUint8Array(); err != nil {
			return Message{}, nil, errorf(CodeMalformed, "sync payload: %w", err)
		}
	case MessageAwareness:
		if m.Payload, err = d.ReadVarUint8Array(); err != nil {
			return Message{}, nil, errorf(CodeMalformed, "awareness payload: %w", err)
		}
	case MessageAuth:
		a, err := d.ReadVarUint()
		if err != nil {
			return Message{}, nil, errorf(CodeMalformed, "auth type: %w", err)
		}
		if a != AuthPermissionDenied {
			return Message{}, nil, errorf(CodeUnknownType, "auth type %d", a)
		}
		if m.Reason, err = d.ReadVarString(); err != nil {
			return Message{}, nil, errorf(CodeMalformed, "auth reason: %w", err)
		}
		if !utf8.ValidString(m.Reason) {
			return Message{}, nil, errorf(CodeMalformed, "auth reason is not UTF-8")
		}
	case MessageQueryAwareness:
	default:
		return Message{}, nil, errorf(CodeUnknownType, "message type %d", t)
	}
	return m, b[len(b)-d.Remaining():], nil
}
