import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsePresence, peersOf, uniqueUsers, watchersByKrate } from '../src/app/presence.ts'
import { accessKey, actionDecision, can, parseAccess } from '../src/app/access.ts'
import { backoff } from '../src/app/transport.ts'

const st = (userId: string, extra: Record<string, unknown> = {}) => ({
  userId, name: userId, color: '#3cb44b', cursor: { x: 1, y: 2 }, activeKrateId: null, spotlightQuery: null,
  viewport: { x: 0, y: 0, w: 100, h: 100, zoom: 1 }, timestamp: 1, ...extra,
})

test('parsePresence accepts the SPEC state and rejects junk', () => {
  assert.equal(parsePresence(null), null)
  assert.equal(parsePresence({ name: 'x' }), null)
  const p = parsePresence({ ...st('alice'), color: 'javascript:alert(1)', cursor: { x: 'a' }, viewport: { zoom: 0 } })!
  assert.equal(p.color, '#888888')
  assert.equal(p.cursor, null)
  assert.equal(p.viewport, null)
  assert.equal(p.followable, true)
  assert.equal(parsePresence(st('bob', { followable: false }))!.followable, false)
})

test('peersOf skips our own client and invalid states', () => {
  const states = new Map<number, unknown>([[1, st('me')], [2, st('bob')], [3, {}], [4, st('alice')]])
  assert.deepEqual(peersOf(states, 1).map((p) => p.clientId), [4, 2])
})

test('one avatar per person, the most recent tab wins; watchers grouped by krate', () => {
  const peers = peersOf(new Map<number, unknown>([
    [2, st('bob', { timestamp: 5, activeKrateId: 'k1' })],
    [3, st('bob', { timestamp: 9, activeKrateId: 'k2' })],
    [4, st('carol', { activeKrateId: 'k2' })],
  ]), 1)
  const users = uniqueUsers(peers)
  assert.deepEqual(users.map((u) => [u.userId, u.clientId]), [['bob', 3], ['carol', 4]])
  const w = watchersByKrate(peers)
  assert.equal(w.get('k1'), undefined)
  assert.deepEqual(w.get('k2')!.map((p) => p.userId), ['bob', 'carol'])
})

test('access: rule lists, maps and the default', () => {
  const a = parseAccess({ rules: [
    { verb: 'create', resource: 'pods', subresource: 'exec', allowed: false, reason: 'RBAC: no exec in demo' },
    { verb: 'get', resource: 'pods/log', allowed: true },
  ] })
  assert.deepEqual(actionDecision(a, 'shell', 'pods'), { allowed: false, reason: 'RBAC: no exec in demo' })
  assert.equal(actionDecision(a, 'logs', 'pods').allowed, true)
  assert.equal(actionDecision(a, 'details', 'secrets').allowed, true) // unknown: the server decides
  const b = parseAccess({ allowed: { 'create pods/exec': false, 'list secrets': { allowed: false, reason: 'no' } } })
  assert.equal(can(b, 'create', 'pods', 'exec').allowed, false)
  assert.match(can(b, 'create', 'pods', 'exec').reason, /may not create pods\/exec/)
  assert.deepEqual(can(b, 'list', 'secrets'), { allowed: false, reason: 'no' })
  assert.equal(accessKey('GET', 'Pods', 'log'), 'get pods/log')
  assert.equal(can(null, 'delete', 'pods').allowed, true)
})

test('access: the server answer (kinds and actions) with reasons written by the client', () => {
  const a = parseAccess({ cluster: 'c', namespace: 'demo', kinds: { pods: { get: true, list: true }, secrets: { get: false, list: false } }, actions: { 'pods/exec': false, 'pods/log': true }, writeEnabled: false })
  const shell = actionDecision(a, 'shell', 'pods')
  assert.equal(shell.allowed, false)
  assert.match(shell.reason, /shell.*namespace demo/)
  assert.equal(actionDecision(a, 'logs', 'pods').allowed, true)
  assert.equal(actionDecision(a, 'details', 'pods').allowed, true)
  assert.equal(actionDecision(a, 'details', 'secrets').allowed, false)
  assert.equal(actionDecision(a, 'list', 'secrets').allowed, false)
})

test('reconnect backoff grows, jitters within half, and caps at 10 s', () => {
  assert.equal(backoff(0, () => 0), 250)
  assert.equal(backoff(0, () => 1), 500)
  assert.equal(backoff(3, () => 1), 4000)
  assert.equal(backoff(20, () => 1), 10000)
})

test('workflow focus is validated and grouped by node, one entry per person', async () => {
  const { parsePresence, focusByNode } = await import('../src/app/presence.ts')
  assert.deepEqual(parsePresence({ userId: 'a', wfFocus: { nodeId: 'n1', field: 'image' } })!.wfFocus, { nodeId: 'n1', field: 'image' })
  assert.equal(parsePresence({ userId: 'a', wfFocus: { nodeId: 7 } })!.wfFocus, null)
  assert.equal(parsePresence({ userId: 'a', wfFocus: 'n1' })!.wfFocus, null)
  assert.deepEqual(parsePresence({ userId: 'a', wfFocus: { nodeId: 'n1' } })!.wfFocus, { nodeId: 'n1', field: '' })
  const peer = (clientId: number, userId: string, nodeId: string | null, timestamp = 0) => ({
    ...parsePresence({ userId, timestamp, wfFocus: nodeId ? { nodeId, field: 'env' } : null })!, clientId,
  })
  const m = focusByNode([peer(1, 'bob', 'n1'), peer(2, 'carol', 'n1'), peer(3, 'dan', null), peer(4, 'bob', 'n2', 5)])
  assert.deepEqual([...m.keys()].sort(), ['n1', 'n2'])
  assert.deepEqual(m.get('n1')!.map((p) => p.userId), ['carol'])
  assert.deepEqual(m.get('n2')!.map((p) => p.userId), ['bob'])
})
