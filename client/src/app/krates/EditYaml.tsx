import { lazy, Suspense, useState } from 'react'
import { api } from '../api.ts'
import { conflictsOf, type WriteOutcome } from '../writeModel.ts'
import { ObjectResultView } from './WriteResult.tsx'
import { runWrite } from './WriteActions.tsx'

const CodeEditor = lazy(() => import('./CodeEditor.tsx'))

export interface EditTarget {
  cluster: string
  namespace: string
  room: string
}

/**
 * Edit YAML: the editor, Review (a server-side dry run: the diff per object) and Apply. A
 * conflict with another field manager lists the managers and fields and offers Take over,
 * which sends the same text again with force.
 */
export function EditYaml(props: {
  initial: string
  target: EditTarget
  /** The live object changed since editing began (its resourceVersion moved on). */
  stale: boolean
  onReload: () => void
  onApplied: (o: WriteOutcome) => void
  onCancel: () => void
}) {
  const [text, setText] = useState(props.initial)
  // The last answer shown under the editor: a review (dry run) or an apply that did not go through.
  const [shown, setShown] = useState<{ o: WriteOutcome; dryRun: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState<'' | 'review' | 'apply'>('')
  // Once a person chose Take over, later reviews and applies of this edit keep taking over.
  const [force, setForce] = useState(false)

  const run = async (dryRun: boolean, takeOver = force) => {
    setBusy(dryRun ? 'review' : 'apply')
    const sent = text
    const t = props.target
    const o = await runWrite(() => api.apply(sent, { cluster: t.cluster, namespace: t.namespace, dryRun, force: takeOver, room: t.room }), dryRun)
    setBusy('')
    if (!dryRun) props.onApplied(o)
    setShown(dryRun || o.result !== 'ok' ? { o, dryRun, text: sent } : null)
  }

  const reviewStale = shown !== null && shown.dryRun && shown.text !== text
  return (
    <div className="edit-yaml">
      <div className="toolbar">
        <button data-testid="yaml-review" disabled={!!busy} onClick={() => void run(true)} title="Dry run on the server: shows what would change">
          {busy === 'review' ? 'Reviewing…' : 'Review'}
        </button>
        <button className="primary" data-testid="yaml-apply" disabled={!!busy} onClick={() => void run(false)} title="Server-side apply as you">
          {busy === 'apply' ? 'Applying…' : 'Apply'}
        </button>
        <button data-testid="yaml-cancel" disabled={!!busy} onClick={props.onCancel}>
          Cancel
        </button>
        {props.stale && (
          <span className="notice" data-testid="yaml-stale">
            the object changed since you began{' '}
            <button className="link" onClick={props.onReload}>
              reload
            </button>
          </span>
        )}
        {reviewStale && <span className="muted">edited since the review</span>}
        {force && (
          <span className="notice" data-testid="yaml-force" title="Fields other managers own are taken over (server-side apply with force)">
            taking over conflicting fields
          </span>
        )}
      </div>
      <div className="edit-yaml-body">
        <Suspense fallback={<div className="muted pad">Loading editor…</div>}>
          <CodeEditor value={text} onChange={setText} />
        </Suspense>
      </div>
      {shown && (
        <div className="review" data-testid="yaml-review-result" data-dry-run={shown.dryRun ? 'true' : 'false'} data-result={shown.o.result}>
          {shown.o.results.length === 0 && <div className={shown.o.result === 'ok' ? 'muted' : 'error'}>{shown.o.message || 'nothing to apply'}</div>}
          {shown.o.results.map((r, i) => (
            <ObjectResultView
              key={`${r.kind}/${r.namespace}/${r.name}/${i}`}
              r={r}
              busy={!!busy}
              onTakeOver={() => {
                setForce(true)
                void run(shown.dryRun, true)
              }}
            />
          ))}
          {shown.dryRun && conflictsOf(shown.o).length === 0 && shown.o.result === 'ok' && <div className="muted">dry run: nothing was changed yet</div>}
        </div>
      )}
    </div>
  )
}
