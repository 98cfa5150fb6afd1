import { useEffect, useState } from 'react'
import { api, type User } from './api.ts'
import { useNow } from './hooks.ts'
import { Header } from './Header.tsx'
import { formatAge, parseAdminConnections, parseAdminPresence, parseAdminSessions, withSessions, type AdminConnection, type AdminRow, type AdminSession } from './adminModel.ts'
import { ApiError } from './api.ts'
import { navigate } from './router.ts'
import { krateTitle, readKrateJSON } from './schema.ts'

const POLL_MS = 2000

const titleOfJSON = (k: unknown): string => krateTitle(readKrateJSON('', k))

/** Every room and user across replicas, refreshed every 2 s from GET /api/admin/presence. */
export default function AdminPage({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const [rows, setRows] = useState<AdminRow[] | null>(null)
  const [sessions, setSessions] = useState<AdminSession[]>([])
  const [conns, setConns] = useState<AdminConnection[]>([])
  // Krate titles per room (from each room's document), so "focus" reads as what people look at.
  const [titles, setTitles] = useState<Map<string, string>>(new Map())
  const [error, setError] = useState('')
  const now = useNow(1000)
  const [notice, setNotice] = useState('')

  useEffect(() => {
    let stop = false
    const load = () =>
      Promise.all([api.adminPresence(), api.adminSessions().catch(() => ({ sessions: [] })), api.adminConnections().catch(() => ({ connections: [] }))]).then(
        ([b, sb, cb]) => {
          if (stop) return
          const ss = parseAdminSessions(sb)
          setSessions(ss)
          setConns(parseAdminConnections(cb))
          const rs = withSessions(parseAdminPresence(b), ss)
          setRows(rs)
          const rooms = [...new Set(rs.filter((r) => r.focus && r.room).map((r) => r.room))]
          void Promise.all(rooms.map((room) => api.roomDoc(room).then((d) => [room, d] as const, () => [room, null] as const))).then((docs) => {
            if (stop) return
            const t = new Map<string, string>()
            for (const [room, d] of docs) {
              const krates = (d as { krates?: Record<string, unknown> } | null)?.krates
              if (krates && typeof krates === 'object') for (const [id, k] of Object.entries(krates)) t.set(`${room}/${id}`, titleOfJSON(k))
            }
            setTitles(t)
          })
          setError('')
        },
        (e: Error) => !stop && setError(e.message),
      )
    void load()
    const t = setInterval(load, POLL_MS)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [])

  const act = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f()
      setNotice(`${what}: done`)
    } catch (e) {
      setNotice(e instanceof ApiError && e.status === 404 && e.code === 'not_found' && what.startsWith('disconnect') ? `${what}: this server has no disconnect API` : `${what}: ${(e as Error).message}`)
    }
  }

  const rooms = new Set(rows?.map((r) => r.room))
  const users = new Set(rows?.map((r) => r.userId))
  const replicas = new Set(rows?.map((r) => r.replica).filter(Boolean))

  return (
    <div className="page">
      <Header user={user} onSignOut={onSignOut} />
      <main className="admin">
        <h1>Presence</h1>
        <p className="muted" data-testid="admin-summary">
          {rows ? `${users.size} users in ${rooms.size} rooms on ${replicas.size || 1} replica${replicas.size === 1 ? '' : 's'}` : 'Loading…'}
        </p>
        {error && <p className="error">{error}</p>}
        {notice && (
          <p className="notice" data-testid="admin-notice">
            {notice}
          </p>
        )}
        <table className="admin-table" data-testid="admin-table">
          <thead>
            <tr>
              <th>user</th>
              <th>room</th>
              <th>focus</th>
              <th>shells</th>
              <th>streams</th>
              <th>connected</th>
              <th>replica</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows?.map((r) => (
              <tr key={r.key} data-testid="admin-user-row" data-user={r.userId} data-room={r.room} data-replica={r.replica}>
                <td>
                  <span className="dot" style={{ background: r.state?.color ?? '#888' }} /> {r.name}
                </td>
                <td>
                  {r.room ? (
                    <a href={`/r/${encodeURIComponent(r.room)}`} onClick={(e) => (e.preventDefault(), navigate(`/r/${encodeURIComponent(r.room)}`))}>
                      {r.room}
                    </a>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td className="muted" data-testid="admin-focus" title={r.focus}>{(r.focus && (titles.get(`${r.room}/${r.focus}`) ?? r.focus)) || (r.state?.spotlightQuery ? `searching “${r.state.spotlightQuery}”` : '–')}</td>
                <td>
                  {r.shells.length === 0 && <span className="muted">–</span>}
                  {r.shells.map((s) => (
                    <span key={s.id} className="chip">
                      {s.label}
                      {s.role && <span className="muted"> ({s.role})</span>}
                      <button className="small danger" data-testid="admin-end-shell" data-session={s.id} onClick={() => act(`end shell ${s.label}`, () => api.adminEndShell(s.id))}>
                        end
                      </button>
                    </span>
                  ))}
                </td>
                <td className="muted">{r.streams.join(', ') || '–'}</td>
                <td data-testid="admin-age">{r.connectedAt ? formatAge(now - r.connectedAt) : '–'}</td>
                <td className="muted">{r.replica || '–'}</td>
                <td>
                  <button className="small danger" data-testid="admin-disconnect" disabled={!r.connId} title={r.connId ? 'Close this connection' : 'the server did not report a connection id'} onClick={() => act(`disconnect ${r.name}`, () => api.adminDisconnect(r.connId))}>
                    disconnect
                  </button>
                  <button className="small danger" data-testid="admin-disconnect-user" data-user={r.userId} title="Close every connection of this user on every replica" onClick={() => act(`disconnect all of ${r.name}`, () => api.adminDisconnectUser(r.userId))}>
                    all
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Connections</h2>
        <table className="admin-table" data-testid="admin-connections">
          <thead>
            <tr>
              <th>user</th>
              <th>endpoint</th>
              <th>channels</th>
              <th>connected</th>
              <th>replica</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {conns.length === 0 && (
              <tr>
                <td className="muted">No connections.</td>
              </tr>
            )}
            {conns.map((c) => (
              <tr key={`${c.replica}|${c.id}`} data-testid="admin-connection-row" data-user={c.userId} data-conn={c.id}>
                <td>{c.name}</td>
                <td className="muted">{c.endpoint}</td>
                <td className="muted">{c.channels.join(', ') || '–'}</td>
                <td>{c.openedAt ? formatAge(now - c.openedAt) : '–'}</td>
                <td className="muted">{c.replica || '–'}</td>
                <td>
                  <button className="small danger" data-testid="admin-connection-disconnect" data-conn={c.id} onClick={() => act(`disconnect ${c.name}`, () => api.adminDisconnect(c.id))}>
                    disconnect
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Shell sessions</h2>
        <table className="admin-table" data-testid="admin-sessions">
          <thead>
            <tr>
              <th>pod</th>
              <th>owner</th>
              <th>driver</th>
              <th>participants</th>
              <th>started</th>
              <th>replica</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.length === 0 && (
              <tr>
                <td className="muted">No shell sessions.</td>
              </tr>
            )}
            {sessions.map((s) => (
              <tr key={s.id} data-testid="admin-session-row" data-session={s.id}>
                <td>
                  {s.namespace}/{s.pod}
                  {s.container && <span className="muted"> [{s.container}]</span>}
                </td>
                <td>{s.owner}</td>
                <td>{s.driver || '–'}</td>
                <td>{s.participants.map((p) => `${p.user} (${p.role})`).join(', ') || '–'}</td>
                <td>{s.started ? formatAge(now - s.started) : '–'}</td>
                <td className="muted">{s.replica || '–'}</td>
                <td>
                  <button className="small danger" data-testid="admin-end-session" data-session={s.id} onClick={() => act(`end shell ${s.namespace}/${s.pod}`, () => api.adminEndShell(s.id))}>
                    end session
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </main>
    </div>
  )
}
