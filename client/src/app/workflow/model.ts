// The workflow in the room document (docs/workflow.md): root `workflow` Y.Map with `namespace`,
// `nodes` (node id -> Y.Map) and `edges` (edge id -> Y.Map {from, to, kind[, path]}). Values
// written by other clients are untrusted: reading turns anything malformed into safe defaults,
// and the server's validation (GET .../workflow/validation) says what is wrong with it.
//
// Writes go per field, so two people editing different fields of one node both keep their
// edits; env, data and resources are nested Y.Maps, so two people editing different entries do
// too. Every local write carries LOCAL, the origin the undo manager tracks.
import * as Y from 'yjs'
import { EDGE_KINDS, NODE_KINDS } from './relations.gen.ts'

export { EDGE_KINDS, NODE_KINDS }

/** The key/value fields a kind has (docs/workflow.md). */
export function mapFieldsOf(kind: string): MapField[] {
  return NODE_KINDS[kind] === true ? ['env', 'resources'] : kind === 'ConfigMap' ? ['data'] : []
}

/** The origin of this client's workflow writes (the undo manager tracks it). */
export const LOCAL = { origin: 'local-workflow-edit' } as const

export const STATUSES = ['pending', 'applying', 'progressing', 'ready', 'failed'] as const
export type NodeStatus = (typeof STATUSES)[number]

/** Fields edited as key -> value entries (nested Y.Maps). */
export const MAP_FIELDS = ['env', 'data', 'resources'] as const
export type MapField = (typeof MAP_FIELDS)[number]

export interface WfNode {
  id: string
  kind: string
  name: string
  namespace: string
  x: number
  y: number
  /** Every field as JSON (nested Y types read as their JSON), position and identity included. */
  fields: Record<string, unknown>
}

export interface WfEdge {
  id: string
  from: string
  to: string
  kind: string
  path: string
}

export type FieldType = 'string' | 'number' | 'image' | 'map' | 'list' | 'select'

export interface FieldSpec {
  field: string
  type: FieldType
  required?: boolean
  options?: readonly string[]
  placeholder?: string
}

const WORKLOAD: FieldSpec[] = [
  { field: 'image', type: 'image', required: true, placeholder: 'nginx:1.27' },
  { field: 'replicas', type: 'number' },
  { field: 'ports', type: 'list', placeholder: '80, 443' },
  { field: 'env', type: 'map' },
  { field: 'command', type: 'list' },
  { field: 'args', type: 'list' },
  { field: 'resources', type: 'map' },
]
const JOB: FieldSpec[] = WORKLOAD.filter((f) => f.field !== 'replicas' && f.field !== 'ports')

/** The fields the inspector shows per kind, after name and namespace (docs/workflow.md). */
export const FIELDS: Readonly<Record<string, readonly FieldSpec[]>> = {
  Deployment: WORKLOAD,
  StatefulSet: WORKLOAD,
  Job: JOB,
  CronJob: [{ field: 'schedule', type: 'string', required: true, placeholder: '*/5 * * * *' }, ...JOB],
  Service: [
    { field: 'port', type: 'number', required: true },
    { field: 'targetPort', type: 'string', placeholder: 'same as port' },
    { field: 'type', type: 'select', options: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
  ],
  Ingress: [
    { field: 'host', type: 'string', placeholder: 'app.example.com' },
    { field: 'path', type: 'string', placeholder: '/' },
  ],
  ConfigMap: [{ field: 'data', type: 'map' }],
  SecretRef: [{ field: 'secretName', type: 'string', required: true }],
  PersistentVolumeClaim: [
    { field: 'size', type: 'string', required: true, placeholder: '1Gi' },
    { field: 'storageClassName', type: 'string' },
  ],
}

/** The fields a card shows under its name. */
export const KEY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['image', 'replicas'],
  StatefulSet: ['image', 'replicas'],
  Job: ['image'],
  CronJob: ['schedule', 'image'],
  Service: ['port', 'type'],
  Ingress: ['host', 'path'],
  ConfigMap: ['data'],
  SecretRef: ['secretName'],
  PersistentVolumeClaim: ['size'],
}

/** What a new node of a kind starts with, so it is close to valid. */
export function defaultsFor(kind: string, name: string): Record<string, unknown> {
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
      return { image: 'nginx:1.27', replicas: 1 }
    case 'Job':
      return { image: 'busybox:1.36' }
    case 'CronJob':
      return { image: 'busybox:1.36', schedule: '*/5 * * * *' }
    case 'Service':
      return { port: 80 }
    case 'Ingress':
      return { host: `${name}.example.com` }
    case 'SecretRef':
      return { secretName: name }
    case 'PersistentVolumeClaim':
      return { size: '1Gi' }
    default:
      return {}
  }
}

export function workflowMap(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('workflow')
}

function child(doc: Y.Doc, key: 'nodes' | 'edges'): Y.Map<unknown> | null {
  const v = workflowMap(doc).get(key)
  return v instanceof Y.Map ? v : null
}

