// The deploys the server writes into the document root `deploys` (deploy id -> Y.Map), read
// leniently (Y types or plain JSON, anything malformed dropped), and which of Approve, Reject,
// Apply, Cancel, Rollback and Replan the server would accept from this user now, with the
// reason when not. The server decides; this only shapes the panel.
import * as Y from 'yjs'
import { STATUSES, type NodeStatus } from './model.ts'

export const DEPLOY_STATES = ['planned', 'approved', 'applying', 'succeeded', 'failed', 'cancelled', 'invalidated', 'rejected', 'rolled-back'] as const
export type DeployState = (typeof DEPLOY_STATES)[number]
export const PLAN_ACTIONS = ['create', 'update', 'unchanged', 'delete'] as const
export type PlanAction = (typeof PLAN_ACTIONS)[number]

export interface PlanRow {
  nodeId: string
  kind: string
  namespace: string
  name: string
  action: PlanAction
  diff: string
  error: string
}

export interface Approval {
  user: string
  at: string
}

export interface Deploy {
  id: string
  proposer: string
  createdAt: string
  cluster: string
  state: DeployState
  workflowHash: string
  plan: PlanRow[]
  approvals: Approval[]
  required: number
  /** The policy copied into the deploy when it was planned (null: not said, the room's applies). */
  fourEyes: boolean | null
  hasRequired: boolean
  rollbackOf: string
  nodes: Map<string, { status: NodeStatus; message: string }>
  appliedBy: string
  finishedAt: string
  /** Why an invalidated (or failed) deploy ended, when the server says. */
  reason: string
}

export interface Policy {
  approvals: number
  fourEyes: boolean
}

