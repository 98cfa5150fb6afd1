import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import * as Y from 'yjs'
import { api, itemsOf, type User } from './api.ts'
import { Header } from './Home.tsx'
import { SyncProvider } from './syncProvider.ts'
import { colorFor, initials, textOn } from './colors.ts'
import { cameraFollowing, pan, placeNew, screenToWorld, viewportOf, wheelFactor, zoomAt, type Camera } from './layout.ts'
import { addKrate, DEFAULT_SIZE, kratesMap, listKrates, type KrateKind, type KrateRef } from './schema.ts'
import { peersOf, uniqueUsers, watchersByKrate, type Peer, type PresenceState } from './presence.ts'
import { RoomContext, useRoom, type RoomContextValue } from './roomContext.ts'
import { KrateView } from './Krate.tsx'
import { Spotlight } from './Spotlight.tsx'
import { ActivityFeed } from './ActivityFeed.tsx'
import { throttle } from './hooks.ts'
import { WorkflowProvider, useWorkflowMaybe } from './workflow/editor.tsx'
import { WorkflowLayer } from './workflow/WorkflowLayer.tsx'
import { WorkflowPanels } from './workflow/Panels.tsx'

const FOLLOW_OPT_OUT_KEY = 'yard.noFollow'

function usePeers(provider: SyncProvider): Peer[] {
  const ref = useRef<Peer[]>([])
  const subscribe = useCallback(
    (cb: () => void) => {
      // Ten people moving their pointers are hundreds of changes a second: render once a frame.
      let frame = 0
      const on = () => {
        if (frame) return
        frame = requestAnimationFrame(() => {
          frame = 0
          ref.current = peersOf(provider.awareness.getStates(), provider.doc.clientID)
          cb()
        })
      }
      provider.awareness.on('change', on)
      ref.current = peersOf(provider.awareness.getStates(), provider.doc.clientID)
      return () => {
        cancelAnimationFrame(frame)
        provider.awareness.off('change', on)
      }
    },
    [provider],
  )
  return useSyncExternalStore(subscribe, () => ref.current)
}

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

interface RoomProps {
  room: string
  user: User
  onSignOut: () => void
}

/** Owns the room's document and its connection for as long as the page shows the room. */
export default function RoomPage(props: RoomProps) {
  const [conn, setConn] = useState<{ doc: Y.Doc; provider: SyncProvider } | null>(null)
  useEffect(() => {
    const doc = new Y.Doc()
    const provider = new SyncProvider(props.room, doc)
    setConn({ doc, provider })
    return () => {
      provider.destroy()
      doc.destroy()
    }
  }, [props.room])
  if (!conn) return null
  return <Room {...props} doc={conn.doc} provider={conn.provider} />
}

