import { useState } from 'react'
import type { KrateBodyProps } from './body.ts'
import { useRoom } from '../roomContext.ts'
import { useWatch } from '../useWatch.ts'
import { age, kindInfo, metaOf, statusOf } from '../resources.ts'
import { ActionButtons } from '../Actions.tsx'
import { matches } from '../logLevel.ts'
import { useNow } from '../hooks.ts'

const MAX_ROWS = 500

export function ResourceListKrate({ krate, onState }: KrateBodyProps) {
  const { openKrate } = useRoom()
  const kind = kindInfo(krate.ref.kind || 'pods')
  const store = useWatch(krate.ref.cluster, kind.resource, krate.ref.namespace, onState)
  const [filter, setFilter] = useState('')
  const all = store.list(kind.resource)
  const rows = all.filter((o) => matches(metaOf(o).namespace + '/' + metaOf(o).name, filter))
  // Ages move on between watch events too.
  const now = useNow(5000)
  return (
    <div className="resource-list">
      <div className="toolbar">
        <input data-testid="resource-filter" placeholder={`filter ${kind.resource}`} value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted" data-testid="resource-count">
          {store.synced.has(kind.resource) ? `${rows.length}/${all.length}` : 'loading…'}
        </span>
      </div>
      {store.error && <div className="error pad">{store.error.code}: {store.error.message}</div>}
      <table>
        <thead>
          <tr>
            {kind.namespaced && <th>namespace</th>}
            <th>name</th>
            <th>status</th>
            <th>age</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_ROWS).map((o) => {
            const m = metaOf(o)
            const st = statusOf(kind.resource, o)
            return (
              <tr key={m.uid || `${m.namespace}/${m.name}`} data-testid="resource-row" data-name={m.name} data-namespace={m.namespace}>
                {kind.namespaced && <td className="muted">{m.namespace}</td>}
                <td>
                  <button className="link" onClick={() => openKrate('detail', { kind: kind.resource, namespace: m.namespace, name: m.name })}>
                    {m.name}
                  </button>
                </td>
                <td>
                  <span className={`status tone-${st.tone}`} data-testid="resource-status" data-tone={st.tone}>
                    {st.text}
                  </span>
                </td>
                <td className="muted">{age(m.creationTimestamp, now)}</td>
                <td className="row-actions">
                  <ActionButtons cluster={krate.ref.cluster} resource={kind.resource} namespace={m.namespace} name={m.name} compact testid="resource-action" />
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {rows.length > MAX_ROWS && <div className="muted pad">{rows.length - MAX_ROWS} more: narrow the filter</div>}
    </div>
  )
}
