import { useState, type ReactNode } from 'react'
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

type FormProps = { t: ObjectTarget; onOutcome: (o: WriteOutcome) => void; onClose: () => void }

/** A one-line form that makes one write call when submitted; it closes itself when it went through. */
function WriteForm(props: {
  className: string
  /** The call, or null while the fields do not make a valid request. */
  call: (() => Promise<{ status: number; body: unknown }>) | null
  submit: { testid: string; label: string; busyLabel: string; title: string; danger?: boolean }
  onOutcome: (o: WriteOutcome) => void
  onClose: () => void
  children: ReactNode
}) {
  const [busy, setBusy] = useState(false)
  const { call, submit: b } = props
  return (
    <form
      className={`write-form ${props.className}`}
      onSubmit={async (e) => {
        e.preventDefault()
        if (!call) return
        setBusy(true)
        const o = await runWrite(call)
        setBusy(false)
        props.onOutcome(o)
        if (o.result === 'ok') props.onClose()
      }}
    >
      {props.children}
      <button type="submit" className={b.danger ? 'danger' : ''} data-testid={b.testid} disabled={busy || !call} title={b.title}>
        {busy ? b.busyLabel : b.label}
      </button>
      <button type="button" onClick={props.onClose}>
        Cancel
      </button>
    </form>
  )
}

/** Scale: a replica count, sent to the scale subresource. */
export function ScaleForm({ t, current, onOutcome, onClose }: FormProps & { current: number }) {
  const [value, setValue] = useState(String(current))
  const n = parseReplicas(value)
  return (
    <WriteForm
      className=""
      call={n === null ? null : () => api.scale(t.resource, t.name, t.cluster, t.namespace, n, t.room)}
      submit={{ testid: 'scale-submit', label: 'Scale', busyLabel: 'Scaling…', title: n === null ? 'a whole number from 0 to 10000' : `scale ${t.name} to ${n}` }}
      onOutcome={onOutcome}
      onClose={onClose}
    >
      <label>
        replicas{' '}
        <input data-testid="scale-input" type="number" min={0} max={10000} step={1} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
      </label>
    </WriteForm>
  )
}

/** Delete: only once the object's name is typed, with the propagation policy to use. */
export function DeleteForm({ t, onOutcome, onClose }: FormProps) {
  const [typed, setTyped] = useState('')
  const [propagation, setPropagation] = useState('Background')
  return (
    <WriteForm
      className="danger-zone"
      call={typed === t.name ? () => api.remove(t.resource, t.name, t.cluster, t.namespace, propagation, t.room) : null}
      submit={{ testid: 'delete-submit', label: 'Delete', busyLabel: 'Deleting…', title: typed === t.name ? `delete ${t.name}` : `type ${t.name} first`, danger: true }}
      onOutcome={onOutcome}
      onClose={onClose}
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
    </WriteForm>
  )
}
