import { useEffect, useMemo, useState } from 'react'
import type { KrateBodyProps } from '../Krate.tsx'
import { useWatch } from '../useWatch.ts'
import { api } from '../api.ts'
import { age, kindInfo, metaOf, statusOf, toYAML } from '../resources.ts'
import { ActionButtons } from '../Actions.tsx'

type Obj = Record<string, unknown>

/** Object detail: live YAML and the object's events, both from one watch channel. */
export function DetailKrate({ krate, onState }: KrateBodyProps) {
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
  const obj = live ? { apiVersion: fetched?.apiVersion, kind: kind.kind, ...live } : fetched
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
        <ActionButtons cluster={r.cluster} resource={kind.resource} namespace={r.namespace} name={r.name} compact testid="detail-action" />
      </div>
      {tab === 'yaml' ? (
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