const MAX = 64 << 10
const json = (v: unknown): unknown => (v instanceof Y.AbstractType ? v.toJSON() : v)
const str = (v: unknown, max = 1024): string => (typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' && Number.isFinite(v) ? String(v) : '')
const obj = (v: unknown): Record<string, unknown> | null => {
  const j = json(v)
  return j && typeof j === 'object' && !Array.isArray(j) ? (j as Record<string, unknown>) : null
}
const arr = (v: unknown): unknown[] => {
  const j = json(v)
  return Array.isArray(j) ? j.slice(0, 5000) : []
}
const oneOf = <T extends string>(list: readonly T[], v: unknown, d: T): T => (list.includes(v as T) ? (v as T) : d)

export function readDeploy(id: string, v: unknown): Deploy | null {
  const o = obj(v)
  if (!o) return null
  const state = o.state
  if (!DEPLOY_STATES.includes(state as DeployState)) return null
  const plan: PlanRow[] = []
  for (const r of arr(o.plan)) {
    const p = obj(r)
    if (!p || !str(p.nodeId)) continue
    const diff = typeof p.diff === 'string' ? p.diff : p.diff === undefined || p.diff === null ? '' : JSON.stringify(p.diff, null, 2)
    plan.push({
      nodeId: str(p.nodeId, 256),
      kind: str(p.kind, 64),
      namespace: str(p.namespace, 256),
      name: str(p.name, 256),
      action: oneOf(PLAN_ACTIONS, p.action, 'unchanged'),
      diff: diff.slice(0, MAX),
      error: typeof p.error === 'string' ? p.error.slice(0, 4096) : p.error ? JSON.stringify(p.error).slice(0, 4096) : '',
    })
  }
  const approvals: Approval[] = []
  for (const a of arr(o.approvals)) {
    const p = obj(a)
    if (p && str(p.user)) approvals.push({ user: str(p.user, 256), at: str(p.at, 64) })
  }
  const nodes = new Map<string, { status: NodeStatus; message: string }>()
  for (const [nid, s] of Object.entries(obj(o.nodes) ?? {})) {
    const p = obj(s)
    if (p) nodes.set(nid, { status: oneOf(STATUSES, p.status, 'pending'), message: str(p.message, 4096) })
  }
  const req = typeof o.required === 'number' && Number.isFinite(o.required) ? Math.max(0, Math.floor(o.required)) : 0
  return {
    id: str(o.id, 256) || id,
    proposer: str(o.proposer, 256),
    createdAt: str(o.createdAt, 64),
    cluster: str(o.cluster, 256),
    state: state as DeployState,
    workflowHash: str(o.workflowHash, 128),
    plan,
    approvals,
    required: req,
    hasRequired: typeof o.required === 'number',
    fourEyes: typeof o.fourEyes === 'boolean' ? o.fourEyes : null,
    rollbackOf: str(o.rollbackOf, 256),
    nodes,
    appliedBy: str(o.appliedBy, 256),
    finishedAt: str(o.finishedAt, 64),
    reason: str(o.reason ?? o.message, 4096),
  }
}

const time = (s: string): number => {
  const n = Number(s)
  if (s !== '' && Number.isFinite(n)) return n
  const t = Date.parse(s)
  return Number.isFinite(t) ? t : 0
}

/** Every deploy of the room, newest first. */
export function listDeploys(doc: Y.Doc): Deploy[] {
  const out: Deploy[] = []
  doc.getMap('deploys').forEach((v, id) => {
    const d = readDeploy(id, v)
    if (d) out.push(d)
  })
  return out.sort((a, b) => time(b.createdAt) - time(a.createdAt) || (a.id < b.id ? 1 : -1))
}

export function parsePolicy(v: unknown): Policy {
  const o = obj(v) ?? {}
  const n = typeof o.approvals === 'number' && Number.isFinite(o.approvals) ? Math.max(0, Math.floor(o.approvals)) : 0
  return { approvals: n, fourEyes: o.fourEyes === true }
}

export interface Enabled {
  ok: boolean
  reason: string
}

export interface DeployActions {
  approve: Enabled
  reject: Enabled
  apply: Enabled
  cancel: Enabled
  replan: Enabled
  /** Approvals that count towards the policy (four-eyes: not the proposer's). */
  counted: number
  required: number
}

export interface Viewer {
  user: string
  /** Whether this user may change objects in the target namespace (GET /api/access). */
  canWrite: Enabled
  /** Whether the server takes cluster writes at all (an apply is refused with writes_disabled). */
  writes?: Enabled
}

const yes: Enabled = { ok: true, reason: '' }
const no = (reason: string): Enabled => ({ ok: false, reason })
const OPEN: readonly DeployState[] = ['planned', 'approved']

/** What the server would accept on deploy d from viewer, under policy. */
export function deployActions(d: Deploy, policy: Policy, viewer: Viewer, busy = false): DeployActions {
  // A deploy keeps the policy it was planned under; the room's applies to deploys that do not say.
  const required = d.hasRequired ? d.required : policy.approvals
  const fourEyes = d.fourEyes ?? policy.fourEyes
  const counted = new Set(d.approvals.filter((a) => !(fourEyes && a.user === d.proposer)).map((a) => a.user)).size
  const open = OPEN.includes(d.state)
  const errors = d.plan.filter((r) => r.error).length
  const gate = (e: Enabled): Enabled => (!viewer.canWrite.ok ? no(viewer.canWrite.reason || 'you may not change the target namespace') : busy ? no('a request is under way') : e)

  let approve: Enabled = yes
  if (!open) approve = no(`the deploy is ${d.state}`)
  else if (errors) approve = no(`the plan has ${errors} error${errors === 1 ? '' : 's'}`)
  else if (d.approvals.some((a) => a.user === viewer.user)) approve = no('you approved it already')
  else if (fourEyes && d.proposer === viewer.user) approve = no('four-eyes: the proposer cannot approve their own deploy')

  let apply: Enabled = yes
  if (!open) apply = no(d.state === 'applying' ? 'it is being applied' : `the deploy is ${d.state}`)
  else if (errors) apply = no(`the plan has ${errors} error${errors === 1 ? '' : 's'}`)
  else if (counted < required) apply = no(`needs ${required - counted} more approval${required - counted === 1 ? '' : 's'}${fourEyes ? ' (not the proposer\'s)' : ''}`)
  else if (viewer.writes && !viewer.writes.ok) apply = viewer.writes

  return {
    approve: gate(approve),
    reject: gate(open ? yes : no(`the deploy is ${d.state}`)),
    apply: gate(apply),
    cancel: gate(open || d.state === 'applying' ? yes : no(`the deploy is ${d.state}`)),
    replan: gate(d.state === 'invalidated' ? yes : no('only an invalidated plan is replanned')),
    counted,
    required,
  }
}

/**
 * Whether a deploy can be rolled back: it succeeded, a deploy to the same cluster succeeded
 * before it (whose objects the rollback applies again), and no deploy is applying.
 */
export function rollbackAction(d: Deploy, all: readonly Deploy[], viewer: Viewer, busy = false): Enabled {
  if (!viewer.canWrite.ok) return no(viewer.canWrite.reason || 'you may not change the target namespace')
  if (busy) return no('a request is under way')
  if (d.state !== 'succeeded') return no(`only a succeeded deploy rolls back (this one is ${d.state})`)
  if (!all.some((o) => o.id !== d.id && o.state === 'succeeded' && o.cluster === d.cluster && time(o.createdAt) < time(d.createdAt))) {
    return no('no deploy succeeded before this one: nothing to roll back to')
  }
  const running = all.find((o) => o.state === 'applying')
  if (running) return no(`deploy ${running.id} is applying`)
  return yes
}

/** The status each node shows on the canvas: from the newest deploy that touched it. */
export function nodeStatuses(deploys: readonly Deploy[]): Map<string, NodeStatus> {
  const out = new Map<string, NodeStatus>()
  for (const d of deploys) for (const [id, s] of d.nodes) if (!out.has(id)) out.set(id, s.status)
  return out
}
