import { useEffect, useMemo, useRef, useState } from 'react'
import type { Awareness } from 'y-protocols/awareness'
import { api, itemsOf } from './api.ts'
import { useRoom } from './roomContext.ts'
import { metaOf, SEARCHABLE } from './resources.ts'
import { matchingKinds, search, type IndexEntry } from './spotlightModel.ts'
import { ActionButtons } from './Actions.tsx'

// One index per cluster, refreshed when older than this.
const INDEX_TTL = 15_000
const indexCache = new Map<string, { at: number; entries: IndexEntry[] }>()

async function loadIndex(cluster: string): Promise<IndexEntry[]> {
  const cached = indexCache.get(cluster)
  if (cached && Date.now() - cached.at < INDEX_TTL) return cached.entries
  const lists = await Promise.all(
    SEARCHABLE.map((k) =>
      api.resources(k.resource, cluster, '').then(
        (b) => itemsOf(b).map((o) => ({ resource: k.resource, kind: k.kind, ...pick(metaOf(o)) })),
        () => [] as IndexEntry[], // a kind the user may not list simply has no results
      ),
    ),
  )
  const entries = lists.flat()
  indexCache.set(cluster, { at: Date.now(), entries })
  return entries
}

const pick = (m: { namespace: string; name: string }) => ({ namespace: m.namespace, name: m.name })

export function Spotlight({ onClose, awareness }: { onClose: () => void; awareness: Awareness }) {
  const { cluster, openKrate } = useRoom()
  const [q, setQ] = useState('')
  const [index, setIndex] = useState<IndexEntry[] | null>(null)
  const [sel, setSel] = useState(0)
  const input = useRef<HTMLInputElement>(null)

  useEffect(() => {
    input.current?.focus()
    let live = true
    void loadIndex(cluster).then((e) => live && setIndex(e))
    return () => {
      live = false
      awareness.setLocalStateField('spotlightQuery', null)
    }
  }, [cluster, awareness])
  useEffect(() => {
    awareness.setLocalStateField('spotlightQuery', q || null)
  }, [q, awareness])

  const results = useMemo(() => (index ? search(index, q) : []), [index, q])
  const kinds = matchingKinds(q)
  const total = kinds.length + results.length

  const openSelected = () => {
    if (sel < kinds.length) {
      openKrate('resources', { kind: kinds[sel]!.resource, namespace: '' })
      onClose()
    } else {
      const r = results[sel - kinds.length]
      if (r) {
        openKrate('detail', { kind: r.resource, namespace: r.namespace, name: r.name })
        onClose()
      }
    }
  }

  return (
    <div className="spotlight-backdrop" onPointerDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="spotlight" role="dialog" aria-label="Find a resource">
        <input
          ref={input}
          data-testid="spotlight-input"
          placeholder="Find a pod, deployment, service… or type a kind (pods) to list them"
          value={q}
          onChange={(e) => {
            setQ(e.target.value)
            setSel(0)
          }}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') (e.preventDefault(), setSel((s) => Math.min(total - 1, s + 1)))
            else if (e.key === 'ArrowUp') (e.preventDefault(), setSel((s) => Math.max(0, s - 1)))
            else if (e.key === 'Enter') (e.preventDefault(), openSelected())
            else if (e.key === 'Escape') onClose()
          }}
        />
        <ul className="spotlight-results">
          {index === null && <li className="muted">Indexing the cluster…</li>}
          {kinds.map((k, i) => (
            <li key={k.resource} className={i === sel ? 'selected' : ''} data-testid="spotlight-kind" data-kind={k.kind} data-resource={k.resource}>
              <span className="kind-tag">{k.kind}</span>
              <span className="grow">all {k.resource}</span>
              <button data-testid="spotlight-action" data-action="list" onClick={() => (openKrate('resources', { kind: k.resource, namespace: '' }), onClose())}>
                list
              </button>
            </li>
          ))}
          {results.map((r, i) => (
            <li
              key={`${r.resource}/${r.namespace}/${r.name}`}
              className={i + kinds.length === sel ? 'selected' : ''}
              data-testid="spotlight-result"
              data-kind={r.kind}
              data-resource={r.resource}
              data-name={r.name}
              data-namespace={r.namespace}
            >
              <span className="kind-tag">{r.kind}</span>
              <span className="grow">
                {r.namespace && <span className="muted">{r.namespace}/</span>}
                {r.name}
              </span>
              <ActionButtons cluster={cluster} resource={r.resource} namespace={r.namespace} name={r.name} testid="spotlight-action" onDone={onClose} compact />
            </li>
          ))}
          {index !== null && q && total === 0 && <li className="muted">Nothing matches “{q}”.</li>}
        </ul>
        <div className="spotlight-hint muted">↑↓ to choose · Enter opens details · Esc closes</div>
      </div>
    </div>
  )
}