export const nodesMap = (doc: Y.Doc) => child(doc, 'nodes')
export const edgesMap = (doc: Y.Doc) => child(doc, 'edges')

/**
 * Creates `nodes` and `edges` when absent (two peers creating one nested map at once keep only
 * one of them, so this is done only when missing, in the write that needs it). A non-map value
 * stored there is left alone: the write fails and the server's validation reports it.
 */
function ensure(doc: Y.Doc, key: 'nodes' | 'edges'): Y.Map<unknown> | null {
  const wf = workflowMap(doc)
  const v = wf.get(key)
  if (v instanceof Y.Map) return v
  if (v !== undefined) return null
  const m = new Y.Map<unknown>()
  wf.set(key, m)
  return m
}

const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

function toJSON(v: unknown): unknown {
  return v instanceof Y.AbstractType ? v.toJSON() : v
}

export function readNode(id: string, v: unknown): WfNode {
  const fields: Record<string, unknown> = {}
  if (v instanceof Y.Map) v.forEach((val, k) => (fields[k] = toJSON(val)))
  else if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(fields, v)
  return { id, kind: str(fields.kind), name: str(fields.name), namespace: str(fields.namespace), x: num(fields.x, 0), y: num(fields.y, 0), fields }
}

export function readEdge(id: string, v: unknown): WfEdge | null {
  const o = toJSON(v)
  if (!o || typeof o !== 'object' || Array.isArray(o)) return null
  const e = o as Record<string, unknown>
  return { id, from: str(e.from), to: str(e.to), kind: str(e.kind), path: str(e.path) }
}

export function listNodes(doc: Y.Doc): WfNode[] {
  const out: WfNode[] = []
  nodesMap(doc)?.forEach((v, id) => out.push(readNode(id, v)))
  return out.sort((a, b) => (a.id < b.id ? -1 : 1))
}

export function listEdges(doc: Y.Doc): WfEdge[] {
  const out: WfEdge[] = []
  edgesMap(doc)?.forEach((v, id) => {
    const e = readEdge(id, v)
    if (e) out.push(e)
  })
  return out.sort((a, b) => (a.id < b.id ? -1 : 1))
}

