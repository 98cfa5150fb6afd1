// The room's activity feed: root `activity` of the room document, a Y.Array of Y.Maps
//   {at (RFC 3339), user, verb (apply|scale|restart|delete|deploy), kind, namespace, name,
//    result (ok|refused|failed)}
// appended by the server for every write made from the room (newest last, at most 200).
// Clients only read it, and what they read is untrusted: an entry with a missing or wrongly
// typed field is skipped rather than shown half-empty.
import * as Y from 'yjs'

export const ACTIVITY_VERBS = ['apply', 'scale', 'restart', 'delete', 'deploy'] as const
export const ACTIVITY_RESULTS = ['ok', 'refused', 'failed'] as const
export const ACTIVITY_MAX = 200

export interface ActivityEntry {
  at: string
  /** Milliseconds since the epoch, from `at`. */
  time: number
  user: string
  verb: (typeof ACTIVITY_VERBS)[number]
  kind: string
  namespace: string
  name: string
  result: (typeof ACTIVITY_RESULTS)[number]
}

export function activityArray(doc: Y.Doc): Y.Array<unknown> {
  return doc.getArray('activity')
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i

/** One entry from a Y.Map (or the same as plain JSON); null when it is malformed. */
export function readActivity(v: unknown): ActivityEntry | null {
  let get: (k: string) => unknown
  if (v instanceof Y.Map) get = (k) => v.get(k)
  else if (v && typeof v === 'object' && !Array.isArray(v)) get = (k) => (v as Record<string, unknown>)[k]
  else return null
  const s = (k: string) => {
    const x = get(k)
    return typeof x === 'string' ? x : null
  }
  const at = s('at')
  const user = s('user')
  const verb = s('verb')
  const kind = s('kind')
  const namespace = s('namespace') ?? ''
  const name = s('name')
  const result = s('result')
  if (at === null || !RFC3339.test(at) || !user || kind === null || name === null) return null
  const time = Date.parse(at)
  if (!Number.isFinite(time)) return null
  if (!ACTIVITY_VERBS.includes(verb as ActivityEntry['verb']) || !ACTIVITY_RESULTS.includes(result as ActivityEntry['result'])) return null
  return { at, time, user, verb: verb as ActivityEntry['verb'], kind, namespace, name, result: result as ActivityEntry['result'] }
}

/** The valid entries, newest first (the array's order: the server appends). */
export function listActivity(arr: Y.Array<unknown>): ActivityEntry[] {
  const items = arr.toArray()
  const out: ActivityEntry[] = []
  for (let i = items.length - 1; i >= 0 && out.length < ACTIVITY_MAX; i--) {
    const e = readActivity(items[i])
    if (e) out.push(e)
  }
  return out
}

const PAST: Record<ActivityEntry['verb'], string> = { apply: 'applied', scale: 'scaled', restart: 'restarted', delete: 'deleted', deploy: 'deployed' }

/** "bob scaled deployments team-a/web", or "bob tried to delete …" when it did not go through. */
export function describeActivity(e: ActivityEntry): string {
  const what = `${e.kind} ${e.namespace ? e.namespace + '/' : ''}${e.name}`
  if (e.result === 'ok') return `${e.user} ${PAST[e.verb]} ${what}`
  return `${e.user} tried to ${e.verb} ${what} (${e.result})`
}
