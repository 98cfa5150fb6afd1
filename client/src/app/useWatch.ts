import { useEffect, useMemo, useState } from 'react'
import { Stream, type StreamState } from './transport.ts'
import { WatchStore, type WatchEvent } from './watchModel.ts'
import { useLatest } from './hooks.ts'

/**
 * Live objects of some kinds in a namespace ('' = every namespace the user may see) over the
 * watch channel, resuming from the last resourceVersion after a reconnect. Renders at most once
 * per animation frame however bursty the events are.
 */
export function useWatch(cluster: string, kinds: string, namespace: string, onState: (s: StreamState, detail?: string) => void): WatchStore {
  const store = useMemo(() => new WatchStore(), [cluster, kinds, namespace]) // eslint-disable-line react-hooks/exhaustive-deps
  const [, setVersion] = useState(0)
  const report = useLatest(onState)
  useEffect(() => {
    let frame = 0
    const render = () => {
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0
          setVersion(store.version)
        })
    }
    const s = new Stream({
      kind: 'watch',
      params: () => {
        const p: Record<string, string> = { cluster, kinds, namespaces: namespace }
        if (store.resourceVersion) p.resourceVersion = store.resourceVersion
        return p
      },
      onMessage: (d) => {
        if (typeof d !== 'string') return
        let ev: WatchEvent
        try {
          ev = JSON.parse(d) as WatchEvent
        } catch {
          return
        }
        if (store.apply(ev)) render()
        if (ev.type === 'error') report.current(s.state, `${ev.code}: ${ev.message}`)
      },
      onClose: (info) => {
        if (info.code || info.message) report.current('reconnecting', [info.code, info.message].filter(Boolean).join(': '))
      },
    })
    const off = s.onState((st) => report.current(st, s.lastError ? [s.lastError.code, s.lastError.message].filter(Boolean).join(': ') : undefined))
    report.current(s.state)
    return () => {
      off()
      s.stop()
      cancelAnimationFrame(frame)
    }
  }, [store, cluster, kinds, namespace, report])
  return store
}
