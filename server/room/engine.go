package room

import (
	"context"
	"fmt"

	"github.com/yardhq/yard/crdt"
)

// Transact changes room id's document as the server, through the engine, in one transaction
// (for example deploy status under "deploys"): the change is stored and reaches every client on
// every replica. The document is the replica's live copy; fn must not keep it.
func (m *Manager) Transact(ctx context.Context, id string, fn func(doc *crdt.Doc, tx *crdt.Transaction)) error {
	var typeErr error
	err := m.Write(ctx, id, func(d Doc) {
		doc, ok := d.(*crdt.Doc)
		if !ok {
			typeErr = fmt.Errorf("room %s: the document is a %T, not a *crdt.Doc", id, d)
			return
		}
		doc.Transact(func(tx *crdt.Transaction) { fn(doc, tx) })
	})
	if typeErr != nil {
		return typeErr
	}
	return err
}

// View reads room id's document through the engine (for example the workflow to deploy). fn runs
// on the room's goroutine and must not keep the document.
func (m *Manager) View(ctx context.Context, id string, fn func(doc *crdt.Doc)) error {
	var typeErr error
	err := m.Read(ctx, id, func(d Doc) {
		doc, ok := d.(*crdt.Doc)
		if !ok {
			typeErr = fmt.Errorf("room %s: the document is a %T, not a *crdt.Doc", id, d)
			return
		}
		fn(doc)
	})
	if typeErr != nil {
		return typeErr
	}
	return err
}
