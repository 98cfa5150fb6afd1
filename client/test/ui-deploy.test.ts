import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { deployActions, listDeploys, nodeStatuses, parsePolicy, readDeploy, rollbackAction, type Deploy, type Viewer } from '../src/app/workflow/deployModel.ts'

const writer = (user: string): Viewer => ({ user, canWrite: { ok: true, reason: '' } })
const viewOnly: Viewer = { user: 'carol', canWrite: { ok: false, reason: 'Kubernetes RBAC does not let you patch deployments in namespace shop' } }

function planned(over: Record<string, unknown> = {}): Deploy {
  return readDeploy('d1', {
    id: 'd1', proposer: 'alice', createdAt: '2026-12-02T16:00:00Z', cluster: 'local', state: 'planned', workflowHash: 'h',
    plan: [{ nodeId: 'n1', kind: 'Deployment', namespace: 'shop', name: 'web', action: 'create', diff: '+ replicas: 1' }],
    approvals: [], required: 1, nodes: {}, ...over,
  })!
}

test('deploys are read from Y types or plain JSON, junk dropped, newest first', () => {
  const doc = new Y.Doc()
  const deploys = doc.getMap('deploys')
  const y = new Y.Map<unknown>()
  doc.transact(() => {
    deploys.set('old', { id: 'old', state: 'succeeded', createdAt: '2026-12-02T10:00:00Z', plan: [], approvals: [], nodes: { n1: { status: 'ready' } } })
    deploys.set('new', y)
    y.set('id', 'new')
    y.set('state', 'applying')
    y.set('createdAt', '2026-12-02T11:00:00Z')
    const plan = new Y.Array<unknown>()
    plan.push([{ nodeId: 'n1', action: 'update', diff: { replicas: [1, 2] } }, { action: 'create' }, 'junk'])
    y.set('plan', plan)
    const nodes = new Y.Map<unknown>()
    nodes.set('n1', { status: 'progressing', message: '1/2 ready' })
    nodes.set('n2', { status: 'exploded' })
    y.set('nodes', nodes)
    deploys.set('bad', { state: 'dancing' })
    deploys.set('worse', 7)
  })
  const list = listDeploys(doc)
  assert.deepEqual(list.map((d) => d.id), ['new', 'old'])
  assert.equal(list[0]!.plan.length, 1)
  assert.equal(list[0]!.plan[0]!.action, 'update')
  assert.match(list[0]!.plan[0]!.diff, /replicas/)
  assert.equal(list[0]!.nodes.get('n2')!.status, 'pending')
  const st = nodeStatuses(list)
  assert.equal(st.get('n1'), 'progressing')
  assert.equal(st.get('n2'), 'pending')
})

test('policy reads leniently', () => {
  assert.deepEqual(parsePolicy({ approvals: 2, fourEyes: true }), { approvals: 2, fourEyes: true })
  assert.deepEqual(parsePolicy({ approvals: '2', fourEyes: 'yes' }), { approvals: 0, fourEyes: false })
})

test('four-eyes: the proposer cannot approve and their approval does not count', () => {
  const policy = { approvals: 1, fourEyes: true }
  const d = planned()
  const alice = deployActions(d, policy, writer('alice'))
  assert.equal(alice.approve.ok, false)
  assert.match(alice.approve.reason, /four-eyes/)
  assert.equal(alice.apply.ok, false)
  assert.match(alice.apply.reason, /1 more approval/)
  const bob = deployActions(d, policy, writer('bob'))
  assert.equal(bob.approve.ok, true)
  assert.equal(bob.reject.ok, true)
  assert.equal(bob.cancel.ok, true)
  const selfApproved = planned({ approvals: [{ user: 'alice', at: 't' }] })
  assert.equal(deployActions(selfApproved, policy, writer('bob')).counted, 0)
  const approved = planned({ state: 'approved', approvals: [{ user: 'bob', at: 't' }] })
  const b2 = deployActions(approved, policy, writer('bob'))
  assert.equal(b2.apply.ok, true)
  assert.equal(b2.approve.ok, false)
  assert.match(b2.approve.reason, /already/)
  assert.equal(deployActions(approved, { approvals: 0, fourEyes: false }, writer('alice')).approve.ok, true)
})

test('the deploy keeps the policy it was planned under; writes off refuse only the apply', () => {
  const d = planned({ required: 0, fourEyes: false })
  const strict = { approvals: 2, fourEyes: true }
  const a = deployActions(d, strict, writer('alice'))
  assert.equal(a.required, 0)
  assert.equal(a.apply.ok, true)
  assert.equal(a.approve.ok, true)
  const off = deployActions(d, strict, { ...writer('alice'), writes: { ok: false, reason: 'writes are disabled on this server' } })
  assert.match(off.apply.reason, /disabled/)
  assert.equal(off.approve.ok, true)
  assert.equal(deployActions(planned({ fourEyes: true, required: 1 }), { approvals: 0, fourEyes: false }, writer('alice')).approve.ok, false)
})

test('view-only users see every action disabled with the RBAC reason', () => {
  const a = deployActions(planned({ state: 'approved', approvals: [{ user: 'bob', at: 't' }] }), { approvals: 1, fourEyes: true }, viewOnly)
  for (const e of [a.approve, a.reject, a.apply, a.cancel]) {
    assert.equal(e.ok, false)
    assert.match(e.reason, /RBAC/)
  }
})

test('plans with errors, finished and invalidated deploys', () => {
  const policy = { approvals: 0, fourEyes: false }
  const bad = planned({ plan: [{ nodeId: 'n1', action: 'create', error: 'forbidden: cannot create deployments' }] })
  assert.match(deployActions(bad, policy, writer('bob')).apply.reason, /1 error/)
  const done = planned({ state: 'succeeded' })
  const a = deployActions(done, policy, writer('bob'))
  assert.equal(a.apply.ok || a.approve.ok || a.cancel.ok || a.reject.ok, false)
  const inv = planned({ state: 'invalidated', reason: 'the workflow changed' })
  assert.equal(deployActions(inv, policy, writer('bob')).replan.ok, true)
  assert.equal(inv.reason, 'the workflow changed')
  const applying = planned({ state: 'applying' })
  assert.equal(deployActions(applying, policy, writer('bob')).cancel.ok, true)
  const earlier = readDeploy('d0', { id: 'd0', state: 'succeeded', cluster: 'local', createdAt: '2026-12-02T15:00:00Z' })!
  assert.equal(rollbackAction(done, [applying, done, earlier], writer('bob')).ok, false)
  assert.equal(rollbackAction(done, [done, earlier], writer('bob')).ok, true)
  assert.match(rollbackAction(done, [done], writer('bob')).reason, /nothing to roll back to/)
  assert.equal(rollbackAction(done, [done, earlier], viewOnly).ok, false)
  assert.equal(rollbackAction(earlier, [done, earlier], writer('bob')).ok, false)
  assert.equal(rollbackAction(applying, [applying], writer('bob')).ok, false)
})
