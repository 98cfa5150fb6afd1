// The room's canvas: pan and zoom (one CSS transform on the world layer), the krates and the
// workflow in world coordinates, everyone's cursors; it publishes this person's viewport and
// follows a leader's.
import { useCallback, useEffect, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import type * as Y from 'yjs'
import type { SyncProvider } from '../syncProvider.ts'
import { textOn } from '../colors.ts'
import { cameraFollowing, pan, screenToWorld, viewportOf, wheelFactor, zoomAt, type Camera } from '../layout.ts'
import { kratesMap } from '../schema.ts'
import { publishCursor, watchersByKrate, type Peer } from '../presence.ts'
import { useRoom } from '../roomContext.ts'
import { KrateView } from '../Krate.tsx'
import { throttle } from '../hooks.ts'
import { useWorkflowMaybe } from '../workflow/editor.tsx'
import { WorkflowLayer } from '../workflow/WorkflowLayer.tsx'

function useKrateIds(doc: Y.Doc): string[] {
  const ref = useRef<string[]>([])
  const subscribe = useCallback(
    (cb: () => void) => {
      const m = kratesMap(doc)
      const on = () => {
        const ids = [...m.keys()].sort()
        if (ids.join() !== ref.current.join()) {
          ref.current = ids
          cb()
        }
      }
      m.observe(on)
      on()
      return () => m.unobserve(on)
    },
    [doc],
  )
  return useSyncExternalStore(subscribe, () => ref.current)
}

export interface CanvasHandle {
  viewport(): ReturnType<typeof viewportOf>
  /** World coordinates of a point on the screen (client coordinates). */
  toWorld(clientX: number, clientY: number): { x: number; y: number }
}

interface CanvasProps {
  provider: SyncProvider
  peers: Peer[]
  leader: Peer | null
  onUserMove: () => void
  ref: React.Ref<CanvasHandle>
}

const CAMERA_KEY = (room: string) => `yard.camera.${room}`
const sizeOf = (el: HTMLElement | null) => ({ w: el?.clientWidth ?? 1200, h: el?.clientHeight ?? 800 })

export function Canvas({ provider, peers, leader, onUserMove, ref }: CanvasProps) {
  const { doc, room, focusKrate } = useRoom()
  const workflow = useWorkflowMaybe()
  const ids = useKrateIds(doc)
  const el = useRef<HTMLDivElement>(null)
  const [camera, setCamera] = useState<Camera>(() => {
    try {
      const c = JSON.parse(sessionStorage.getItem(CAMERA_KEY(room)) ?? '') as Camera
      if (Number.isFinite(c.x) && Number.isFinite(c.y) && c.zoom > 0) return c
    } catch {
      /* first visit */
    }
    return { x: 0, y: 0, zoom: 1 }
  })
  // The camera as last drawn, for pointer handlers and the handle (they run outside render).
  const camRef = useRef(camera)
  const zoomRef = useRef(camera.zoom)
  useLayoutEffect(() => {
    camRef.current = camera
    zoomRef.current = camera.zoom
  }, [camera])

  useImperativeHandle(
    ref,
    () => ({
      viewport: () => {
        const s = sizeOf(el.current)
        return viewportOf(camRef.current, s.w, s.h)
      },
      toWorld: (x, y) => {
        const r = el.current?.getBoundingClientRect()
        return screenToWorld(camRef.current, x - (r?.left ?? 0), y - (r?.top ?? 0))
      },
    }),
    [],
  )

  // The canvas's size on screen, for the viewport we publish and the one we follow.
  const [box, setBox] = useState({ w: 1200, h: 800 })
  useEffect(() => {
    const node = el.current!
    const ro = new ResizeObserver(() => setBox((b) => (b.w === node.clientWidth && b.h === node.clientHeight ? b : { w: node.clientWidth, h: node.clientHeight })))
    ro.observe(node)
    return () => ro.disconnect()
  }, [])

  // Publish our viewport (for followers) and remember it for reloads.
  const publish = useMemo(
    () =>
      throttle((c: Camera, size: { w: number; h: number }) => {
        provider.awareness.setLocalStateField('viewport', viewportOf(c, size.w, size.h))
        sessionStorage.setItem(CAMERA_KEY(room), JSON.stringify(c))
      }, 100),
    [provider, room],
  )
  useEffect(() => publish(camera, box), [camera, box, publish])
  useEffect(() => () => publish.cancel(), [publish])

  // Follow the leader's viewport: show the centre of their view at their zoom in ours, again
  // whenever their viewport or the size of our canvas changes.
  const lv = leader?.viewport
  const followKey = lv ? [lv.x, lv.y, lv.w, lv.h, lv.zoom, box.w, box.h].join() : ''
  const [followed, setFollowed] = useState('')
  if (followKey !== followed) {
    setFollowed(followKey)
    if (lv) setCamera(cameraFollowing(lv, box.w, box.h))
  }

  const sendCursor = useMemo(() => throttle((p: { x: number; y: number } | null) => publishCursor(provider.awareness, p), 40), [provider])
  useEffect(() => () => sendCursor.cancel(), [sendCursor])

  const panning = useRef<{ x: number; y: number; id: number } | null>(null)
  const onPointerDown = (e: React.PointerEvent) => {
    const t = e.target as HTMLElement
    if (!(t === el.current || t.classList.contains('world')) && e.button !== 1) return
    panning.current = { x: e.clientX, y: e.clientY, id: e.pointerId }
    el.current?.setPointerCapture(e.pointerId)
    focusKrate(null)
    workflow?.clear()
  }
  const onPointerMove = (e: React.PointerEvent) => {
    const r = el.current!.getBoundingClientRect()
    const p = panning.current
    if (p && p.id === e.pointerId) {
      const dx = e.clientX - p.x, dy = e.clientY - p.y
      panning.current = { ...p, x: e.clientX, y: e.clientY }
      onUserMove()
      setCamera((c) => pan(c, dx, dy))
    }
    const w = screenToWorld(camRef.current, e.clientX - r.left, e.clientY - r.top)
    sendCursor({ x: Math.round(w.x), y: Math.round(w.y) })
  }
  const onPointerUp = (e: React.PointerEvent) => {
    if (panning.current?.id === e.pointerId) panning.current = null
  }
  useEffect(() => {
    const node = el.current!
    const onWheel = (e: WheelEvent) => {
      // Wheels over a scrolling krate body scroll it; elsewhere they zoom the canvas.
      if ((e.target as HTMLElement).closest('.krate-body') && !e.ctrlKey) return
      e.preventDefault()
      const r = node.getBoundingClientRect()
      onUserMove()
      setCamera((c) => zoomAt(c, e.clientX - r.left, e.clientY - r.top, wheelFactor(e.deltaY)))
    }
    node.addEventListener('wheel', onWheel, { passive: false })
    return () => node.removeEventListener('wheel', onWheel)
  }, [onUserMove])

  const watchers = useMemo(() => watchersByKrate(peers), [peers])

  return (
    <div
      className="canvas"
      data-testid="canvas"
      data-zoom={camera.zoom.toFixed(3)}
      data-camera={`${Math.round(camera.x)},${Math.round(camera.y)}`}
      ref={el}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerLeave={() => sendCursor(null)}
      style={{ backgroundPosition: `${-camera.x * camera.zoom}px ${-camera.y * camera.zoom}px`, backgroundSize: `${32 * camera.zoom}px ${32 * camera.zoom}px` }}
    >
      <div className="world" style={{ transform: `scale(${camera.zoom}) translate(${-camera.x}px, ${-camera.y}px)` }}>
        {workflow && <WorkflowLayer zoomRef={zoomRef} peers={peers} />}
        {ids.map((id) => (
          <KrateView key={id} id={id} zoomRef={zoomRef} watchers={watcherKey(watchers.get(id))} />
        ))}
        <Cursors peers={peers} zoom={camera.zoom} />
      </div>
      {ids.length === 0 && !workflow?.nodeCount && (
        <div className="canvas-empty">
          <span>
            Press <kbd>Ctrl K</kbd> to find a resource and drop it here.
          </span>
        </div>
      )}
    </div>
  )
}

/** Watchers as a stable string, so krates re-render only when who watches them changes. */
function watcherKey(list: Peer[] | undefined): string {
  return list ? list.map((p) => `${p.userId}\t${p.name}\t${p.color}`).join('\n') : ''
}

function Cursors({ peers, zoom }: { peers: Peer[]; zoom: number }) {
  return (
    <>
      {peers
        .filter((p) => p.cursor)
        .map((p) => (
          <div
            key={p.clientId}
            className="remote-cursor"
            data-testid="remote-cursor"
            data-user={p.userId}
            style={{ transform: `translate(${p.cursor!.x}px, ${p.cursor!.y}px) scale(${1 / zoom})` }}
          >
            <svg width="16" height="20" viewBox="0 0 16 20">
              <path d="M0 0 L0 16 L4.5 12 L8 19 L10.5 18 L7 11 L13 11 Z" fill={p.color} stroke="#000" strokeWidth="1" />
            </svg>
            <span className="cursor-name" style={{ background: p.color, color: textOn(p.color) }}>
              {p.name}
            </span>
          </div>
        ))}
    </>
  )
}
