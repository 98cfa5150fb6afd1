import { memo, Suspense, useCallback, useEffect, useRef, useState } from 'react'
import * as Y from 'yjs'
import { useRoom } from './roomContext.ts'
import { bringToFront, krateTitle, kratesMap, readKrate, removeKrate, updateKrate, type Krate } from './schema.ts'
import { dragTo, resizeTo, TITLEBAR_H } from './layout.ts'
import { initials, textOn } from './colors.ts'
import type { StreamState } from './transport.ts'
import { KRATE_BODIES, type KrateBodyProps } from './krates/index.ts'

function useKrate(doc: Y.Doc, id: string): Krate | null {
  const [k, setK] = useState<Krate | null>(() => {
    const m = kratesMap(doc).get(id)
    return m instanceof Y.Map ? readKrate(id, m) : null
  })
  useEffect(() => {
    const m = kratesMap(doc).get(id)
    if (!(m instanceof Y.Map)) return
    const on = () => setK(readKrate(id, m))
    m.observeDeep(on)
    on()
    return () => m.unobserveDeep(on)
  }, [doc, id])
  return k
}

/** What a krate's body shows, as opposed to where the krate is. */
const contentKey = (k: Krate) => [k.kind, k.ref.cluster, k.ref.namespace, k.ref.kind, k.ref.name, k.ref.container, k.session, k.owner].join('\u0000')

/**
 * The body of a krate from the registry. It depends on what the krate shows, not where it is:
 * moving or resizing a krate re-renders its frame only (a resource table or log view is not
 * rebuilt on every drag step).
 */
const KrateBody = memo(
  function KrateBody({ krate, onState }: KrateBodyProps) {
    const { component: Body, loading } = KRATE_BODIES[krate.kind]
    return (
      <Suspense fallback={<div className="muted pad">{loading ?? 'Loading…'}</div>}>
        <Body krate={krate} onState={onState} />
      </Suspense>
    )
  },
  (a, b) => a.onState === b.onState && contentKey(a.krate) === contentKey(b.krate),
)

interface Props {
  id: string
  zoomRef: React.RefObject<number>
  /** Who focuses this krate: lines of "userId\tname\tcolor" (a string so memo can compare). */
  watchers: string
}

export const KrateView = memo(function KrateView({ id, zoomRef, watchers }: Props) {
  const { doc, focusKrate } = useRoom()
  const k = useKrate(doc, id)
  const [state, setState] = useState<{ s: StreamState; detail?: string }>({ s: 'connecting' })
  const drag = useRef<{ id: number; x: number; y: number; wx: number; wy: number; w: number; h: number; mode: 'move' | 'resize' } | null>(null)
  const onState = useCallback((s: StreamState, detail?: string) => setState((p) => (p.s === s && p.detail === detail ? p : { s, detail })), [])
  if (!k) return null

  const start = (e: React.PointerEvent, mode: 'move' | 'resize') => {
    if (e.button !== 0) return
    if ((e.target as HTMLElement).closest('button')) return
    e.preventDefault()
    e.stopPropagation()
    ;(e.currentTarget as HTMLElement).setPointerCapture(e.pointerId)
    drag.current = { id: e.pointerId, x: e.clientX, y: e.clientY, wx: k.wx, wy: k.wy, w: k.w, h: k.h, mode }
    bringToFront(doc, id)
    focusKrate(id)
  }
  const move = (e: React.PointerEvent) => {
    const d = drag.current
    if (!d || d.id !== e.pointerId) return
    const z = zoomRef.current ?? 1
    if (d.mode === 'move') updateKrate(doc, id, dragTo(d, e.clientX - d.x, e.clientY - d.y, z))
    else updateKrate(doc, id, resizeTo(d, e.clientX - d.x, e.clientY - d.y, z))
  }
  const end = (e: React.PointerEvent) => {
    if (drag.current?.id === e.pointerId) drag.current = null
  }

  const people = watchers ? watchers.split('\n').map((l) => l.split('\t') as [string, string, string]) : []
  return (
    <section
      className={`krate kind-${k.kind}${k.minimized ? ' minimized' : ''}`}
      data-testid="krate"
      data-krate-id={id}
      data-kind={k.kind}
      data-minimized={k.minimized ? 'true' : 'false'}
      style={{ transform: `translate(${k.wx}px, ${k.wy}px)`, width: k.w, height: k.minimized ? TITLEBAR_H : k.h, zIndex: k.z }}
      onPointerDownCapture={() => {
        focusKrate(id)
      }}
      onPointerDown={(e) => {
        if (e.button === 0 && !drag.current) bringToFront(doc, id)
      }}
    >
      <header className="krate-titlebar" data-testid="krate-titlebar" onPointerDown={(e) => start(e, 'move')} onPointerMove={move} onPointerUp={end} onPointerCancel={end}>
        <span className={`conn conn-${state.s}`} data-testid="connection-state" data-state={state.s} title={state.detail ? `${state.s}: ${state.detail}` : state.s} />
        <span className="krate-title" title={krateTitle(k)}>
          {krateTitle(k)}
        </span>
        <span className="watchers">
          {people.map(([uid, name, color]) => (
            <span key={uid} className="watching" data-testid="watching" data-user={uid} title={`${name} is looking at this`} style={{ background: color, color: textOn(color) }}>
              {initials(name)}
            </span>
          ))}
        </span>
        <button className="icon" data-testid="krate-minimize" title={k.minimized ? 'Restore' : 'Minimise'} onClick={() => updateKrate(doc, id, { minimized: !k.minimized })}>
          {k.minimized ? '▢' : '–'}
        </button>
        <button className="icon" data-testid="krate-close" title="Close for everyone" onClick={() => removeKrate(doc, id)}>
          ×
        </button>
      </header>
      <div className="krate-body" hidden={k.minimized}>
        <KrateBody krate={k} onState={onState} />
      </div>
      {!k.minimized && <div className="krate-resize" data-testid="krate-resize" onPointerDown={(e) => start(e, 'resize')} onPointerMove={move} onPointerUp={end} onPointerCancel={end} />}
    </section>
  )
})
