import { useEffect, useState } from 'react'
import { Stream, type StreamState } from './transport.ts'
import { WatchStore, type WatchEvent } from './watchModel.ts'
import { useLatest } from './hooks.ts'

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

function acquire(cluster: string, kinds: string, namespace: string): Shared {
  const key = `${cluster}\u0000${kinds}\u0000${namespace}`
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
  const [entry, setEntry] = useState<Shared | null>(null)
  const [, setVersion] = useState(0)
  const report = useLatest(onState)
  useEffect(() => {
    const e = acquire(cluster, kinds, namespace)
    const render = () => setVersion(e.store.version)
    const state: StateListener = (s, d) => report.current(s, d)
    e.renders.add(render)
    e.states.add(state)
    setEntry(e)
    report.current(e.stream.state, e.detail)
    return () => {
      e.renders.delete(render)
      e.states.delete(state)
      e.release!()
    }
  }, [cluster, kinds, namespace, report])
  return entry?.store ?? EMPTY
}

const EMPTY = new WatchStore()
