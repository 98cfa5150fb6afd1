import { useEffect, useMemo, useState } from 'react'
import type { KrateBodyProps } from './body.ts'
import { useWatch } from '../useWatch.ts'
import { api } from '../api.ts'
import { age, kindInfo, metaOf, statusOf, toYAML } from '../resources.ts'
import { ActionButtons } from '../Actions.tsx'
import { useRoom } from '../roomContext.ts'
import { growKrate } from '../schema.ts'
import { useAccess } from '../hooks.ts'
import { writeDecision } from '../access.ts'
import { editableYAML, RESTARTABLE, SCALABLE, type WriteOutcome } from '../writeModel.ts'
import { EditYaml } from './EditYaml.tsx'
import { DeleteForm, runWrite, ScaleForm, WriteButton, type ObjectTarget } from './WriteActions.tsx'
import { WriteResult } from './WriteResult.tsx'

type Obj = Record<string, unknown>

const EDIT_SIZE = { w: 680, h: 620 }

/**
 * Object detail: live YAML and the object's events, both from one watch channel; and the writes
 * on it (Edit YAML with review and apply, Scale, Restart, Delete), each disabled with the reason
 * when the server or RBAC would refuse it.
 */
export function DetailKrate({ krate, onState }: KrateBodyProps) {
  const { room, doc } = useRoom()
  const r = krate.ref
  const kind = kindInfo(r.kind)
  const kinds = kind.resource === 'events' ? 'events' : `${kind.resource},events`
  const store = useWatch(r.cluster, kinds, kind.namespaced ? r.namespace : '', onState)
  const [fetched, setFetched] = useState<Obj | null>(null)
  const [fetchError, setFetchError] = useState('')
  const [tab, setTab] = useState<'yaml' | 'events'>('yaml')

  useEffect(() => {
    api.resource(kind.resource, r.name, r.cluster, r.namespace).then(
      (o) => setFetched(o as Obj),
      (e: Error) => setFetchError(e.message),
    )
  }, [kind.resource, r.name, r.cluster, r.namespace])

  const live = store.objects.get(`${kind.resource}/${kind.namespaced ? r.namespace : ''}/${r.name}`)?.object
  // Watched objects come without apiVersion/kind (list items carry none); the GET has them.
  const obj = useMemo(() => (live ? { apiVersion: fetched?.apiVersion, kind: kind.kind, ...live } : fetched), [live, fetched, kind.kind])
  const deleted = !live && store.synced.has(kind.resource) && fetched !== null
  const yaml = useMemo(() => (obj ? toYAML(obj) : ''), [obj])
  const events = store
    .list('events')
    .filter((e) => {
      const io = (e.involvedObject ?? e.regarding ?? {}) as Obj
      return io.name === r.name && (!io.kind || String(io.kind).toLowerCase() === kind.kind.toLowerCase())
    })
    .sort((a, b) => String(b.lastTimestamp ?? b.eventTime ?? '').localeCompare(String(a.lastTimestamp ?? a.eventTime ?? '')))
  const st = obj ? statusOf(kind.resource, obj) : null

  const access = useAccess(r.cluster, r.namespace)
  const may = (op: Parameters<typeof writeDecision>[1]) => writeDecision(access, op, kind.resource, r.namespace)
  const target: ObjectTarget = { cluster: r.cluster, namespace: r.namespace, resource: kind.resource, name: r.name, room }
  const [panel, setPanel] = useState<'' | 'scale' | 'delete'>('')
  // Editing starts from a snapshot of the live object; its resourceVersion tells when it is stale.
  const [editing, setEditing] = useState<{ yaml: string; rv: string; n: number } | null>(null)
  const [last, setLast] = useState<{ what: string; o: WriteOutcome } | null>(null)
  const [restarting, setRestarting] = useState(false)
  const rv = obj ? metaOf(obj).resourceVersion : ''
  const startEdit = () => {
    if (!obj) return
    setEditing((e) => ({ yaml: editableYAML(obj), rv, n: (e?.n ?? 0) + 1 }))
    // An editor needs room: grow the krate (for everyone, like any resize) if it is small.
    growKrate(doc, krate.id, EDIT_SIZE.w, EDIT_SIZE.h)
    setTab('yaml')
    setPanel('')
  }
  const spec = (obj?.spec ?? {}) as Obj
  const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1
  const restart = async () => {
    setRestarting(true)
    const o = await runWrite(() => api.restart(kind.resource, r.name, r.cluster, r.namespace, room))
    setRestarting(false)
    setLast({ what: 'restart', o })
  }

  return (
    <div className="detail">
      <div className="toolbar">
        <button className={tab === 'yaml' ? 'active' : ''} data-testid="detail-tab-yaml" onClick={() => setTab('yaml')}>
          YAML
        </button>
        <button className={tab === 'events' ? 'active' : ''} data-testid="detail-tab-events" onClick={() => setTab('events')}>
          Events ({events.length})
        </button>
        {st && st.text && <span className={`status tone-${st.tone}`}>{st.text}</span>}
        {deleted && <span className="status tone-bad">deleted</span>}
        <span className="spacer" />
        <WriteButton testid="yaml-edit" label="Edit YAML" hint="Edit this object's YAML, review the change, apply it" decision={!obj?.apiVersion ? { allowed: false, reason: fetchError || 'loading the object…' } : may('edit')} active={!!editing} onClick={() => (editing ? setEditing(null) : startEdit())} />
        {SCALABLE.includes(kind.resource) && (
          <WriteButton testid="action-scale" label="Scale" hint={`Change the number of replicas (now ${replicas})`} decision={may('scale')} active={panel === 'scale'} onClick={() => setPanel(panel === 'scale' ? '' : 'scale')} />
        )}
        {RESTARTABLE.includes(kind.resource) && (
          <WriteButton testid="action-restart" label={restarting ? 'Restarting…' : 'Restart'} hint="Roll out new pods one by one (like kubectl rollout restart)" decision={may('restart')} busy={restarting} onClick={() => void restart()} />
        )}
        <WriteButton testid="action-delete" label="Delete" danger hint={`Delete ${r.name}`} decision={deleted ? { allowed: false, reason: 'already deleted' } : may('delete')} active={panel === 'delete'} onClick={() => setPanel(panel === 'delete' ? '' : 'delete')} />
        <ActionButtons cluster={r.cluster} resource={kind.resource} namespace={r.namespace} name={r.name} compact testid="detail-action" />
      </div>
      {panel === 'scale' && <ScaleForm t={target} current={replicas} onOutcome={(o) => setLast({ what: 'scale', o })} onClose={() => setPanel('')} />}
      {panel === 'delete' && <DeleteForm t={target} onOutcome={(o) => setLast({ what: 'delete', o })} onClose={() => setPanel('')} />}
      {last && <WriteResult what={last.what} outcome={last.o} onDismiss={() => setLast(null)} />}
      {tab === 'yaml' && editing ? (
        <EditYaml
          key={editing.n}
          initial={editing.yaml}
          target={target}
          stale={!!rv && rv !== editing.rv}
          onReload={startEdit}
          onApplied={(o) => {
            setLast({ what: 'apply', o })
            if (o.result === 'ok') setEditing(null)
          }}
          onCancel={() => setEditing(null)}
        />
      ) : tab === 'yaml' ? (
        obj ? (
          <pre className="yaml" data-testid="detail-yaml">
            {yaml}
          </pre>
        ) : (
          <div className={fetchError ? 'error pad' : 'muted pad'}>{fetchError || 'Loading…'}</div>
        )
      ) : (
        <table className="events" data-testid="detail-events">
          <tbody>
            {events.length === 0 && (
              <tr>
                <td className="muted">No events.</td>
              </tr>
            )}
            {events.map((e) => {
              const m = metaOf(e)
              const warn = e.type === 'Warning'
              return (
                <tr key={m.uid || m.name} className={warn ? 'tone-bad' : ''}>
                  <td>{String(e.type ?? '')}</td>
                  <td>{String(e.reason ?? '')}</td>
                  <td>{String(e.message ?? e.note ?? '')}</td>
                  <td className="muted">{age(String(e.lastTimestamp ?? e.eventTime ?? m.creationTimestamp))}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </div>
  )
}
