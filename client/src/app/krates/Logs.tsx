import { useEffect, useEffectEvent, useLayoutEffect, useMemo, useRef, useState } from 'react'
import type { KrateBodyProps } from './body.ts'
import { Stream } from '../transport.ts'
import { atBottom, classify, matches, splitMatches, type LogLevel } from '../logLevel.ts'
import { containersOf, kindInfo } from '../resources.ts'
import { api } from '../api.ts'
import { useRoom } from '../roomContext.ts'
import { updateKrateRef } from '../schema.ts'

interface Line {
  seq: number
  pod: string
  container: string
  time: string
  text: string
  level: LogLevel | 'notice'
}

/** Lines kept per krate; older ones fall off (the server bounds its side the same way). */
const MAX_LINES = 5000
/** Lines rendered at once; the rest are a search or a download away. */
const MAX_RENDERED = 1500

/**
 * What one stream received, as rendered: the kept lines (a new array per animation frame) and
 * the next line's seq. key names the stream, so the lines of a previous one are never shown.
 */
interface Received {
  key: string
  lines: readonly Line[]
  next: number
}
const NOTHING: Received = { key: '', lines: [], next: 0 }

export function LogsKrate({ krate, onState }: KrateBodyProps) {
  const r = krate.ref
  const { doc } = useRoom()
  // A pod with several containers gets a picker; the choice is shared (it is in the document).
  const [containers, setContainers] = useState<string[]>([])
  useEffect(() => {
    if (kindInfo(r.kind || 'pods').resource !== 'pods') return
    api.resource('pods', r.name, r.cluster, r.namespace).then((p) => setContainers(containersOf(p)), () => {})
  }, [r.kind, r.name, r.cluster, r.namespace])
  const [received, setReceived] = useState<Received>(NOTHING)
  const [paused, setPaused] = useState(false)
  const [frozenAt, setFrozenAt] = useState(0)
  const [query, setQuery] = useState('')
  const [pods, setPods] = useState<{ name: string; container: string; state: string }[]>([])
  const box = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const report = useEffectEvent(onState)
  const key = [r.cluster, r.namespace, r.name, r.kind, r.container].join('\u0000')

  // Line numbers go on across streams, so a pause started on one stream holds back the next's lines.
  const seqFrom = useRef(0)
  useEffect(() => {
    const lines: Line[] = []
    let seq = seqFrom.current
    let lastTime = ''
    let frame = 0
    const render = () => {
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0
          setReceived({ key, lines: lines.slice(), next: seq })
        })
    }
    const push = (l: Omit<Line, 'seq'>) => {
      lines.push({ ...l, seq: seq++ })
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES)
      render()
    }
    const kind = kindInfo(r.kind || 'pods')
    const s = new Stream({
      kind: 'logs',
      params: () => {
        const p: Record<string, string> = { cluster: r.cluster, namespace: r.namespace, follow: 'true', timestamps: 'true' }
        if (kind.resource === 'pods') p.pod = r.name
        else p.workload = `${kind.kind.toLowerCase()}/${r.name}`
        if (r.container) p.container = r.container
        else if (kind.resource !== 'pods') p.allContainers = 'true'
        // Resume where we were after a reconnect; the first time, start from recent history.
        if (lastTime) p.sinceTime = lastTime
        else p.tailLines = '500'
        return p
      },
      onMessage: (d) => {
        if (typeof d !== 'string') return
        let m: Record<string, unknown>
        try {
          m = JSON.parse(d) as Record<string, unknown>
        } catch {
          return
        }
        switch (m.type) {
          case 'line': {
            const text = String(m.text ?? '')
            if (typeof m.time === 'string' && m.time) lastTime = m.time
            push({ pod: String(m.pod ?? ''), container: String(m.container ?? ''), time: String(m.time ?? ''), text, level: classify(text) })
            break
          }
          case 'dropped':
            push({ pod: '', container: '', time: '', text: `… ${Number(m.count) || 0} lines dropped (the stream was faster than this window)`, level: 'notice' })
            break
          case 'status':
            if (Array.isArray(m.pods)) setPods(m.pods as { name: string; container: string; state: string }[])
            break
          case 'error':
            push({ pod: '', container: '', time: '', text: `error ${String(m.code ?? '')}: ${String(m.message ?? '')}`, level: 'notice' })
            report(s.state, `${String(m.code)}: ${String(m.message)}`)
            break
        }
      },
    })
    const off = s.onState((st) => report(st, s.lastError ? [s.lastError.code, s.lastError.message].filter(Boolean).join(': ') : undefined))
    report(s.state)
    return () => {
      off()
      s.stop()
      cancelAnimationFrame(frame)
      seqFrom.current = seq
    }
  }, [key, r.cluster, r.namespace, r.name, r.kind, r.container])

  // What this stream received so far (nothing yet right after the krate switched streams).
  const current = received.key === key ? received : NOTHING
  const all = current.lines
  // While paused, show what was there when the pause began.
  const upto = paused ? frozenAt : current.next
  const shown = useMemo(() => {
    const out: Line[] = []
    for (let i = all.length - 1; i >= 0 && out.length < MAX_RENDERED; i--) {
      const l = all[i]!
      if (l.seq < upto && matches(l.text, query)) out.push(l)
    }
    return out.reverse()
  }, [all, upto, query])
  const waiting = paused ? Math.max(0, current.next - frozenAt) : 0

  useLayoutEffect(() => {
    const b = box.current
    if (b && stick.current) b.scrollTop = b.scrollHeight
  }, [shown])

  const download = () => {
    const text = all.map((l) => (l.time ? `${l.time} ` : '') + (l.pod && r.kind !== 'pods' ? `[${l.pod}] ` : '') + l.text).join('\n') + '\n'
    const a = document.createElement('a')
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }))
    a.download = `${r.namespace}-${r.name}.log`
    a.click()
    setTimeout(() => URL.revokeObjectURL(a.href), 1000)
  }
  const multiPod = r.kind !== '' && r.kind !== 'pods'

  return (
    <div className="logs">
      <div className="toolbar">
        <input data-testid="log-search" placeholder="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        <button
          data-testid="log-pause"
          aria-pressed={paused}
          onClick={() => {
            if (!paused) setFrozenAt(current.next)
            setPaused(!paused)
          }}
        >
          {paused ? `resume${waiting ? ` (${waiting} new)` : ''}` : 'pause'}
        </button>
        {containers.length > 1 && (
          <select data-testid="log-container" value={r.container} onChange={(e) => updateKrateRef(doc, krate.id, { container: e.target.value })} title="container">
            <option value="">default container</option>
            {containers.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        )}
        <button data-testid="log-download" onClick={download}>
          download
        </button>
        {pods.length > 0 && (
          <span className="pods">
            {pods.map((p) => (
              <span key={p.name + p.container} className={`status tone-${p.state === 'streaming' || p.state === 'running' ? 'ok' : p.state === 'ended' ? 'idle' : 'warn'}`} title={`${p.name}/${p.container}: ${p.state}`}>
                {p.name.slice(-5)}
              </span>
            ))}
          </span>
        )}
      </div>
      <div
        className="log-lines"
        ref={box}
        data-testid="log-lines"
        onScroll={(e) => {
          const b = e.currentTarget
          stick.current = atBottom(b.scrollTop, b.scrollHeight, b.clientHeight)
        }}
      >
        {shown.map((l) => (
          <div key={l.seq} className={`log-line lvl-${l.level}`} data-testid="log-line" data-level={l.level}>
            {multiPod && l.pod && <span className="log-pod">{l.pod}</span>}
            {splitMatches(l.text, query).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : p.text))}
          </div>
        ))}
      </div>
    </div>
  )
}
