// Undo and redo of one person's own changes to the workflow and the krate layout. Only
// transactions whose origin is this client's are tracked: remote updates arrive with the sync
// provider as origin, so undoing never removes another person's work.
import * as Y from 'yjs'
import { kratesMap } from '../schema.ts'
import { LOCAL, workflowMap } from './model.ts'

/**
 * An undo manager over `workflow` and `krates`. Krate writes (schema.ts) carry no origin (null),
 * workflow writes carry LOCAL; both are this client's own. Edits within captureTimeout merge into
 * one step (a drag is one undo).
 */
export function ownUndoManager(doc: Y.Doc, captureTimeout = 500): Y.UndoManager {
  return new Y.UndoManager([workflowMap(doc), kratesMap(doc)], {
    trackedOrigins: new Set<unknown>([null, LOCAL]),
    captureTimeout,
  })
}
