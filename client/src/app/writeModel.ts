// Changing the cluster from the object detail krate: the YAML a person edits, the answers of
// POST /api/apply (a diff per object, or an error such as a field-manager conflict) and of the
// scale / restart / delete calls, and how a unified diff is coloured. Answers are read
// leniently: a field of the wrong type reads as empty instead of breaking the krate.
import { toYAML } from './resources.ts'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Metadata the server owns: sending it back would pin a stale version or be rejected. */
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'selfLink']

/** The live object as a person edits it: without status and the metadata the server owns. */
export function editableObject(obj: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'status' || v === undefined) continue
    if (k === 'metadata' && isObj(v)) {
      const m: Obj = {}
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_METADATA.includes(mk) && mv !== undefined) m[mk] = mv
      out[k] = m
    } else out[k] = v
  }
  return out
}

export function editableYAML(obj: Obj): string {
  return toYAML(editableObject(obj))
}

export type DiffKind = 'add' | 'del' | 'hunk' | 'meta' | 'ctx'

export interface DiffLine {
  kind: DiffKind
  text: string
}

/** Classifies each line of a unified diff for colouring. */
export function diffLines(diff: string): DiffLine[] {
  if (!diff) return []
  const lines = diff.replace(/\n$/, '').split('\n')
  return lines.map((text) => {
    let kind: DiffKind = 'ctx'
    if (text.startsWith('+++ ') || text.startsWith('--- ') || text.startsWith('diff ') || text.startsWith('index ') || text.startsWith('\\')) kind = 'meta'
    else if (text.startsWith('@@')) kind = 'hunk'
    else if (text.startsWith('+')) kind = 'add'
    else if (text.startsWith('-')) kind = 'del'
    return { kind, text }
  })
}

export interface Conflict {
  manager: string
  fields: string[]
}

export interface ObjectError {
  code: string
  message: string
  /** For code "conflict": who else manages which fields (take over with force). */
  conflicts: Conflict[]
}

export interface ObjectResult {
  apiVersion: string
  kind: string
  namespace: string
  name: string
  action: string
  diff: string
  error: ObjectError | null
}

export type Outcome = 'ok' | 'refused' | 'failed'

/** What a write call came back with: one outcome, a message for people, per-object results. */
export interface WriteOutcome {
  result: Outcome
  dryRun: boolean
  message: string
  code: string
  results: ObjectResult[]
}

const REFUSED_CODES = ['forbidden', 'writes_disabled']

/**
 * The managers and fields of a conflict: from structured fields when the server sends them,
 * else from the API server's message ('conflict with "kubectl" using apps/v1: .spec.replicas',
 * or a list of '- .spec.x' lines after 'conflicts with "m":').
 */
export function parseConflicts(e: Obj): Conflict[] {
  const list = Array.isArray(e.conflicts) ? e.conflicts : Array.isArray(e.managers) ? e.managers : null
  if (list) {
    const byManager = new Map<string, string[]>()
    for (const c of list) {
      const manager = typeof c === 'string' ? c : isObj(c) ? str(c.manager) : ''
      if (!manager) continue
      const fields = byManager.get(manager) ?? []
      if (isObj(c)) {
        if (typeof c.field === 'string') fields.push(c.field)
        if (Array.isArray(c.fields)) for (const f of c.fields) if (typeof f === 'string') fields.push(f)
      }
      byManager.set(manager, fields)
    }
    return [...byManager].map(([manager, fields]) => ({ manager, fields }))
  }
  const msg = str(e.message)
  const out: Conflict[] = []
  const re = /conflicts? with "([^"]+)"(?:[^:\n]*):?([^\n]*)((?:\n\s*- [^\n]+)*)/g
  for (let m = re.exec(msg); m; m = re.exec(msg)) {
    const fields = [m[2]!, ...m[3]!.split('\n').map((l) => l.replace(/^\s*-\s*/, ''))].map((f) => f.trim()).filter((f) => f.startsWith('.'))
    const had = out.find((c) => c.manager === m![1])
    if (had) had.fields.push(...fields)
    else out.push({ manager: m[1]!, fields })
  }
  return out
}

function parseObjectError(v: unknown): ObjectError | null {
  if (!isObj(v)) return null
  const code = str(v.code)
  const message = str(v.message)
  if (!code && !message) return null
  return { code: code || 'failed', message, conflicts: code === 'conflict' ? parseConflicts(v) : [] }
}

export function parseResults(body: unknown): ObjectResult[] {
  if (!isObj(body) || !Array.isArray(body.results)) return []
  return body.results.filter(isObj).map((r) => ({
    apiVersion: str(r.apiVersion),
    kind: str(r.kind),
    namespace: str(r.namespace),
    name: str(r.name),
    action: str(r.action),
    diff: str(r.diff),
    error: parseObjectError(r.error),
  }))
}

/**
 * The outcome of a write call from its HTTP status and JSON body: refused when the server or
 * RBAC said no (403, or an object refused as forbidden), failed for any other error (a failed
 * dry run is 422 with per-object errors), ok when every object went through.
 */
export function writeOutcome(status: number, body: unknown, dryRun = false): WriteOutcome {
  const results = parseResults(body)
  const env = isObj(body) && isObj(body.error) ? body.error : null
  const envCode = env ? str(env.code) : ''
  const envMessage = env ? str(env.message) : ''
  const bodyDryRun = isObj(body) && typeof body.dryRun === 'boolean' ? body.dryRun : dryRun
  const failed = results.filter((r) => r.error)
  let result: Outcome = 'ok'
  let code = envCode
  let message = envMessage
  if (status < 200 || status >= 300) {
    result = status === 403 || REFUSED_CODES.includes(envCode) ? 'refused' : 'failed'
  } else if (failed.length > 0) {
    result = failed.every((r) => REFUSED_CODES.includes(r.error!.code)) ? 'refused' : 'failed'
  }
  if (!code && failed.length > 0) code = failed[0]!.error!.code
  if (!code && result !== 'ok') code = `http_${status}`
  if (!message && failed.length > 0) message = failed.map((r) => `${r.kind} ${r.name}: ${r.error!.message || r.error!.code}`).join('; ')
  if (!message && result !== 'ok') message = `the server answered ${status}`
  return { result, dryRun: bodyDryRun, message, code, results }
}

/** The objects whose apply met another field manager (re-sent with force to take over). */
export const conflictsOf = (o: WriteOutcome): ObjectResult[] => o.results.filter((r) => r.error?.code === 'conflict')

/** Kinds with a scale subresource the UI offers Scale on, and the kinds it offers Restart on. */
export const SCALABLE = ['deployments', 'statefulsets', 'replicasets']
export const RESTARTABLE = ['deployments', 'statefulsets', 'daemonsets']

/** A replica count a person typed: a whole number from 0 to 10,000, else null. */
export function parseReplicas(s: string): number | null {
  if (!/^\s*\d+\s*$/.test(s)) return null
  const n = Number(s)
  return n <= 10_000 ? n : null
}
