// The room document (SPEC §6). Only the structure of the workspace lives here: which krates
// exist, where, how big, stacked how, minimised or not. What a krate shows (log lines, terminal
// output, YAML) is streamed by each client on its own and never enters the document.
//
//   krates: Y.Map<id, Y.Map{kind, ref{cluster,namespace,kind,name,container}, wx, wy, w, h,
//                            minimized, z, owner?, session?}>
//
// `owner` is the user who created the krate and `session` the id of a shell krate's shared
// terminal session, so others can join it. Values written by other clients are untrusted:
// readKrate turns anything malformed into safe defaults instead of throwing.
import * as Y from 'yjs'

export type KrateKind = 'resources' | 'detail' | 'logs' | 'shell'
export const KRATE_KINDS: readonly KrateKind[] = ['resources', 'detail', 'logs', 'shell']

export interface KrateRef {
  cluster: string
  namespace: string
  /** Resource kind as the API names it in URLs (plural, lower case): pods, deployments, ... */
  kind: string
  name: string
  container: string
}

export interface Krate {
  id: string
  kind: KrateKind
  ref: KrateRef
  wx: number
  wy: number
  w: number
  h: number
  minimized: boolean
  z: number
  owner: string
  session: string
}

export const DEFAULT_SIZE: Record<KrateKind, { w: number; h: number }> = {
  resources: { w: 560, h: 360 },
  detail: { w: 520, h: 440 },
  logs: { w: 640, h: 340 },
  shell: { w: 640, h: 380 },
}

export const emptyRef = (): KrateRef => ({ cluster: '', namespace: '', kind: '', name: '', container: '' })

export function kratesMap(doc: Y.Doc): Y.Map<Y.Map<unknown>> {
  return doc.getMap('krates') as Y.Map<Y.Map<unknown>>
}

const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

function readRef(v: unknown): KrateRef {
  let o: Record<string, unknown> = {}
  if (v instanceof Y.Map) o = v.toJSON() as Record<string, unknown>
  else if (v && typeof v === 'object') o = v as Record<string, unknown>
  return { cluster: str(o.cluster), namespace: str(o.namespace), kind: str(o.kind), name: str(o.name), container: str(o.container) }
}

export function readKrate(id: string, m: Y.Map<unknown>): Krate {
  return readFields(id, (k) => m.get(k))
}

/** The same from the document's JSON (GET /api/rooms/{room}/doc). */
export function readKrateJSON(id: string, v: unknown): Krate {
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>
  return readFields(id, (k) => o[k])
}

function readFields(id: string, get: (k: string) => unknown): Krate {
  const kindV = get('kind')
  const kind: KrateKind = KRATE_KINDS.includes(kindV as KrateKind) ? (kindV as KrateKind) : 'resources'
  const size = DEFAULT_SIZE[kind]
  return {
    id,
    kind,
    ref: readRef(get('ref')),
    wx: num(get('wx'), 0),
    wy: num(get('wy'), 0),
    w: Math.max(1, num(get('w'), size.w)),
    h: Math.max(1, num(get('h'), size.h)),
    minimized: get('minimized') === true,
    z: num(get('z'), 0),
    owner: str(get('owner')),
    session: str(get('session')),
  }
}

export function listKrates(doc: Y.Doc): Krate[] {
  const out: Krate[] = []
  kratesMap(doc).forEach((m, id) => {
    if (m instanceof Y.Map) out.push(readKrate(id, m))
  })
  return out.sort((a, b) => a.z - b.z || (a.id < b.id ? -1 : 1))
}

export function topZ(doc: Y.Doc): number {
  let z = 0
  kratesMap(doc).forEach((m) => {
    if (m instanceof Y.Map) z = Math.max(z, num(m.get('z'), 0))
  })
  return z
}

export function newKrateId(): string {
  const a = new Uint8Array(8)
  crypto.getRandomValues(a)
  return 'k' + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('')
}

export interface NewKrate {
  kind: KrateKind
  ref: Partial<KrateRef>
  wx: number
  wy: number
  w?: number
  h?: number
  owner?: string
}

