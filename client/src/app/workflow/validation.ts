// The server's validation of the room's workflow (GET /api/rooms/{room}/workflow/validation),
// read leniently and indexed for the canvas (a badge per node) and the inspector (per field).

export interface ValidationError {
  nodeId: string
  edgeId: string
  field: string
  code: string
  message: string
}

export interface Validation {
  errors: ValidationError[]
  hash: string
  /** node id -> its errors; edge errors are counted on both ends' nodes by the caller. */
  byNode: Map<string, ValidationError[]>
  byEdge: Map<string, ValidationError[]>
}

const s = (v: unknown, max = 2000): string => (typeof v === 'string' ? v.slice(0, max) : '')

export const EMPTY_VALIDATION: Validation = { errors: [], hash: '', byNode: new Map(), byEdge: new Map() }

export function parseValidation(body: unknown): Validation {
  const o = body && typeof body === 'object' ? (body as Record<string, unknown>) : {}
  const list = Array.isArray(o.errors) ? o.errors : []
  const errors: ValidationError[] = []
  for (const e of list.slice(0, 5000)) {
    if (!e || typeof e !== 'object') continue
    const r = e as Record<string, unknown>
    const code = s(r.code, 64)
    if (!code) continue
    errors.push({ nodeId: s(r.nodeId, 256), edgeId: s(r.edgeId, 256), field: s(r.field, 128), code, message: s(r.message) })
  }
  const byNode = new Map<string, ValidationError[]>()
  const byEdge = new Map<string, ValidationError[]>()
  for (const e of errors) {
    if (e.nodeId) byNode.set(e.nodeId, [...(byNode.get(e.nodeId) ?? []), e])
    if (e.edgeId) byEdge.set(e.edgeId, [...(byEdge.get(e.edgeId) ?? []), e])
  }
  return { errors, hash: s(o.hash, 128), byNode, byEdge }
}

/** The errors of one field of a node (field "" errors are the node's own). */
export function fieldErrors(v: Validation, nodeId: string, field: string): ValidationError[] {
  return (v.byNode.get(nodeId) ?? []).filter((e) => e.field === field)
}
