// REST calls to the Yard server (same origin). The bearer token lives in localStorage so a
// reload keeps the user signed in; WebSockets never carry it: they use single-use tickets.

export interface User {
  id: string
  /** The Kubernetes user name the server impersonates (a stable claim, not for display). */
  name: string
  /** How people see the user (the token's name or preferred_username). */
  display?: string
  groups?: string[]
  admin?: boolean
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const TOKEN_KEY = 'yard.token'

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function setToken(t: string | null): void {
  if (t) localStorage.setItem(TOKEN_KEY, t)
  else localStorage.removeItem(TOKEN_KEY)
}

/** A call to the API; a body of contentType other than JSON is sent as it is (a string). */
export async function request<T>(method: string, path: string, body?: unknown, accept = 'application/json', contentType = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { Accept: accept }
  const tok = getToken()
  if (tok) headers.Authorization = `Bearer ${tok}`
  if (body !== undefined) headers['Content-Type'] = contentType
  const raw = contentType !== 'application/json' && typeof body === 'string'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body) })
  const text = await res.text()
  if (res.status === 401 && tok && path !== '/api/me') {
    // The token expired or was revoked: back to the sign-in page (main.tsx listens).
    dispatchEvent(new Event('yard:unauthorized'))
  }
  if (!res.ok) {
    let code = 'http_' + res.status
    let message = text.slice(0, 300) || res.statusText
    try {
      const e = JSON.parse(text) as { error?: { code?: string; message?: string } }
      if (e.error) {
        code = e.error.code ?? code
        message = e.error.message ?? message
      }
    } catch {
      /* not the JSON envelope */
    }
    throw new ApiError(res.status, code, message)
  }
  if (accept !== 'application/json') return text as T
  return (text ? JSON.parse(text) : null) as T
}

/**
 * A cluster write: the status and parsed JSON body whatever the status (a failed dry run is 422
 * with per-object results, a refusal 403 with the error envelope), so the caller can show all
 * of it. X-Yard-Room names the room whose activity feed records the write.
 */
async function write(method: string, path: string, room: string, body?: { type: string; text: string }): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const tok = getToken()
  if (tok) headers.Authorization = `Bearer ${tok}`
  if (room) headers['X-Yard-Room'] = room
  if (body) headers['Content-Type'] = body.type
  const res = await fetch(path, { method, headers, body: body?.text })
  if (res.status === 401 && tok) dispatchEvent(new Event('yard:unauthorized'))
  const text = await res.text()
  let parsed: unknown = null
  try {
    parsed = text ? JSON.parse(text) : null
  } catch {
    parsed = { error: { code: 'http_' + res.status, message: text.slice(0, 300) || res.statusText } }
  }
  return { status: res.status, body: parsed }
}

const resourcePath = (kind: string, name: string, q: Record<string, string>, sub = '') =>
  `/api/resource/${encodeURIComponent(kind)}/${encodeURIComponent(name)}${sub ? '/' + sub : ''}?${new URLSearchParams(q)}`

export const api = {
  devLogin: (name: string, groups: string[], admin = false) =>
    request<{ token: string; user: User }>('POST', '/api/auth/dev-login', { name, groups, admin }),
  me: () => request<User>('GET', '/api/me'),
  ticket: () => request<{ ticket: string; expiresAt: string }>('POST', '/api/ws-ticket'),
  rooms: () => request<unknown>('GET', '/api/rooms'),
  clusters: () => request<unknown>('GET', '/api/clusters'),
  access: (cluster: string, namespace: string) =>
    request<unknown>('GET', `/api/access?${new URLSearchParams({ cluster, namespace })}`),
  resources: (kind: string, cluster: string, namespace: string) =>
    request<unknown>('GET', `/api/resources/${encodeURIComponent(kind)}?${new URLSearchParams({ cluster, namespace })}`),
  resourceYAML: (kind: string, name: string, cluster: string, namespace: string) =>
    request<string>('GET', resourcePath(kind, name, { cluster, namespace }), undefined, 'application/yaml'),
  resource: (kind: string, name: string, cluster: string, namespace: string) =>
    request<unknown>('GET', resourcePath(kind, name, { cluster, namespace })),
  apply: (yaml: string, o: { cluster: string; namespace: string; dryRun: boolean; force: boolean; room: string }) =>
    write(
      'POST',
      `/api/apply?${new URLSearchParams({ cluster: o.cluster, namespace: o.namespace, dryRun: String(o.dryRun), force: String(o.force) })}`,
      o.room,
      { type: 'application/yaml', text: yaml },
    ),
  scale: (kind: string, name: string, cluster: string, namespace: string, replicas: number, room: string) =>
    write('POST', resourcePath(kind, name, { cluster, namespace }, 'scale'), room, { type: 'application/json', text: JSON.stringify({ replicas }) }),
  restart: (kind: string, name: string, cluster: string, namespace: string, room: string) =>
    write('POST', resourcePath(kind, name, { cluster, namespace }, 'restart'), room),
  remove: (kind: string, name: string, cluster: string, namespace: string, propagation: string, room: string) =>
    write('DELETE', resourcePath(kind, name, { cluster, namespace, propagation }), room),
  roomDoc: (room: string) => request<unknown>('GET', `/api/rooms/${encodeURIComponent(room)}/doc`),
  adminPresence: () => request<unknown>('GET', '/api/admin/presence'),
  adminSessions: () => request<unknown>('GET', '/api/admin/sessions'),
  adminEndShell: (session: string) => request<unknown>('DELETE', `/api/admin/sessions/${encodeURIComponent(session)}`),
  adminDisconnect: (conn: string) => request<unknown>('DELETE', `/api/admin/connections/${encodeURIComponent(conn)}`),
  adminConnections: () => request<unknown>('GET', '/api/admin/connections'),
  adminDisconnectUser: (user: string) => request<unknown>('DELETE', `/api/admin/users/${encodeURIComponent(user)}/connections`),
}

/** Items of a list response: a Kubernetes List ({items}) or a bare array. */
export function itemsOf(body: unknown): Record<string, unknown>[] {
  if (Array.isArray(body)) return body as Record<string, unknown>[]
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>
    for (const k of ['items', 'rooms', 'clusters', 'entries', 'users']) if (Array.isArray(o[k])) return o[k] as Record<string, unknown>[]
  }
  return []
}
