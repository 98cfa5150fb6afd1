package yprotocol

// Doc is what the sync handshake needs from a document; *crdt.Doc satisfies it. Callers
// serialize access to the document.
type Doc interface {
	EncodeStateVector() []byte
	EncodeStateAsUpdate(stateVector []byte) ([]byte, error)
	ApplyUpdate(update []byte) error
}

// SyncStep1For returns the step 1 message that opens a handshake with doc's state vector.
func SyncStep1For(doc Doc) []byte {
	return EncodeSyncStep1(doc.EncodeStateVector())
}

// HandleSync does what y-protocols readSyncMessage does with a decoded sync message: a step 1 is
// answered with the step 2 message holding everything the peer lacks (even when that is nothing:
// y-websocket clients only become synced on a step 2); a step 2 or an update is applied to doc and
// needs no reply. A rejected payload returns a CodeApply error; the document stays as it was.
func HandleSync(doc Doc, m Message) (reply []byte, err error) {
	if m.Type != MessageSync {
		return nil, errorf(CodeUnknownType, "not a sync message: type %d", m.Type)
	}
	switch m.Sync {
	case SyncStep1:
		update, err := doc.EncodeStateAsUpdate(m.Payload)
		if err != nil {
			return nil, errorf(CodeMalformed, "state vector: %w", err)
		}
		return EncodeSyncStep2(update), nil
	case SyncStep2, SyncUpdate:
		if err := doc.ApplyUpdate(m.Payload); err != nil {
			return nil, errorf(CodeApply, "update: %w", err)
		}
		return nil, nil
	default:
		return nil, errorf(CodeUnknownType, "sync type %d", m.Sync)
	}
}
