import { useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react'
import { api, ApiError } from './api.ts'
import { parseAccess, type AccessMap } from './access.ts'
import type { Stream, StreamState } from './transport.ts'

// Permission answers per (cluster, namespace), shared by every krate and the spotlight and
// refreshed after a while (the server's own cache trusts an answer for about 10 s).
const ACCESS_TTL = 30_000
type AccessEntry = { at: number; value: AccessMap | 'unknown' | null; promise: Promise<void> | null; subs: Set<() => void> }
const accessCache = new Map<string, AccessEntry>()

function accessEntry(cluster: string, ns: string): AccessEntry {
  const key = `${cluster}\u0000${ns}`
  let e = accessCache.get(key)
  if (!e) {
    e = { at: 0, value: null, promise: null, subs: new Set() }
    accessCache.set(key, e)
  }
  if (!e.promise && Date.now() - e.at > ACCESS_TTL) {
    const entry = e
    entry.promise = api.access(cluster, ns).then(
      (b) => {
        entry.value = parseAccess(b)
      },
      (err: unknown) => {
        // No access API (older server) or it failed: actions stay enabled and the server decides.
        entry.value = err instanceof ApiError && err.status === 403 ? parseAccess({}) : 'unknown'
      },
    ).finally(() => {
      entry.at = Date.now()
      entry.promise = null
      for (const s of entry.subs) s()
    })
  }
  return e
}

/**
 * What the user may do in a namespace. null while the first answer is loading; 'unknown' when
 * the server could not say.
 */
export function useAccess(cluster: string, ns: string): AccessMap | 'unknown' | null {
  const [, bump] = useState(0)
  useEffect(() => {
    const e = accessEntry(cluster, ns)
    const sub = () => bump((x) => x + 1)
    e.subs.add(sub)
    return () => {
      e.subs.delete(sub)
    }
  }, [cluster, ns])
  return accessEntry(cluster, ns).value
}

export function useStreamState(s: Stream | null): StreamState {
  return useSyncExternalStore(
    (cb) => (s ? s.onState(cb) : () => {}),
    () => s?.state ?? 'connecting',
  )
}

/** Calls f at most once per animation frame with the latest arguments. */
export function rafThrottle<A extends unknown[]>(f: (...a: A) => void): ((...a: A) => void) & { cancel(): void } {
  let pending: A | null = null
  let id = 0
  const g = (...a: A) => {
    pending = a
    if (id) return
    id = requestAnimationFrame(() => {
      id = 0
      const p = pending
      pending = null
      if (p) f(...p)
    })
  }
  g.cancel = () => {
    if (id) cancelAnimationFrame(id)
    id = 0
    pending = null
  }
  return g
}

/** Calls f at most every ms milliseconds, always delivering the last call. */
export function throttle<A extends unknown[]>(f: (...a: A) => void, ms: number): ((...a: A) => void) & { cancel(): void } {
  let last = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let pending: A | null = null
  const g = (...a: A) => {
    const now = Date.now()
    if (now - last >= ms && !timer) {
      last = now
      f(...a)
      return
    }
    pending = a
    if (!timer)
      timer = setTimeout(() => {
        timer = null
        last = Date.now()
        const p = pending
        pending = null
        if (p) f(...p)
      }, ms - (now - last))
  }
  g.cancel = () => {
    if (timer) clearTimeout(timer)
    timer = null
    pending = null
  }
  return g
}

/**
 * A ref holding the latest committed value, for event handlers and for callbacks handed to
 * children that must keep their identity. It is written after each commit, never during
 * render; effects read props through useEffectEvent instead.
 */
export function useLatest<T>(v: T): React.RefObject<T> {
  const r = useRef(v)
  useLayoutEffect(() => {
    r.current = v
  })
  return r
}

/** The time, advanced every ms milliseconds (for ages shown on screen: render stays pure). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(t)
  }, [ms])
  return now
}
