// Awareness state (SPEC §6): what each participant publishes about themselves. It is ephemeral,
// relayed by the server and never stored in the document. Remote states are untrusted input.
import type { Awareness } from 'y-protocols/awareness'
import type { Viewport } from './layout.ts'

export interface PresenceState {
  userId: string
  name: string
  color: string
  /** Pointer position in world coordinates; null when the pointer is off the canvas. */
  cursor: { x: number; y: number } | null
  activeKrateId: string | null
  spotlightQuery: string | null
  viewport: Viewport | null
  timestamp: number
  /** False when this person opted out of being followed. Absent means followable. */
  followable?: boolean
  /** The workflow node (and inspector field, "" for the node itself) this person edits. */
  wfFocus?: WfFocus | null
}

export interface WfFocus {
  nodeId: string
  field: string
}

export interface Peer extends PresenceState {
  clientId: number
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** Validates a remote awareness state; null when it is not a usable presence state. */
export function parsePresence(v: unknown): PresenceState | null {
  if (!v || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  if (typeof o.userId !== 'string' || o.userId === '') return null
  const c = o.cursor as Record<string, unknown> | null | undefined
  const vp = o.viewport as Record<string, unknown> | null | undefined
  return {
    userId: o.userId.slice(0, 128),
    name: (typeof o.name === 'string' && o.name ? o.name : o.userId).slice(0, 64),
    color: typeof o.color === 'string' && /^#[0-9a-f]{3,8}$/i.test(o.color) ? o.color : '#888888',
    cursor: c && isNum(c.x) && isNum(c.y) ? { x: c.x, y: c.y } : null,
    activeKrateId: typeof o.activeKrateId === 'string' ? o.activeKrateId : null,
    spotlightQuery: typeof o.spotlightQuery === 'string' ? o.spotlightQuery.slice(0, 200) : null,
    viewport:
      vp && isNum(vp.x) && isNum(vp.y) && isNum(vp.w) && isNum(vp.h) && isNum(vp.zoom) && vp.zoom > 0
        ? { x: vp.x, y: vp.y, w: vp.w, h: vp.h, zoom: vp.zoom }
        : null,
    timestamp: isNum(o.timestamp) ? o.timestamp : 0,
    followable: o.followable !== false,
    wfFocus: parseFocus(o.wfFocus),
  }
}

function parseFocus(v: unknown): WfFocus | null {
  if (!v || typeof v !== 'object') return null
  const f = v as Record<string, unknown>
  if (typeof f.nodeId !== 'string' || f.nodeId === '' || f.nodeId.length > 256) return null
  return { nodeId: f.nodeId, field: typeof f.field === 'string' ? f.field.slice(0, 128) : '' }
}

/** Who edits which workflow node: node id -> distinct people with the field each one is in. */
export function focusByNode(peers: Peer[]): Map<string, Peer[]> {
  const out = new Map<string, Peer[]>()
  for (const p of uniqueUsers(peers.filter((p) => p.wfFocus))) {
    const id = p.wfFocus!.nodeId
    out.set(id, [...(out.get(id) ?? []), p])
  }
  return out
}

/** Every other participant (by awareness client id), skipping our own client and junk states. */
export function peersOf(states: Map<number, unknown>, selfClientId: number): Peer[] {
  const out: Peer[] = []
  for (const [clientId, s] of states) {
    if (clientId === selfClientId) continue
    const p = parsePresence(s)
    if (p) out.push({ ...p, clientId })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.clientId - b.clientId)
}

/**
 * One entry per person for the header: someone with two tabs open is one avatar. The most
 * recently active tab wins (it is the one worth following).
 */
export function uniqueUsers(peers: Peer[]): Peer[] {
  const by = new Map<string, Peer>()
  for (const p of peers) {
    const cur = by.get(p.userId)
    if (!cur || p.timestamp > cur.timestamp) by.set(p.userId, p)
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name))
}

/** Who focuses which krate: krate id -> distinct people, for the "watching" badges. */
export function watchersByKrate(peers: Peer[]): Map<string, Peer[]> {
  const out = new Map<string, Peer[]>()
  for (const p of uniqueUsers(peers.filter((p) => p.activeKrateId))) {
    const list = out.get(p.activeKrateId!) ?? []
    list.push(p)
    out.set(p.activeKrateId!, list)
  }
  return out
}

/** Publishes this person's cursor (world coordinates; null when off the canvas), stamped now. */
export function publishCursor(awareness: Awareness, cursor: { x: number; y: number } | null): void {
  const st = awareness.getLocalState()
  if (!st) return
  awareness.setLocalState({ ...st, cursor, timestamp: Date.now() })
}