export function newId(prefix: string): string {
  const a = new Uint8Array(6)
  crypto.getRandomValues(a)
  return prefix + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A free DNS-label name for a new node of kind (the kind in lower case, numbered). */
export function freeName(doc: Y.Doc, kind: string): string {
  const base = kind === 'PersistentVolumeClaim' ? 'claim' : kind === 'SecretRef' ? 'secret' : kind.toLowerCase()
  const taken = new Set(listNodes(doc).filter((n) => n.kind === kind).map((n) => n.name))
  for (let i = 1; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`
}

/** Adds a node of kind at x, y with its kind's defaults; returns its id (null if the document's nodes are not a map). */
export function addNode(doc: Y.Doc, kind: string, x: number, y: number, id = newId('n')): string | null {
  let ok = false
  doc.transact(() => {
    const nodes = ensure(doc, 'nodes')
    if (!nodes) return
    const name = freeName(doc, kind)
    const m = new Y.Map<unknown>()
    m.set('kind', kind)
    m.set('name', name)
    m.set('x', Math.round(x))
    m.set('y', Math.round(y))
    for (const [k, v] of Object.entries(defaultsFor(kind, name))) m.set(k, v)
    // The node's key/value maps exist from the start: two people adding a first entry at once
    // would otherwise each create the map and one of them would lose theirs.
    for (const f of mapFieldsOf(kind)) m.set(f, new Y.Map<unknown>())
    nodes.set(id, m)
    ok = true
  }, LOCAL)
  return ok ? id : null
}

function nodeY(doc: Y.Doc, id: string): Y.Map<unknown> | null {
  const m = nodesMap(doc)?.get(id)
  return m instanceof Y.Map ? m : null
}

/** Writes one field (a plain JSON value; undefined deletes it) if it changed. */
export function setField(doc: Y.Doc, id: string, field: string, value: unknown): boolean {
  const m = nodeY(doc, id)
  if (!m) return false
  const cur = toJSON(m.get(field))
  if (JSON.stringify(cur) === JSON.stringify(value)) return true
  doc.transact(() => {
    if (value === undefined) m.delete(field)
    else m.set(field, value)
  }, LOCAL)
  return true
}

export function moveNode(doc: Y.Doc, id: string, x: number, y: number): boolean {
  const m = nodeY(doc, id)
  if (!m) return false
  doc.transact(() => {
    if (m.get('x') !== x) m.set('x', x)
    if (m.get('y') !== y) m.set('y', y)
  }, LOCAL)
  return true
}

/**
 * The nested map of a key/value field, created when missing. A plain JSON object stored there
 * (by an older client) is turned into a Y.Map with the same entries once.
 */
function entries(m: Y.Map<unknown>, field: MapField): Y.Map<unknown> {
  const v = m.get(field)
  if (v instanceof Y.Map) return v
  const y = new Y.Map<unknown>()
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, val] of Object.entries(v)) y.set(k, val)
  m.set(field, y)
  return y
}

/** Sets (value a string) or deletes (value null) one entry of env, data or resources. */
export function setEntry(doc: Y.Doc, id: string, field: MapField, key: string, value: string | null): boolean {
  const m = nodeY(doc, id)
  if (!m || key === '') return false
  doc.transact(() => {
    const e = entries(m, field)
    if (value === null) e.delete(key)
    else if (e.get(key) !== value) e.set(key, value)
  }, LOCAL)
  return true
}

/** Renames an entry keeping its value (one transaction: nobody sees both or neither). */
export function renameEntry(doc: Y.Doc, id: string, field: MapField, from: string, to: string): boolean {
  const m = nodeY(doc, id)
  if (!m || to === '' || from === to) return false
  doc.transact(() => {
    const e = entries(m, field)
    const v = e.get(from)
    e.delete(from)
    e.set(to, v ?? '')
  }, LOCAL)
  return true
}

/** Removes nodes and every edge touching them. */
export function removeNodes(doc: Y.Doc, ids: readonly string[]): void {
  const gone = new Set(ids)
  doc.transact(() => {
    const nodes = nodesMap(doc)
    for (const id of ids) nodes?.delete(id)
    const edges = edgesMap(doc)
    for (const e of listEdges(doc)) if (gone.has(e.from) || gone.has(e.to)) edges?.delete(e.id)
  }, LOCAL)
}

export function addEdge(doc: Y.Doc, from: string, to: string, kind: string, id = newId('e')): string | null {
  let ok = false
  doc.transact(() => {
    const edges = ensure(doc, 'edges')
    if (!edges) return
    const m = new Y.Map<unknown>()
    m.set('from', from)
    m.set('to', to)
    m.set('kind', kind)
    edges.set(id, m)
    ok = true
  }, LOCAL)
  return ok ? id : null
}

export function removeEdge(doc: Y.Doc, id: string): void {
  doc.transact(() => edgesMap(doc)?.delete(id), LOCAL)
}

export const isWorkload = (kind: string): boolean => NODE_KINDS[kind] === true

export interface EdgeOffer {
  from: string
  to: string
  kind: string
}

/**
 * The edges the server would accept between two nodes, whichever end the drag started from:
 * a relation has one direction (a Service selects a Deployment), so a drag from the Deployment
 * to the Service offers the same edge. Edges that exist already are not offered again.
 */
export function edgeOffers(a: Pick<WfNode, 'id' | 'kind'>, b: Pick<WfNode, 'id' | 'kind'>, existing: readonly WfEdge[] = []): EdgeOffer[] {
  if (a.id === b.id) return []
  const out: EdgeOffer[] = []
  for (const [kind, rel] of Object.entries(EDGE_KINDS)) {
    if (rel.from.includes(a.kind) && rel.to.includes(b.kind)) out.push({ from: a.id, to: b.id, kind })
    else if (rel.from.includes(b.kind) && rel.to.includes(a.kind)) out.push({ from: b.id, to: a.id, kind })
  }
  return out.filter((o) => !existing.some((e) => e.from === o.from && e.to === o.to && e.kind === o.kind))
}

/** Parses a list field's text: ports as numbers, command and args as strings. */
export function parseList(field: string, text: string): unknown[] {
  const parts = text.split(field === 'ports' ? /[\s,]+/ : /\n|,\s*/).map((s) => s.trim()).filter(Boolean)
  if (field !== 'ports') return parts
  return parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p))
}

export function formatList(v: unknown): string {
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : JSON.stringify(x))).join(', ') : ''
}

/** A number input's text as the document stores it: a number, or the text when it is not one (the server reports it). */
export function parseNumber(text: string): number | string | undefined {
  const t = text.trim()
  if (t === '') return undefined
  const n = Number(t)
  return Number.isFinite(n) ? n : t
}

/** The image field split for its two inputs: `repo[:tag]` (a registry port is not a tag). */
export function splitImage(image: string): { repo: string; tag: string } {
  const at = image.indexOf('@')
  if (at >= 0) return { repo: image.slice(0, at), tag: image.slice(at) }
  const i = image.lastIndexOf(':')
  if (i > image.lastIndexOf('/')) return { repo: image.slice(0, i), tag: image.slice(i + 1) }
  return { repo: image, tag: '' }
}

export function joinImage(repo: string, tag: string): string {
  if (!tag) return repo
  return tag.startsWith('@') ? repo + tag : `${repo}:${tag}`
}

/** Key/value entries of a map field as strings, sorted by key. */
export function entriesOf(v: unknown): [string, string][] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return []
  return Object.entries(v as Record<string, unknown>)
    .map(([k, val]): [string, string] => [k, typeof val === 'string' ? val : JSON.stringify(val)])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

/** A short text of a field's value for a card. */
export function summary(v: unknown): string {
  if (v === undefined || v === null || v === '') return ''
  if (Array.isArray(v)) return formatList(v)
  if (typeof v === 'object') {
    const n = Object.keys(v).length
    return `${n} ${n === 1 ? 'entry' : 'entries'}`
  }
  return String(v)
}
