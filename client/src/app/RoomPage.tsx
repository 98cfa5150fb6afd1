// The room page: owns the room's document and connection, and puts together the header, the
// canvas, the panels and the spotlight. Its concerns live in room/: the clusters, following a
// viewport, the keyboard shortcuts (hooks), the header and the canvas (components).
import { useCallback, useEffect, useEffectEvent, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import * as Y from 'yjs'
import type { User } from './api.ts'
import { SyncProvider } from './syncProvider.ts'
import { colorFor } from './colors.ts'
import { placeNew } from './layout.ts'
import { addKrate, DEFAULT_SIZE, listKrates, type KrateKind, type KrateRef } from './schema.ts'
import { uniqueUsers, type PresenceState } from './presence.ts'
import { RoomContext, type RoomContextValue } from './roomContext.ts'
import { Spotlight } from './Spotlight.tsx'
import { ActivityFeed } from './ActivityFeed.tsx'
import { WorkflowProvider } from './workflow/editor.tsx'
import { WorkflowPanels } from './workflow/Panels.tsx'
import { Canvas, type CanvasHandle } from './room/Canvas.tsx'
import { RoomHeader } from './room/RoomHeader.tsx'
import { useClusters } from './room/useClusters.ts'
import { useFollow } from './room/useFollow.ts'
import { usePeers } from './room/usePeers.ts'
import { useShortcuts } from './room/useShortcuts.ts'

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
    // The connection belongs to this effect (made and destroyed with it, once per mount in
    // StrictMode too); the page renders once it exists.
    setConn({ doc, provider }) // eslint-disable-line react-hooks/set-state-in-effect -- the effect owns the connection's lifetime
    return () => {
      provider.destroy()
      doc.destroy()
    }
  }, [props.room])
  if (!conn) return null
  return <Room {...props} doc={conn.doc} provider={conn.provider} />
}

const DEFAULT_VIEW = { x: 0, y: 0, w: 1200, h: 800, zoom: 1 }

function Room({ room, user, onSignOut, doc, provider }: RoomProps & { doc: Y.Doc; provider: SyncProvider }) {
  useEffect(() => {
    const leave = () => provider.destroy()
    addEventListener('pagehide', leave)
    return () => removeEventListener('pagehide', leave)
  }, [provider])

  const syncState = useSyncExternalStore((cb) => provider.onState(cb), () => provider.state)
  const synced = useSyncExternalStore((cb) => provider.onSynced(cb), () => provider.synced)
  const clusters = useClusters()
  const { cluster } = clusters
  const peers = usePeers(provider)
  const users = useMemo(() => uniqueUsers(peers), [peers])
  const follow = useFollow(provider, users)

  // The spotlight's index stays live once it was first opened.
  const [spotlight, setSpotlight] = useState({ open: false, used: false })
  const showSpotlight = useCallback((open: boolean) => setSpotlight((s) => ({ open, used: s.used || open })), [])
  useShortcuts({ toggleSpotlight: () => setSpotlight((s) => ({ open: !s.open, used: true })), closeSpotlight: () => showSpotlight(false) })

  const canvas = useRef<CanvasHandle | null>(null)
  const me: PresenceState = useMemo(
    () => ({ userId: user.id, name: user.display || user.name, color: colorFor(user.id), cursor: null, activeKrateId: null, spotlightQuery: null, viewport: null, timestamp: 0, followable: true }),
    [user],
  )
  // The whole state once per person; followable is kept current by useFollow on its own.
  const followable = useEffectEvent(() => !follow.noFollow)
  useEffect(() => {
    provider.awareness.setLocalState({ ...me, timestamp: Date.now(), followable: followable() })
  }, [provider, me])

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
      const v = canvas.current?.viewport() ?? DEFAULT_VIEW
      const pos = placeNew(v, DEFAULT_SIZE[kind], listKrates(doc))
      const id = addKrate(doc, { kind, ref: { cluster, ...ref }, ...pos, owner: user.id })
      focusKrate(id)
      return id
    },
    [doc, cluster, user.id, focusKrate],
  )
  const ctx: RoomContextValue = useMemo(() => ({ room, doc, user, cluster, openKrate, focusKrate }), [room, doc, user, cluster, openKrate, focusKrate])

  const toWorld = useCallback((x: number, y: number) => canvas.current?.toWorld(x, y) ?? null, [])
  const viewCentre = useCallback(() => {
    const v = canvas.current?.viewport() ?? DEFAULT_VIEW
    return { x: v.x + v.w / 2 - 100, y: v.y + v.h / 2 - 40 }
  }, [])
  const { leader, follow: followUser } = follow
  const stopFollowing = useCallback(() => followUser(null), [followUser])

  return (
    <RoomContext.Provider value={ctx}>
      <WorkflowProvider room={room} doc={doc} provider={provider} user={user} cluster={cluster} toWorld={toWorld} viewCentre={viewCentre}>
        <div className="page room-page">
          <RoomHeader room={room} user={user} onSignOut={onSignOut} syncState={syncState} synced={synced} clusters={clusters} onFind={() => showSpotlight(true)} users={users} follow={follow} />
          {provider.permissionDenied && <div className="banner">This room is read-only for you: {provider.permissionDenied}</div>}
          <Canvas ref={canvas} provider={provider} peers={peers} leader={leader} onUserMove={stopFollowing} />
          <ActivityFeed doc={doc} />
          {leader && (
            <div className="follow-banner" data-testid="follow-banner" style={{ borderColor: leader.color }}>
              Following {leader.name} <button onClick={stopFollowing}>stop</button>
            </div>
          )}
          <WorkflowPanels peers={peers} />
          {spotlight.used && <Spotlight open={spotlight.open} onClose={() => showSpotlight(false)} awareness={provider.awareness} />}
        </div>
      </WorkflowProvider>
    </RoomContext.Provider>
  )
}
