import { useEffect, useEffectEvent, useRef, useState } from 'react'
import { Terminal } from '@xterm/xterm'
import { FitAddon } from '@xterm/addon-fit'
import '@xterm/xterm/css/xterm.css'
import type { KrateBodyProps } from './body.ts'
import { useRoom } from '../roomContext.ts'
import { Stream } from '../transport.ts'
import { updateKrate } from '../schema.ts'
import { useAccess } from '../hooks.ts'
import { actionDecision } from '../access.ts'

type Role = 'driver' | 'observer'
interface Participant {
  user: string
  role: string
}

function parseParticipants(list: unknown): Participant[] {
  if (!Array.isArray(list)) return []
  return list.map((p) =>
    typeof p === 'string' ? { user: p, role: '' } : { user: String((p as Record<string, unknown>).user ?? (p as Record<string, unknown>).name ?? ''), role: String((p as Record<string, unknown>).role ?? '') },
  )
}

/**
 * A terminal in a pod. The krate's owner starts the session; its id goes into the room
 * document so everyone else can join it, as observer or as driver (one driver at a time).
 */
export default function ShellKrate({ krate, onState }: KrateBodyProps) {
  const { doc, user } = useRoom()
  const r = krate.ref
  const host = useRef<HTMLDivElement>(null)
  const term = useRef<Terminal | null>(null)
  const fit = useRef<FitAddon | null>(null)
  const stream = useRef<Stream | null>(null)
  const [join, setJoin] = useState<{ mode: 'start' } | { mode: 'join'; role: Role } | null>(() =>
    krate.owner === user.id ? (krate.session ? { mode: 'join', role: 'driver' } : { mode: 'start' }) : null,
  )
  const [role, setRole] = useState<Role | null>(null)
  const [participants, setParticipants] = useState<Participant[]>([])
  const [exit, setExit] = useState<string | null>(null)
  const [requests, setRequests] = useState<string[]>([])
  const report = useEffectEvent(onState)
  // The session in the document when the stream (re)starts or reports a session of its own.
  const session = useEffectEvent(() => krate.session)
  // The role for the terminal's input and resize handlers: set with role by every message that changes it.
  const roleRef = useRef<Role | null>(null)
  const access = useAccess(r.cluster, r.namespace)
  const exec = access === null ? { allowed: false, reason: 'checking permissions…' } : access === 'unknown' ? { allowed: true, reason: '' } : actionDecision(access, 'shell', 'pods')

  // The terminal lives as long as the krate, so output stays on screen after a disconnect.
  useEffect(() => {
    const t = new Terminal({ fontFamily: '"IBM Plex Mono", ui-monospace, Menlo, monospace', fontSize: 12, rows: 24, cols: 80, convertEol: false, scrollback: 5000, theme: { background: '#0d1117' } })
    const f = new FitAddon()
    t.loadAddon(f)
    t.open(host.current!)
    term.current = t
    fit.current = f
    const sendResize = () => {
      try {
        f.fit()
      } catch {
        return
      }
      if (roleRef.current === 'driver') stream.current?.sendJSON({ type: 'resize', cols: t.cols, rows: t.rows })
    }
    const ro = new ResizeObserver(() => sendResize())
    ro.observe(host.current!)
    const enc = new TextEncoder()
    const input = t.onData((d) => {
      if (roleRef.current === 'driver') stream.current?.send(enc.encode(d))
    })
    return () => {
      ro.disconnect()
      input.dispose()
      t.dispose()
      term.current = null
    }
  }, [])

  useEffect(() => {
    if (!join) {
      report('closed', 'not joined')
      return
    }
    let ended = false
    let mySession = join.mode === 'join' ? session() : ''
    const s = new Stream({
      kind: 'shell',
      params: () => {
        // After the first connect every reconnect reattaches to the same session.
        if (mySession) return { session: mySession, role: join.mode === 'join' ? join.role : 'driver' }
        const p: Record<string, string> = { cluster: r.cluster, namespace: r.namespace, pod: r.name }
        if (r.container) p.container = r.container
        return p
      },
      retry: () => !ended,
      onOpen: () => {
        const t = term.current
        if (t) {
          try {
            fit.current?.fit()
          } catch {
            /* not laid out yet */
          }
        }
      },
      onMessage: (d) => {
        const t = term.current
        if (typeof d !== 'string') {
          t?.write(d)
          return
        }
        let m: Record<string, unknown>
        try {
          m = JSON.parse(d) as Record<string, unknown>
        } catch {
          return
        }
        switch (m.type) {
          case 'session': {
            const id = String(m.id ?? '')
            const rl = (m.role === 'observer' ? 'observer' : 'driver') as Role
            mySession = id
            setRole(rl)
            roleRef.current = rl
            if (join.mode === 'start' && id && id !== session()) updateKrate(doc, krate.id, { session: id })
            if (rl === 'driver' && t) s.sendJSON({ type: 'resize', cols: t.cols, rows: t.rows })
            break
          }
          case 'role':
          case 'driver': {
            // Driver handoff: the server tells each participant who drives now.
            const driver = String(m.user ?? m.driver ?? '')
            const rl: Role = m.role === 'driver' || driver === user.id || driver === user.name ? 'driver' : 'observer'
            setRole(rl)
            roleRef.current = rl
            if (rl === 'driver' && t) s.sendJSON({ type: 'resize', cols: t.cols, rows: t.rows })
            break
          }
          case 'participants': {
            const list = parseParticipants(m.list ?? m.participants)
            setParticipants(list)
            const mine = list.find((p) => p.user === user.id || p.user === user.name)
            if (mine && (mine.role === 'driver' || mine.role === 'observer')) {
              setRole(mine.role as Role)
              roleRef.current = mine.role as Role
            }
            break
          }
          case 'request-driver':
          case 'driver-request':
            setRequests((q) => [...new Set([...q, String(m.user ?? '')])].filter(Boolean))
            break
          case 'exit':
            ended = true
            setExit(`exited with code ${String(m.code ?? '?')}`)
            t?.write(`\r\n\x1b[2m[process exited with code ${String(m.code ?? '?')}]\x1b[0m\r\n`)
            s.stop('closed')
            break
          case 'error':
            t?.write(`\r\n\x1b[31m[${String(m.code ?? 'error')}: ${String(m.message ?? '')}]\x1b[0m\r\n`)
            report('error', `${String(m.code)}: ${String(m.message)}`)
            break
        }
      },
      onClose: (info) => {
        if (!ended) term.current?.write(`\r\n\x1b[33m[disconnected${info.message ? ': ' + info.message : ''}; the output above is kept]\x1b[0m\r\n`)
      },
    })
    stream.current = s
    const off = s.onState((st) => report(st, s.lastError ? [s.lastError.code, s.lastError.message].filter(Boolean).join(': ') : undefined))
    report(s.state)
    return () => {
      off()
      s.stop()
      stream.current = null
    }
  }, [join, r.cluster, r.namespace, r.name, r.container, doc, krate.id, user.id, user.name])

  const driver = participants.find((p) => p.role === 'driver')
  // A new session (or joining one) starts without the last one's exit.
  const joinAs = (j: NonNullable<typeof join>) => {
    setExit(null)
    setJoin(j)
  }
  const startNew = () => {
    updateKrate(doc, krate.id, { session: '' })
    joinAs({ mode: 'start' })
  }

  return (
    <div className="shell">
      <div className="toolbar">
        {role && (
          <span className={`role role-${role}`} data-testid="shell-role" data-role={role}>
            {role === 'driver' ? 'you are driving' : 'observing'}
          </span>
        )}
        {driver && (
          <span className="driver" data-testid="shell-driver" data-user={driver.user} title="who types in this terminal">
            ⌨ {driver.user}
          </span>
        )}
        {participants.length > 0 && <span className="muted">{participants.length} in session</span>}
        <span className="spacer" />
        {!join && krate.session && (
          <>
            <button data-testid="shell-join" data-role="observer" disabled={!exec.allowed} title={exec.allowed ? 'Watch this terminal' : exec.reason} onClick={() => joinAs({ mode: 'join', role: 'observer' })}>
              join as observer
            </button>
            <button data-testid="shell-join-driver" data-role="driver" disabled={!exec.allowed} title={exec.allowed ? 'Ask to type in this terminal' : exec.reason} onClick={() => joinAs({ mode: 'join', role: 'driver' })}>
              join as driver
            </button>
          </>
        )}
        {!join && !krate.session && <span className="muted">waiting for {krate.owner || 'the owner'} to start the session</span>}
        {role === 'observer' && (
          <button data-testid="shell-request-driver" onClick={() => stream.current?.sendJSON({ type: 'request-driver' })}>
            request keyboard
          </button>
        )}
        {role === 'driver' &&
          requests.map((u) => (
            <button key={u} data-testid="shell-grant" data-user={u} onClick={() => (stream.current?.sendJSON({ type: 'grant-driver', user: u }), setRequests((q) => q.filter((x) => x !== u)))}>
              hand keyboard to {u}
            </button>
          ))}
        {(exit || (!join && !krate.session)) && (
          <button data-testid="shell-start" disabled={!exec.allowed} title={exec.allowed ? 'Start a new shell in this pod' : exec.reason} onClick={startNew}>
            start new session
          </button>
        )}
        {exit && <span className="muted">{exit}</span>}
      </div>
      <div className="terminal" data-testid="terminal" data-session={krate.session} ref={host} />
    </div>
  )
}
