package room

import (
	"context"

	"github.com/yardhq/yard/crdt"
)

// Transact changes room id's document as the server, through the engine, in one transaction
// (for example deploy status under "deploys"): the change is stored and reaches every client on
// every replica. The document is the replica's live copy; fn must not keep it.
func (m *Manager) Transact(ctx context.Context, id string, fn func(doc *crdt.Doc, tx *crdt.Transaction)) error {
	return m.Write(ctx, id, func(doc *crdt.Doc) {
		doc.Transact(func(tx *crdt.Transaction) { fn(doc, tx) })
	})
}

// View reads room id's document through the engine (for example the workflow to deploy). fn runs
// on the room's goroutine and must not keep the document.
func (m *Manager) View(ctx context.Context, id string, fn func(doc *crdt.Doc)) error {
	return m.Read(ctx, id, fn)
}