function Room({ room, user, onSignOut, doc, provider }: RoomProps & { doc: Y.Doc; provider: SyncProvider }) {
  useEffect(() => {
    const leave = () => provider.destroy()
    addEventListener('pagehide', leave)
    return () => removeEventListener('pagehide', leave)
  }, [provider])

  const syncState = useSyncExternalStore((cb) => provider.onState(cb), () => provider.state)
  const synced = useSyncExternalStore((cb) => provider.onSynced(cb), () => provider.synced)
  const [cluster, setCluster] = useState('')
  const [clusters, setClusters] = useState<string[]>([])
  useEffect(() => {
    api.clusters().then(
      (b) => {
        const names = itemsOf(b).map((c) => String(c.name ?? c.id ?? '')).filter(Boolean)
        setClusters(names)
        const def = itemsOf(b).find((c) => c.default === true)
        setCluster(String(def?.name ?? names[0] ?? ''))
      },
      () => {},
    )
  }, [])

  const peers = usePeers(provider)
  const users = useMemo(() => uniqueUsers(peers), [peers])
  const [noFollow, setNoFollow] = useState(() => localStorage.getItem(FOLLOW_OPT_OUT_KEY) === '1')
  const [following, setFollowing] = useState<string | null>(null)
  const [spotlight, setSpotlight] = useState(false)
  // The spotlight's index stays live once it was first opened.
  const [spotlightUsed, setSpotlightUsed] = useState(false)
  useEffect(() => {
    if (spotlight) setSpotlightUsed(true)
  }, [spotlight])

  const canvas = useRef<CanvasHandle | null>(null)
  const me: PresenceState = useMemo(
    () => ({ userId: user.id, name: user.display || user.name, color: colorFor(user.id), cursor: null, activeKrateId: null, spotlightQuery: null, viewport: null, timestamp: Date.now(), followable: true }),
    [user],
  )
  useEffect(() => {
    provider.awareness.setLocalState({ ...me, followable: !noFollow })
  }, [provider, me]) // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    localStorage.setItem(FOLLOW_OPT_OUT_KEY, noFollow ? '1' : '0')
    provider.awareness.setLocalStateField('followable', !noFollow)
  }, [provider, noFollow])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Inside a terminal Ctrl+K belongs to the shell (kill to end of line).
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k' && !(e.target as HTMLElement | null)?.closest?.('.xterm')) {
        e.preventDefault()
        setSpotlight((s) => !s)
      } else if (e.key === 'Escape') setSpotlight(false)
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [])

  const focusKrate = useCallback(
    (id: string | null) => {
      if (provider.awareness.getLocalState()?.activeKrateId !== id) {
        provider.awareness.setLocalStateField('activeKrateId', id)
        provider.awareness.setLocalStateField('timestamp', Date.now())
      }
    },
    [provider],
  )
  const openKrate = useCallback(
    (kind: KrateKind, ref: Partial<KrateRef>) => {
      const v = canvas.current?.viewport() ?? { x: 0, y: 0, w: 1200, h: 800, zoom: 1 }
      const pos = placeNew(v, DEFAULT_SIZE[kind], listKrates(doc))
      const id = addKrate(doc, { kind, ref: { cluster, ...ref }, ...pos, owner: user.id })
      focusKrate(id)
      return id
    },
    [doc, cluster, user.id, focusKrate],
  )
  const ctx: RoomContextValue = useMemo(() => ({ room, doc, user, cluster, openKrate, focusKrate }), [room, doc, user, cluster, openKrate, focusKrate])

  // Stop following someone who left or opted out.
  const leader = following ? users.find((u) => u.userId === following) : undefined
  useEffect(() => {
    if (following && (!leader || leader.followable === false)) setFollowing(null)
  }, [following, leader])

  const toWorld = useCallback((x: number, y: number) => canvas.current?.toWorld(x, y) ?? null, [])
  const viewCentre = useCallback(() => {
    const v = canvas.current?.viewport() ?? { x: 0, y: 0, w: 1200, h: 800, zoom: 1 }
    return { x: v.x + v.w / 2 - 100, y: v.y + v.h / 2 - 40 }
  }, [])

  return (
    <RoomContext.Provider value={ctx}>
      <WorkflowProvider room={room} doc={doc} provider={provider} user={user} cluster={cluster} toWorld={toWorld} viewCentre={viewCentre}>
      <div className="page room-page">
        <Header user={user} onSignOut={onSignOut}>
          <span className="room-name" data-testid="room-name">
            {room}
          </span>
          <span className="sync-state" data-testid="sync-state" data-state={syncState} data-synced={synced ? 'true' : 'false'} title={`room sync: ${syncState}`}>
            {synced ? syncState : syncState === 'open' ? 'syncing' : syncState}
          </span>
          {clusters.length > 1 && (
            <select data-testid="cluster-select" value={cluster} onChange={(e) => setCluster(e.target.value)}>
              {clusters.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
          <button data-testid="open-spotlight" onClick={() => setSpotlight(true)} title="Find a resource (Ctrl+K)">
            Find… <kbd>Ctrl K</kbd>
          </button>
          <div className="avatars">
            {users.map((u) => {
              const disabled = u.followable === false
              const isLeader = following === u.userId
              return (
                <button
                  key={u.userId}
                  className={`avatar${isLeader ? ' following' : ''}`}
                  data-testid="avatar"
                  data-user={u.userId}
                  data-following={isLeader ? 'true' : 'false'}
                  style={{ background: u.color, color: textOn(u.color) }}
                  disabled={disabled}
                  title={disabled ? `${u.name} opted out of being followed` : isLeader ? `Stop following ${u.name}` : `Follow ${u.name}'s view`}
                  onClick={() => setFollowing(isLeader ? null : u.userId)}
                >
                  {initials(u.name)}
                </button>
              )
            })}
          </div>
          <label className="optout" title="When checked, others cannot follow your viewport">
            <input type="checkbox" data-testid="follow-optout" checked={noFollow} onChange={(e) => setNoFollow(e.target.checked)} />
            no follow
          </label>
        </Header>
        {provider.permissionDenied && <div className="banner">This room is read-only for you: {provider.permissionDenied}</div>}
        <Canvas ref={canvas} provider={provider} peers={peers} leader={leader ?? null} onUserMove={() => setFollowing(null)} />
        <ActivityFeed doc={doc} />
        {following && leader && (
          <div className="follow-banner" data-testid="follow-banner" style={{ borderColor: leader.color }}>
            Following {leader.name} <button onClick={() => setFollowing(null)}>stop</button>
          </div>
        )}
        <WorkflowPanels peers={peers} />
        {(spotlight || spotlightUsed) && <Spotlight open={spotlight} onClose={() => setSpotlight(false)} awareness={provider.awareness} />}
      </div>
      </WorkflowProvider>
    </RoomContext.Provider>
  )
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

function Canvas({ provider, peers, leader, onUserMove, ref }: CanvasProps) {
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
  const camRef = useRef(camera)
  camRef.current = camera
  const size = () => ({ w: el.current?.clientWidth ?? 1200, h: el.current?.clientHeight ?? 800 })

  const handle: CanvasHandle = {
    viewport: () => viewportOf(camRef.current, size().w, size().h),
    toWorld: (x, y) => {
      const r = el.current?.getBoundingClientRect()
      return screenToWorld(camRef.current, x - (r?.left ?? 0), y - (r?.top ?? 0))
    },
  }
  if (typeof ref === 'function') ref(handle)
  else if (ref) (ref as React.RefObject<CanvasHandle | null>).current = handle

  // Publish our viewport (for followers) and remember it for reloads.
  const publish = useMemo(
    () =>
      throttle((c: Camera) => {
        const s = size()
        provider.awareness.setLocalStateField('viewport', viewportOf(c, s.w, s.h))
        sessionStorage.setItem(CAMERA_KEY(room), JSON.stringify(c))
      }, 100),
    [provider, room],
  )
  useEffect(() => publish(camera), [camera, publish])
  useEffect(() => () => publish.cancel(), [publish])

  // Follow the leader's viewport.
  const lv = leader?.viewport
  useEffect(() => {
    if (!lv) return
    const s = size()
    setCamera(cameraFollowing(lv, s.w, s.h))
  }, [lv?.x, lv?.y, lv?.w, lv?.h, lv?.zoom]) // eslint-disable-line react-hooks/exhaustive-deps

  const sendCursor = useMemo(
    () =>
      throttle((p: { x: number; y: number } | null) => {
        const st = provider.awareness.getLocalState()
        if (!st) return
        provider.awareness.setLocalState({ ...st, cursor: p, timestamp: Date.now() })
      }, 40),
    [provider],
  )
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
      const next = pan(camRef.current, e.clientX - p.x, e.clientY - p.y)
      panning.current = { ...p, x: e.clientX, y: e.clientY }
      onUserMove()
      setCamera(next)
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
  const zoomRef = useRef(camera.zoom)
  zoomRef.current = camera.zoom

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