/** Adds a krate on top of every other one and returns its id. */
export function addKrate(doc: Y.Doc, k: NewKrate, id = newKrateId()): string {
  doc.transact(() => {
    const m = new Y.Map<unknown>()
    const size = DEFAULT_SIZE[k.kind]
    m.set('kind', k.kind)
    const ref = new Y.Map<unknown>()
    const r = { ...emptyRef(), ...k.ref }
    for (const key of Object.keys(r) as (keyof KrateRef)[]) ref.set(key, r[key])
    m.set('ref', ref)
    m.set('wx', k.wx)
    m.set('wy', k.wy)
    m.set('w', k.w ?? size.w)
    m.set('h', k.h ?? size.h)
    m.set('minimized', false)
    m.set('z', topZ(doc) + 1)
    if (k.owner) m.set('owner', k.owner)
    kratesMap(doc).set(id, m)
  })
  return id
}

type Patch = Partial<Pick<Krate, 'wx' | 'wy' | 'w' | 'h' | 'minimized' | 'z' | 'session'>>

/** Writes only the fields that changed, so concurrent edits of other fields are not overwritten. */
export function updateKrate(doc: Y.Doc, id: string, patch: Patch): boolean {
  const m = kratesMap(doc).get(id)
  if (!(m instanceof Y.Map)) return false
  doc.transact(() => {
    for (const [k, v] of Object.entries(patch)) {
      if (v !== undefined && m.get(k) !== v) m.set(k, v)
    }
  })
  return true
}

/** Makes a krate at least w x h (its current size, not a stale copy); false when it already is. */
export function growKrate(doc: Y.Doc, id: string, w: number, h: number): boolean {
  const m = kratesMap(doc).get(id)
  if (!(m instanceof Y.Map)) return false
  const k = readKrate(id, m)
  if (k.w >= w && k.h >= h) return false
  return updateKrate(doc, id, { w: Math.max(k.w, w), h: Math.max(k.h, h) })
}

/** Changes what a krate points at (for example the container of a logs krate). */
export function updateKrateRef(doc: Y.Doc, id: string, patch: Partial<KrateRef>): boolean {
  const m = kratesMap(doc).get(id)
  if (!(m instanceof Y.Map)) return false
  doc.transact(() => {
    let ref = m.get('ref')
    if (!(ref instanceof Y.Map)) {
      const old = readRef(ref)
      ref = new Y.Map<unknown>()
      for (const [k, v] of Object.entries(old)) (ref as Y.Map<unknown>).set(k, v)
      m.set('ref', ref)
    }
    for (const [k, v] of Object.entries(patch)) if (typeof v === 'string' && (ref as Y.Map<unknown>).get(k) !== v) (ref as Y.Map<unknown>).set(k, v)
  })
  return true
}

/** Raises a krate above all others; a krate already alone on top is left untouched (no update). */
export function bringToFront(doc: Y.Doc, id: string): boolean {
  const m = kratesMap(doc).get(id)
  if (!(m instanceof Y.Map)) return false
  const z = num(m.get('z'), 0)
  let higherOrEqual = false
  kratesMap(doc).forEach((o, oid) => {
    if (oid !== id && o instanceof Y.Map && num(o.get('z'), 0) >= z) higherOrEqual = true
  })
  if (!higherOrEqual) return false
  m.set('z', topZ(doc) + 1)
  return true
}

export function removeKrate(doc: Y.Doc, id: string): void {
  kratesMap(doc).delete(id)
}

/** A short title for a krate's title bar. */
export function krateTitle(k: Pick<Krate, 'kind' | 'ref'>): string {
  const r = k.ref
  const ns = r.namespace ? `${r.namespace}/` : ''
  switch (k.kind) {
    case 'resources':
      return `${r.kind || 'resources'} · ${r.namespace || 'all namespaces'}`
    case 'detail':
      return `${r.kind} ${ns}${r.name}`
    case 'logs':
      return `logs ${ns}${r.name}${r.container ? ` [${r.container}]` : ''}`
    case 'shell':
      return `shell ${ns}${r.name}${r.container ? ` [${r.container}]` : ''}`
  }
}
