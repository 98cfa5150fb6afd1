import { useCallback, useEffect, useEffectEvent, useSyncExternalStore } from 'react'
import { Stream, type StreamState } from './transport.ts'
import { WatchStore, type WatchEvent } from './watchModel.ts'

type StateListener = (s: StreamState, detail?: string) => void

// Krates that watch the same thing (two pod lists, detail krates in one namespace, the spotlight
// index) share one watch channel: fewer channels on the socket (the server caps them per
// connection) and one copy of the objects.
interface Shared {
  store: WatchStore
  stream: Stream
  refs: number
  renders: Set<() => void>
  states: Set<StateListener>
  detail?: string
  frame: number
  stopTimer: ReturnType<typeof setTimeout> | null
  release?: () => void
}

const shared = new Map<string, Shared>()
/** A watch nobody uses any more stays open this long, so a remount (or a reload of one krate) reuses it. */
const LINGER_MS = 2000

const keyOf = (cluster: string, kinds: string, namespace: string) => `${cluster}\u0000${kinds}\u0000${namespace}`

function acquire(cluster: string, kinds: string, namespace: string): Shared {
  const key = keyOf(cluster, kinds, namespace)
  let e = shared.get(key)
  if (e) {
    if (e.stopTimer) clearTimeout(e.stopTimer)
    e.stopTimer = null
    e.refs++
    return e
  }
  const store = new WatchStore()
  const entry: Shared = { store, stream: null as unknown as Stream, refs: 1, renders: new Set(), states: new Set(), frame: 0, stopTimer: null }
  const render = () => {
    if (!entry.frame)
      entry.frame = requestAnimationFrame(() => {
        entry.frame = 0
        for (const r of entry.renders) r()
      })
  }
  const tell = (s: StreamState, detail?: string) => {
    entry.detail = detail
    for (const l of entry.states) l(s, detail)
  }
  entry.stream = new Stream({
    kind: 'watch',
    params: () => {
      const p: Record<string, string> = { cluster, kinds, namespaces: namespace }
      if (store.resourceVersion) p.resourceVersion = store.resourceVersion
      return p
    },
    onMessage: (d, s) => {
      if (typeof d !== 'string') return
      let ev: WatchEvent
      try {
        ev = JSON.parse(d) as WatchEvent
      } catch {
        return
      }
      if (store.apply(ev)) render()
      if (ev.type === 'error') tell(s.state, `${ev.code}: ${ev.message}`)
    },
  })
  entry.stream.onState((st) => {
    const le = entry.stream.lastError
    tell(st, le ? [le.code, le.message].filter(Boolean).join(': ') : undefined)
  })
  entry.stopTimer = null
  shared.set(key, entry)
  entry.release = () => {
    if (--entry.refs > 0) return
    entry.stopTimer = setTimeout(() => {
      if (entry.refs > 0) return
      shared.delete(key)
      cancelAnimationFrame(entry.frame)
      entry.stream.stop()
    }, LINGER_MS)
  }
  return entry
}

/**
 * Live objects of some kinds in a namespace ('' = every namespace the user may see) over the
 * watch channel, resuming from the last resourceVersion after a reconnect. Renders at most once
 * per animation frame however bursty the events are.
 */
export function useWatch(cluster: string, kinds: string, namespace: string, onState: StateListener): WatchStore {
  const key = keyOf(cluster, kinds, namespace)
  // Subscribing holds the shared watch; its store's version says when to render.
  const subscribe = useCallback(
    (render: () => void) => {
      const e = acquire(cluster, kinds, namespace)
      e.renders.add(render)
      return () => {
        e.renders.delete(render)
        e.release!()
      }
    },
    [cluster, kinds, namespace],
  )
  useSyncExternalStore(subscribe, () => shared.get(key)?.store.version ?? -1)
  const report = useEffectEvent(onState)
  useEffect(() => {
    // Held by the subscription above, whose effect runs first.
    const e = shared.get(key)
    if (!e) return
    const state: StateListener = (s, d) => report(s, d)
    e.states.add(state)
    report(e.stream.state, e.detail)
    return () => {
      e.states.delete(state)
    }
  }, [key])
  return shared.get(key)?.store ?? EMPTY
}

const EMPTY = new WatchStore()
