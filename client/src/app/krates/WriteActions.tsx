import { useState } from 'react'
import { api } from '../api.ts'
import { parseReplicas, writeOutcome, type WriteOutcome } from '../writeModel.ts'
import type { Decision } from '../access.ts'

export interface ObjectTarget {
  cluster: string
  namespace: string
  /** Plural resource as in API paths: deployments. */
  resource: string
  name: string
  room: string
}

/** Runs one write call; a network failure reads as a failed outcome. */
export async function runWrite(call: () => Promise<{ status: number; body: unknown }>, dryRun = false): Promise<WriteOutcome> {
  try {
    const { status, body } = await call()
    return writeOutcome(status, body, dryRun)
  } catch (e) {
    return { result: 'failed', dryRun, message: e instanceof Error ? e.message : String(e), code: 'network', results: [] }
  }
}

/** A toolbar button for a write: disabled with the reason when the user may not. */
export function WriteButton(props: { testid: string; label: string; decision: Decision; onClick: () => void; active?: boolean; danger?: boolean; busy?: boolean; hint: string }) {
  const { decision: d } = props
  return (
    <button
      className={`small${props.active ? ' active' : ''}${props.danger ? ' danger' : ''}`}
      data-testid={props.testid}
      disabled={!d.allowed || props.busy}
      title={d.allowed ? props.hint : d.reason}
      data-reason={d.allowed ? undefined : d.reason}
      onClick={(e) => {
        e.stopPropagation()
        props.onClick()
      }}
    >
      {props.label}
    </button>
  )
}

/** Scale: a replica count, sent to the scale subresource. */
export function ScaleForm({ t, current, onOutcome, onClose }: { t: ObjectTarget; current: number; onOutcome: (o: WriteOutcome) => void; onClose: () => void }) {
  const [value, setValue] = useState(String(current))
  const [busy, setBusy] = useState(false)
  const n = parseReplicas(value)
  const submit = async () => {
    if (n === null) return
    setBusy(true)
    const o = await runWrite(() => api.scale(t.resource, t.name, t.cluster, t.namespace, n, t.room))
    setBusy(false)
    onOutcome(o)
    if (o.result === 'ok') onClose()
  }
  return (
    <form
      className="write-form"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <label>
        replicas{' '}
        <input data-testid="scale-input" type="number" min={0} max={10000} step={1} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
      </label>
      <button type="submit" data-testid="scale-submit" disabled={busy || n === null} title={n === null ? 'a whole number from 0 to 10000' : `scale ${t.name} to ${n}`}>
        {busy ? 'Scaling…' : 'Scale'}
      </button>
      <button type="button" onClick={onClose}>
        Cancel
      </button>
    </form>
  )
}

/** Delete: only once the object's name is typed, with the propagation policy to use. */
export function DeleteForm({ t, onOutcome, onClose }: { t: ObjectTarget; onOutcome: (o: WriteOutcome) => void; onClose: () => void }) {
  const [typed, setTyped] = useState('')
  const [propagation, setPropagation] = useState('Background')
  const [busy, setBusy] = useState(false)
  const submit = async () => {
    if (typed !== t.name) return
    setBusy(true)
    const o = await runWrite(() => api.remove(t.resource, t.name, t.cluster, t.namespace, propagation, t.room))
    setBusy(false)
    onOutcome(o)
    if (o.result === 'ok') onClose()
  }
  return (
    <form
      className="write-form danger-zone"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <label>
        type <code>{t.name}</code> to delete it{' '}
        <input data-testid="delete-confirm-input" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder={t.name} autoFocus spellCheck={false} autoComplete="off" />
      </label>
      <select data-testid="delete-propagation" value={propagation} onChange={(e) => setPropagation(e.target.value)} title="What happens to the objects it owns">
        <option>Background</option>
        <option>Foreground</option>
        <option>Orphan</option>
      </select>
      <button type="submit" className="danger" data-testid="delete-submit" disabled={busy || typed !== t.name}>
        {busy ? 'Deleting…' : 'Delete'}
      </button>
      <button type="button" onClick={onClose}>
        Cancel
      </button>
    </form>
  )
}
