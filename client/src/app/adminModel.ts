// Rows of the admin presence panel from GET /api/admin/presence. Read leniently: a flat list of
// entries ({"entries"|"users"|"connections": [...]} or a bare array), or rooms with their users
// ({"rooms": [{"room"|"id", "users"|"participants": [...]}]}). Each entry may carry: user/userId,
// name, room, replica, connId, connectedAt (RFC 3339) or ageSeconds, state (awareness),
// shells [{id|session, pod, namespace, role}], streams [{kind, target}] (the connection's other
// open channels).
import { parsePresence, type PresenceState } from './presence.ts'

export interface AdminShell {
  id: string
  label: string
  role: string
}

export interface AdminRow {
  key: string
  userId: string
  name: string
  room: string
  replica: string
  connId: string
  connectedAt: number | null
  focus: string
  state: PresenceState | null
  shells: AdminShell[]
  streams: string[]
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const str = (...vs: unknown[]): string => {
  for (const v of vs) if (typeof v === 'string' && v !== '') return v
  for (const v of vs) if (typeof v === 'number') return String(v)
  return ''
}
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])

function row(e: Obj, room: string, now: number): AdminRow | null {
  const user = obj(e.user)
  const stateRaw = e.state ?? e.awareness
  const state = parsePresence(typeof stateRaw === 'string' ? safeJSON(stateRaw) : stateRaw)
  const userId = str(e.userId, user.id, typeof e.user === 'string' ? e.user : '', state?.userId, e.id)
  if (!userId) return null
  let connectedAt: number | null = null
  const since = str(e.connectedAt, e.since, e.joinedAt)
  if (since && Number.isFinite(Date.parse(since))) connectedAt = Date.parse(since)
  else if (typeof e.ageSeconds === 'number') connectedAt = now - e.ageSeconds * 1000
  else if (typeof e.connectionAgeSeconds === 'number') connectedAt = now - e.connectionAgeSeconds * 1000
  const r = str(e.room, e.roomId, room)
  const connId = str(e.connId, e.connectionId, e.conn)
  const shells = list(e.shells).map((s) => ({
    id: str(s.id, s.session, s.sessionId),
    label: [str(s.namespace), str(s.pod)].filter(Boolean).join('/') || str(s.id, s.session),
    role: str(s.role),
  }))
  const streams = list(e.streams).map((s) => [str(s.kind), str(s.target, s.pod, s.name)].filter(Boolean).join(' '))
  return {
    key: [userId, r, connId, str(e.clientId), str(e.replica)].join('|'),
    userId,
    name: str(e.name, e.userName, user.name, state?.name, userId),
    room: r,
    replica: str(e.replica, e.replicaId, e.node),
    connId,
    connectedAt,
    focus: str(e.activeKrateId, e.focus, state?.activeKrateId),
    state,
    shells: shells.filter((s) => s.id),
    streams: streams.filter(Boolean),
  }
}

function safeJSON(s: string): unknown {
  try {
    return JSON.parse(s)
  } catch {
    return null
  }
}

export function parseAdminPresence(body: unknown, now = Date.now()): AdminRow[] {
  const out: AdminRow[] = []
  const push = (r: AdminRow | null) => r && out.push(r)
  const b = obj(body)
  if (Array.isArray(b.rooms)) {
    for (const room of list(b.rooms)) {
      const id = str(room.room, room.id, room.name)
      for (const u of list(room.users ?? room.participants ?? room.clients)) push(row(u, id, now))
    }
  }
  const flat = Array.isArray(body) ? list(body) : list(b.presence ?? b.entries ?? b.users ?? b.connections ?? b.clients)
  for (const e of flat) push(row(e, '', now))
  return out.sort((a, b) => a.room.localeCompare(b.room) || a.name.localeCompare(b.name))
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  return `${Math.floor(m / 60)}h ${m % 60}m`
}

/** A shell session from GET /api/admin/sessions. */
export interface AdminSession {
  id: string
  owner: string
  namespace: string
  pod: string
  container: string
  replica: string
  started: number | null
  driver: string
  participants: { user: string; role: string; replica: string }[]
}

export function parseAdminSessions(body: unknown): AdminSession[] {
  const b = obj(body)
  return list(Array.isArray(body) ? body : b.sessions)
    .map((s) => ({
      id: str(s.id),
      owner: str(s.owner, s.ownerId),
      namespace: str(s.namespace),
      pod: str(s.pod),
      container: str(s.container),
      replica: str(s.replica),
      started: Number.isFinite(Date.parse(str(s.started))) ? Date.parse(str(s.started)) : null,
      driver: str(s.driver),
      participants: list(s.participants).map((p) => ({ user: str(p.user), role: str(p.role), replica: str(p.replica) })),
    }))
    .filter((s) => s.id)
}

/** Adds each user's shell sessions (owned or joined) to their presence rows. */
export function withSessions(rows: AdminRow[], sessions: AdminSession[]): AdminRow[] {
  return rows.map((r) => {
    const mine = sessions
      .filter((s) => s.owner === r.name || s.owner === r.userId || s.participants.some((p) => p.user === r.name || p.user === r.userId))
      .map((s) => ({
        id: s.id,
        label: `${s.namespace}/${s.pod}`,
        role: s.driver === r.name || s.driver === r.userId ? 'driver' : s.owner === r.name || s.owner === r.userId ? 'owner' : 'observer',
      }))
    const shells = [...r.shells, ...mine.filter((m) => !r.shells.some((x) => x.id === m.id))]
    return { ...r, shells }
  })
}

/** A WebSocket connection from GET /api/admin/connections. */
export interface AdminConnection {
  id: string
  userId: string
  name: string
  endpoint: string
  replica: string
  openedAt: number | null
  /** "kind target" per open channel, e.g. "logs demo/web-abc/app". */
  channels: string[]
}

const channelLabel = (c: Obj): string => [str(c.kind), str(c.target)].filter(Boolean).join(' ')

export function parseAdminConnections(body: unknown): AdminConnection[] {
  const b = obj(body)
  return list(Array.isArray(body) ? body : b.connections)
    .map((c) => ({
      id: str(c.id),
      userId: str(c.userId),
      name: str(c.userName, c.userId),
      endpoint: str(c.endpoint),
      replica: str(c.replica),
      openedAt: Number.isFinite(Date.parse(str(c.openedAt))) ? Date.parse(str(c.openedAt)) : null,
      channels: list(c.channels).map(channelLabel).filter(Boolean),
    }))
    .filter((c) => c.id && c.userId)
}
