import { useEffect, useMemo, useRef, useState } from 'react'
import type { Awareness } from 'y-protocols/awareness'
import { useRoom } from './roomContext.ts'
import { kindInfo, metaOf, SEARCHABLE } from './resources.ts'
import { useWatch } from './useWatch.ts'
import { matchingKinds, search, type IndexEntry } from './spotlightModel.ts'
import { ActionButtons } from './Actions.tsx'

// Namespaced kinds in one watch: the server filters objects by what the user may see. A
// cluster-scoped kind the user may not list refuses the whole channel, so each has its own.
const NAMESPACED = SEARCHABLE.filter((k) => k.namespaced).map((k) => k.resource).join(',')
const CLUSTER_SCOPED = SEARCHABLE.filter((k) => !k.namespaced).map((k) => k.resource)
const noState = () => {}

/**
 * Ctrl+K. The index is a watch of every searchable kind in every namespace the user may see (the
 * server filters per user, so someone allowed only one namespace still finds its objects). It
 * starts on the first open and stays live while the room is open, so later opens are instant.
 */
export function Spotlight({ open, onClose, awareness }: { open: boolean; onClose: () => void; awareness: Awareness }) {
  const { cluster, openKrate } = useRoom()
  const [q, setQ] = useState('')
  const [sel, setSel] = useState(0)
  const input = useRef<HTMLInputElement>(null)
  const stores = [
    useWatch(cluster, NAMESPACED, '', noState),
    useWatch(cluster, CLUSTER_SCOPED[0]!, '', noState),
    useWatch(cluster, CLUSTER_SCOPED[1]!, '', noState),
    useWatch(cluster, CLUSTER_SCOPED[2]!, '', noState),
  ]
  const versions = stores.map((s) => s.version).join()
  const index = useMemo<IndexEntry[] | null>(() => {
    if (stores[0]!.synced.size === 0) return null
    const out: IndexEntry[] = []
    for (const store of stores)
      for (const v of store.objects.values()) {
        const m = metaOf(v.object)
        out.push({ resource: v.kind, kind: kindInfo(v.kind).kind, namespace: m.namespace, name: m.name })
      }
    return out
  }, [versions]) // eslint-disable-line react-hooks/exhaustive-deps -- the stores change in place; their versions say when

  useEffect(() => {
    if (!open) return
    input.current?.focus()
    input.current?.select()
    return () => awareness.setLocalStateField('spotlightQuery', null)
  }, [open, awareness])
  useEffect(() => {
    if (open) awareness.setLocalStateField('spotlightQuery', q || null)
  }, [q, open, awareness])

  const results = useMemo(() => (index ? search(index, q) : []), [index, q])
  if (!open) return null
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
            <li key={k.resource} className={i === sel ? 'selected' : ''} data-testid="spotlight-kind" data-kind={k.resource} data-resource={k.resource} data-k8s-kind={k.kind}>
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
              data-kind={r.resource}
              data-resource={r.resource}
              data-k8s-kind={r.kind}
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
