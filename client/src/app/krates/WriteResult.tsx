import { diffLines, type ObjectResult, type WriteOutcome } from '../writeModel.ts'

/** What the last write did (write-result, data-result = ok|refused|failed). */
export function WriteResult({ what, outcome, onDismiss }: { what: string; outcome: WriteOutcome; onDismiss: () => void }) {
  const text =
    outcome.result === 'ok'
      ? `${what}: done${outcome.results.length ? ' — ' + outcome.results.map((r) => `${r.kind} ${r.name} ${r.action || 'ok'}`).join(', ') : ''}`
      : `${what} ${outcome.result === 'refused' ? 'refused' : 'failed'}: ${outcome.message}`
  return (
    <div className={`write-result result-${outcome.result}`} data-testid="write-result" data-result={outcome.result} data-code={outcome.code || undefined} role="status">
      <span className="grow" title={text}>
        {text}
      </span>
      <button className="icon" title="Dismiss" onClick={onDismiss}>
        ×
      </button>
    </div>
  )
}

/** One object of an apply: its diff (coloured +/- lines), or its error with any conflicting managers. */
export function ObjectResultView({ r, onTakeOver, busy }: { r: ObjectResult; onTakeOver: () => void; busy: boolean }) {
  const title = `${r.kind} ${r.namespace ? r.namespace + '/' : ''}${r.name}`
  return (
    <div className="object-result" data-testid="yaml-object-result" data-name={r.name} data-action={r.action || undefined} data-error={r.error?.code || undefined}>
      <div className="object-result-head">
        <strong>{title}</strong> <span className="muted">{r.error ? r.error.code : r.action}</span>
      </div>
      {r.error && (
        <div className="error object-error">
          {r.error.message}
          {r.error.conflicts.length > 0 && (
            <>
              <ul className="conflicts" data-testid="yaml-conflicts">
                {r.error.conflicts.map((c) => (
                  <li key={c.manager} data-testid="yaml-conflict" data-manager={c.manager}>
                    <strong>{c.manager}</strong> manages {c.fields.length ? c.fields.join(', ') : 'some of these fields'}
                  </li>
                ))}
              </ul>
              <button data-testid="yaml-takeover" disabled={busy} onClick={onTakeOver} title="Send again with force: this change becomes the manager of those fields">
                Take over
              </button>
            </>
          )}
        </div>
      )}
      {!r.error && (
        <pre className="diff" data-testid="yaml-diff">
          {r.diff ? diffLines(r.diff).map((l, i) => (
            <div key={i} className={`diff-${l.kind}`}>
              {l.text || ' '}
            </div>
          )) : <div className="diff-ctx muted">no changes</div>}
        </pre>
      )}
    </div>
  )
}
