// The workflow drawn in the canvas's world transform, under the krates: node cards at their x, y
// (each memoised on its own Y.Map, so a remote drag re-renders one card and the edges), SVG
// edges with arrows, ports to drag a new edge from, and everyone's focus on the nodes.
import { memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import * as Y from 'yjs'
import { initials, textOn } from '../colors.ts'
import { focusByNode, type Peer } from '../presence.ts'
import { addEdge, edgeOffers, KEY_FIELDS, LOCAL, listEdges, moveNode, nodesMap, readNode, summary, workflowMap, type EdgeOffer, type WfEdge, type WfNode } from './model.ts'
import { useWorkflow } from './editor.tsx'
import { useLatest } from '../hooks.ts'
import './workflow.css'

export const NODE_W = 210
export const NODE_H = 78

/** A short badge per kind (fonts everywhere have these letters; no icon font to load). */
export const KIND_ICON: Record<string, { label: string; color: string }> = {
  Deployment: { label: 'DEP', color: '#4f8cff' },
  StatefulSet: { label: 'STS', color: '#7c6cff' },
  Job: { label: 'JOB', color: '#d29922' },
  CronJob: { label: 'CRON', color: '#e0823d' },
  Service: { label: 'SVC', color: '#3fb950' },
  Ingress: { label: 'ING', color: '#2bb3a3' },
  ConfigMap: { label: 'CM', color: '#a371f7' },
  SecretRef: { label: 'SEC', color: '#db61a2' },
  PersistentVolumeClaim: { label: 'PVC', color: '#8b949e' },
}
export const kindIcon = (k: string) => KIND_ICON[k] ?? { label: '?', color: '#6e7781' }

/** Node ids, re-read only when a node is added or removed. */
function useNodeIds(doc: Y.Doc): string[] {
  const ref = useRef<string[]>([])
  const subscribe = useCallback(
    (cb: () => void) => {
      const wf = workflowMap(doc)
      const on = () => {
        const ids = [...(nodesMap(doc)?.keys() ?? [])].sort()
        if (ids.join() !== ref.current.join()) {
          ref.current = ids
          cb()
        }
      }
      // Shallow on the root (nodes replaced) and on nodes (added, removed).
      let nodes: Y.Map<unknown> | null = null
      const rebind = () => {
        const n = nodesMap(doc)
        if (n !== nodes) {
          nodes?.unobserve(on)
          nodes = n
          nodes?.observe(on)
        }
        on()
      }
      wf.observe(rebind)
      rebind()
      return () => {
        wf.unobserve(rebind)
        nodes?.unobserve(on)
      }
    },
    [doc],
  )
  return useSyncExternalStore(subscribe, () => ref.current)
}

/**
 * One node's value for useSyncExternalStore, read again (once) after anything in its Y.Map
 * changed. Subscribing drops what was read, so a change between render and subscription shows.
 */
function nodeStore(doc: Y.Doc, id: string) {
  let read: { n: WfNode | null } | null = null
  return {
    subscribe: (changed: () => void) => {
      read = null
      const m = nodesMap(doc)?.get(id)
      if (!(m instanceof Y.Map)) return () => {}
      const on = () => {
        read = null
        changed()
      }
      m.observeDeep(on)
      return () => m.unobserveDeep(on)
    },
    get: (): WfNode | null => {
      if (!read) {
        const m = nodesMap(doc)?.get(id)
        read = { n: m === undefined ? null : readNode(id, m) }
      }
      return read.n
    },
  }
}

/** One node, re-read when its Y.Map (or anything nested in it) changes. */
export function useNode(doc: Y.Doc, id: string): WfNode | null {
  const store = useMemo(() => nodeStore(doc, id), [doc, id])
  return useSyncExternalStore(store.subscribe, store.get)
}

/** Edges and the positions and kinds of every node, re-read on any workflow change (one frame at most). */
function useGraph(doc: Y.Doc): { edges: WfEdge[]; pos: Map<string, { x: number; y: number; kind: string }> } {
  const [g, setG] = useState(() => ({ edges: listEdges(doc), pos: positions(doc) }))
  useEffect(() => {
    const wf = workflowMap(doc)
    let frame = 0
    const on = () => {
      if (frame) return
      frame = requestAnimationFrame(() => {
        frame = 0
        setG({ edges: listEdges(doc), pos: positions(doc) })
      })
    }
    wf.observeDeep(on)
    on()
    return () => {
      cancelAnimationFrame(frame)
      wf.unobserveDeep(on)
    }
  }, [doc])
  return g
}

function positions(doc: Y.Doc): Map<string, { x: number; y: number; kind: string }> {
  const out = new Map<string, { x: number; y: number; kind: string }>()
  nodesMap(doc)?.forEach((m, id) => {
    if (m instanceof Y.Map) {
      const x = m.get('x'), y = m.get('y'), k = m.get('kind')
      out.set(id, { x: typeof x === 'number' && Number.isFinite(x) ? x : 0, y: typeof y === 'number' && Number.isFinite(y) ? y : 0, kind: typeof k === 'string' ? k : '' })
    }
  })
  return out
}

/** Where the segment from a's centre to b's centre leaves a's card. */
export function border(a: { x: number; y: number }, b: { x: number; y: number }): { x: number; y: number } {
  const cx = a.x + NODE_W / 2, cy = a.y + NODE_H / 2
  const dx = b.x + NODE_W / 2 - cx, dy = b.y + NODE_H / 2 - cy
  if (dx === 0 && dy === 0) return { x: cx, y: cy }
  const t = Math.min(dx ? NODE_W / 2 / Math.abs(dx) : Infinity, dy ? NODE_H / 2 / Math.abs(dy) : Infinity)
  return { x: cx + dx * t, y: cy + dy * t }
}

interface Connecting {
  from: string
  kind: string
  x: number
  y: number
  pointer: number
}

export function WorkflowLayer({ zoomRef, peers }: { zoomRef: React.RefObject<number>; peers: Peer[] }) {
  const wf = useWorkflow()
  const { doc, selection, pick, select, statuses, validation, toWorld } = wf
  const ids = useNodeIds(doc)
  const { edges, pos } = useGraph(doc)
  const [connecting, setConnecting] = useState<Connecting | null>(null)
  const [choice, setChoice] = useState<{ offers: EdgeOffer[]; x: number; y: number } | null>(null)
  const [hint, setHint] = useState<{ text: string; x: number; y: number } | null>(null)
  useEffect(() => {
    if (!hint) return
    const t = setTimeout(() => setHint(null), 2500)
    return () => clearTimeout(t)
  }, [hint])

  const focus = useMemo(() => focusByNode(peers), [peers])
  const selRef = useLatest(selection)
  const getSelection = useCallback(() => selRef.current, [selRef])
  const edgesRef = useLatest(edges)
  const posRef = useLatest(pos)

  const startConnect = useCallback(
    (from: string, e: React.PointerEvent) => {
      const p = toWorld(e.clientX, e.clientY)
      if (!p) return
      setChoice(null)
      setConnecting({ from, kind: posRef.current.get(from)?.kind ?? '', x: p.x, y: p.y, pointer: e.pointerId })
    },
    [toWorld, posRef],
  )
  useEffect(() => {
    if (!connecting) return
    const move = (e: PointerEvent) => {
      if (e.pointerId !== connecting.pointer) return
      const p = toWorld(e.clientX, e.clientY)
      if (p) setConnecting((c) => (c ? { ...c, x: p.x, y: p.y } : c))
    }
    const up = (e: PointerEvent) => {
      if (e.pointerId !== connecting.pointer) return
      setConnecting(null)
      const target = document.elementFromPoint(e.clientX, e.clientY)?.closest<HTMLElement>('[data-testid="wf-node"]')
      const to = target?.dataset.nodeId
      const p = toWorld(e.clientX, e.clientY) ?? { x: connecting.x, y: connecting.y }
      if (!to || to === connecting.from) return
      const toKind = posRef.current.get(to)?.kind ?? ''
      const offers = edgeOffers({ id: connecting.from, kind: connecting.kind }, { id: to, kind: toKind }, edgesRef.current)
      if (offers.length === 1) addEdge(doc, offers[0]!.from, offers[0]!.to, offers[0]!.kind)
      else if (offers.length > 1) setChoice({ offers, x: p.x, y: p.y })
      else setHint({ text: edgeOffers({ id: connecting.from, kind: connecting.kind }, { id: to, kind: toKind }).length ? 'These nodes are connected already' : `A ${connecting.kind || 'node'} cannot relate to a ${toKind || 'node'}`, x: p.x, y: p.y })
    }
    addEventListener('pointermove', move)
    addEventListener('pointerup', up)
    addEventListener('pointercancel', up)
    return () => {
      removeEventListener('pointermove', move)
      removeEventListener('pointerup', up)
      removeEventListener('pointercancel', up)
    }
  }, [connecting, doc, toWorld, edgesRef, posRef])

  // While connecting, the nodes an edge could go to.
  const connFrom = connecting?.from, connKind = connecting?.kind
  const accepts = useMemo(() => {
    if (connFrom === undefined) return null
    const s = new Set<string>()
    for (const [id, p] of pos) if (edgeOffers({ id: connFrom, kind: connKind ?? '' }, { id, kind: p.kind }, edges).length) s.add(id)
    return s
  }, [connFrom, connKind, pos, edges])

  const from = connecting ? pos.get(connecting.from) : undefined
  return (
    <div className="wf-layer" data-testid="wf-layer">
      <svg className="wf-edges" width="1" height="1">
        <defs>
          <marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" fill="#8491a7" />
          </marker>
          <marker id="wf-arrow-sel" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" fill="#4f8cff" />
          </marker>
        </defs>
        {edges.map((e) => {
          const a = pos.get(e.from), b = pos.get(e.to)
          if (!a || !b) return null
          const p = border(a, b), q = border(b, a)
          const sel = selection.edge === e.id
          const bad = validation.byEdge.has(e.id)
          return (
            <g key={e.id} className={`wf-edge${sel ? ' selected' : ''}${bad ? ' invalid' : ''}`} data-testid="wf-edge" data-edge-id={e.id} data-from={e.from} data-to={e.to} data-kind={e.kind}
              onPointerDown={(ev) => {
                ev.stopPropagation()
                select({ nodes: new Set(), edge: e.id })
              }}
            >
              <title>{bad ? validation.byEdge.get(e.id)!.map((x) => x.message).join('\n') : `${e.kind}${e.path ? ' ' + e.path : ''}`}</title>
              <line className="wf-edge-hit" x1={p.x} y1={p.y} x2={q.x} y2={q.y} />
              <line className="wf-edge-line" x1={p.x} y1={p.y} x2={q.x} y2={q.y} markerEnd={sel ? 'url(#wf-arrow-sel)' : 'url(#wf-arrow)'} />
              <text x={(p.x + q.x) / 2} y={(p.y + q.y) / 2 - 6} textAnchor="middle">{e.kind}</text>
            </g>
          )
        })}
        {connecting && from && <line className="wf-edge-draft" x1={from.x + NODE_W} y1={from.y + NODE_H / 2} x2={connecting.x} y2={connecting.y} />}
      </svg>
      {selection.edge && (() => {
        const e = edges.find((x) => x.id === selection.edge)
        const a = e && pos.get(e.from), b = e && pos.get(e.to)
        if (!e || !a || !b) return null
        return (
          <button className="wf-edge-remove small danger" data-testid="wf-edge-remove" title="Remove this edge (Delete)"
            style={{ transform: `translate(${(a.x + b.x + NODE_W) / 2 - 10}px, ${(a.y + b.y + NODE_H) / 2 + 4}px)` }}
            onPointerDown={(ev) => ev.stopPropagation()}
            onClick={() => wf.deleteSelected()}
          >
            ×
          </button>
        )
      })()}
      {ids.map((id) => (
        <NodeCard
          key={id}
          id={id}
          doc={doc}
          getSelection={getSelection}
          zoomRef={zoomRef}
          selected={selection.nodes.has(id)}
          status={statuses.get(id) ?? 'pending'}
          errors={errorText(validation.byNode.get(id))}
          focus={focusKey(focus.get(id))}
          accept={accepts ? (accepts.has(id) ? 'yes' : id === connecting?.from ? 'self' : 'no') : ''}
          pick={pick}
          onConnect={startConnect}
        />
      ))}
      {choice && (
        <div className="wf-choice" style={{ transform: `translate(${choice.x}px, ${choice.y}px)` }} onPointerDown={(e) => e.stopPropagation()} data-testid="wf-edge-choice">
          {choice.offers.map((o) => (
            <button key={o.kind} data-kind={o.kind} onClick={() => { addEdge(doc, o.from, o.to, o.kind); setChoice(null) }}>{o.kind}</button>
          ))}
          <button className="ghost" onClick={() => setChoice(null)}>cancel</button>
        </div>
      )}
      {hint && <div className="wf-hint" style={{ transform: `translate(${hint.x}px, ${hint.y}px)` }}>{hint.text}</div>}
    </div>
  )
}

const errorText = (l: { field: string; message: string }[] | undefined): string => (l ? l.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('\n') : '')
const focusKey = (l: Peer[] | undefined): string => (l ? l.map((p) => `${p.userId}\t${p.name}\t${p.color}\t${p.wfFocus?.field ?? ''}`).join('\n') : '')

interface CardProps {
  id: string
  doc: Y.Doc
  getSelection: () => { nodes: ReadonlySet<string> }
  zoomRef: React.RefObject<number>
  selected: boolean
  status: string
  /** The node's validation errors as text ("" when valid); strings so memo compares cheaply. */
  errors: string
  focus: string
  accept: '' | 'yes' | 'no' | 'self'
  pick: (id: string, add: boolean) => void
  onConnect: (id: string, e: React.PointerEvent) => void
}

const NodeCard = memo(function NodeCard({ id, doc, getSelection, zoomRef, selected, status, errors, focus, accept, pick, onConnect }: CardProps) {
  const n = useNode(doc, id)
  const drag = useRef<{ pointer: number; x: number; y: number; starts: Map<string, { x: number; y: number }> } | null>(null)
  if (!n) return null
  const icon = kindIcon(n.kind)
  const people = focus ? focus.split('\n').map((l) => l.split('\t') as [string, string, string, string]) : []

  const down = (e: React.PointerEvent) => {
    if (e.button !== 0 || (e.target as HTMLElement).closest('[data-testid="wf-node-port"], button')) return
    e.stopPropagation()
    e.preventDefault()
    ;(e.currentTarget as HTMLElement).setPointerCapture(e.pointerId)
    const add = e.shiftKey || e.metaKey || e.ctrlKey
    if (!(selected && !add)) pick(id, add)
    // Dragging a selected node moves the whole selection.
    const group = selected && !add ? [...getSelection().nodes] : [id]
    const starts = new Map<string, { x: number; y: number }>()
    for (const gid of group) {
      const m = nodesMap(doc)?.get(gid)
      if (m !== undefined) {
        const r = readNode(gid, m)
        starts.set(gid, { x: r.x, y: r.y })
      }
    }
    drag.current = { pointer: e.pointerId, x: e.clientX, y: e.clientY, starts }
  }
  const move = (e: React.PointerEvent) => {
    const d = drag.current
    if (!d || d.pointer !== e.pointerId) return
    const z = zoomRef.current ?? 1
    const dx = (e.clientX - d.x) / z, dy = (e.clientY - d.y) / z
    doc.transact(() => {
      for (const [gid, s] of d.starts) moveNode(doc, gid, Math.round(s.x + dx), Math.round(s.y + dy))
    }, LOCAL)
  }
  const up = (e: React.PointerEvent) => {
    if (drag.current?.pointer === e.pointerId) drag.current = null
  }
  const keys = KEY_FIELDS[n.kind] ?? []
  const nErr = errors ? errors.split('\n').length : 0
  return (
    <div
      className={`wf-node status-${status}${selected ? ' selected' : ''}${nErr ? ' invalid' : ''}${accept ? ' accept-' + accept : ''}`}
      data-testid="wf-node"
      data-node-id={id}
      data-kind={n.kind}
      data-status={status}
      data-selected={selected ? 'true' : 'false'}
      style={{ transform: `translate(${n.x}px, ${n.y}px)`, width: NODE_W, height: NODE_H, borderColor: people[0]?.[2] }}
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={up}
      onPointerCancel={up}
    >
      <div className="wf-node-head">
        <span className="wf-kind" style={{ background: icon.color, color: textOn(icon.color) }} title={n.kind || 'no kind'}>
          {icon.label}
        </span>
        <span className="wf-name grow" title={n.name}>{n.name || <em className="muted">unnamed</em>}</span>
        {nErr > 0 && (
          <span className="wf-badge" data-testid="wf-error" data-node-id={id} title={errors}>
            {nErr}
          </span>
        )}
        <span className="wf-status" data-testid="wf-status" title={status} />
      </div>
      <div className="wf-node-fields">
        {keys.map((k) => {
          const s = summary(n.fields[k])
          return s ? (
            <div key={k} className="wf-kv">
              <span className="muted">{k}</span> <span className="grow">{s}</span>
            </div>
          ) : null
        })}
      </div>
      {people.length > 0 && (
        <div className="wf-focus">
          {people.map(([uid, name, color, field]) => (
            <span key={uid} data-testid="wf-focus" data-user={uid} data-field={field} title={`${name} is editing ${field || 'this node'}`} style={{ background: color, color: textOn(color) }}>
              {initials(name)}
            </span>
          ))}
        </div>
      )}
      <span className="wf-port in" data-testid="wf-node-port" data-side="in" title="Drag to another node to connect" onPointerDown={(e) => { if (e.button === 0) { e.stopPropagation(); e.preventDefault(); onConnect(id, e) } }} />
      <span className="wf-port out" data-testid="wf-node-port" data-side="out" title="Drag to another node to connect" onPointerDown={(e) => { if (e.button === 0) { e.stopPropagation(); e.preventDefault(); onConnect(id, e) } }} />
    </div>
  )
})
