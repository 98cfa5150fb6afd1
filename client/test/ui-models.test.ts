import { test } from 'node:test'
import assert from 'node:assert/strict'
import { age, containersOf, kindInfo, statusOf, toYAML } from '../src/app/resources.ts'
import { WatchStore } from '../src/app/watchModel.ts'
import { matchingKinds, search } from '../src/app/spotlightModel.ts'
import { formatAge, parseAdminConnections, parseAdminPresence, parseAdminSessions, withSessions } from '../src/app/adminModel.ts'
import { parseRoute, ROOM_ID } from '../src/app/router.ts'
import { parseRooms } from '../src/app/Home.tsx'

const pod = (name: string, ns = 'demo', extra: Record<string, unknown> = {}) => ({ metadata: { name, namespace: ns, resourceVersion: '1', uid: name }, ...extra })

test('kindInfo maps plurals and Kinds', () => {
  assert.equal(kindInfo('Pod').resource, 'pods')
  assert.equal(kindInfo('deployments').kind, 'Deployment')
  assert.equal(kindInfo('deployment').resource, 'deployments')
  assert.equal(kindInfo('pods').shell, true)
  assert.equal(kindInfo('services').logs, false)
  assert.equal(kindInfo('widgets.example.com').resource, 'widgets.example.com')
})

test('status colours', () => {
  assert.deepEqual(statusOf('pods', { status: { phase: 'Running', containerStatuses: [{ ready: true }] } }), { text: 'Running', tone: 'ok' })
  assert.deepEqual(statusOf('pods', { status: { phase: 'Running', containerStatuses: [{ ready: true }, { ready: false }] } }), { text: 'Running 1/2', tone: 'warn' })
  assert.deepEqual(statusOf('pods', { status: { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), { text: 'CrashLoopBackOff', tone: 'bad' })
  assert.equal(statusOf('pods', { status: { phase: 'Pending' } }).tone, 'warn')
  assert.equal(statusOf('pods', { metadata: { deletionTimestamp: 'x' }, status: { phase: 'Running' } }).text, 'Terminating')
  assert.deepEqual(statusOf('deployments', { spec: { replicas: 3 }, status: { readyReplicas: 3 } }), { text: '3/3', tone: 'ok' })
  assert.deepEqual(statusOf('deployments', { spec: { replicas: 3 }, status: {} }), { text: '0/3', tone: 'bad' })
  assert.equal(statusOf('deployments', { spec: { replicas: 0 } }).tone, 'idle')
  assert.equal(statusOf('nodes', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }).tone, 'ok')
  assert.equal(statusOf('jobs', { status: { failed: 1 } }).tone, 'bad')
  assert.equal(statusOf('configmaps', {}).text, '')
})

test('age like kubectl', () => {
  const now = Date.parse('2026-11-25T10:00:00Z')
  assert.equal(age('2026-11-25T09:59:30Z', now), '30s')
  assert.equal(age('2026-11-25T09:30:00Z', now), '30m')
  assert.equal(age('2026-11-24T10:00:00Z', now), '24h')
  assert.equal(age('2026-11-20T10:00:00Z', now), '5d')
  assert.equal(age('garbage', now), '')
})

test('toYAML renders nested objects, lists and quoted scalars; drops managedFields', () => {
  const y = toYAML({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'web', labels: { app: 'web' }, managedFields: [{ x: 1 }], annotations: {} },
    spec: { containers: [{ name: 'nginx', ports: [{ containerPort: 80 }], args: ['-g', 'daemon off;'] }] },
    data: { yes: 'true', empty: '', multi: 'a\nb', colon: 'a: b' },
  })
  assert.equal(y, [
    'apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', '  labels:', '    app: web', '  annotations: {}',
    'spec:', '  containers:', '  - name: nginx', '    ports:', '    - containerPort: 80', '    args:', '    - -g', '    - daemon off;',
    'data:', '  "yes": "true"', '  empty: ""', '  multi: "a\\nb"', '  colon: "a: b"', '',
  ].join('\n'))
})

test('containersOf', () => {
  assert.deepEqual(containersOf({ spec: { containers: [{ name: 'a' }, { name: 'b' }] } }), ['a', 'b'])
  assert.deepEqual(containersOf({}), [])
})

test('watch store: snapshot, changes, deletes, resume point, reset', () => {
  const s = new WatchStore()
  assert.equal(s.apply({ type: 'ADDED', kind: 'pods', object: pod('b') }), true)
  s.apply({ type: 'ADDED', kind: 'Pod', object: pod('a') })
  s.apply({ type: 'SYNCED', kind: 'pods', resourceVersion: '10' })
  assert.ok(s.synced.has('pods'))
  assert.equal(s.resourceVersion, '10')
  assert.deepEqual(s.list('pods').map((o) => (o.metadata as { name: string }).name), ['a', 'b'])
  s.apply({ type: 'MODIFIED', kind: 'pods', object: { ...pod('a'), status: { phase: 'Failed' }, metadata: { name: 'a', namespace: 'demo', resourceVersion: '11' } } })
  assert.equal(s.resourceVersion, '11')
  assert.equal((s.list()[0]!.status as { phase: string }).phase, 'Failed')
  assert.equal(s.apply({ type: 'DELETED', kind: 'pods', object: pod('zzz') }), false)
  s.apply({ type: 'DELETED', kind: 'pods', object: pod('b') })
  assert.equal(s.list().length, 1)
  s.apply({ type: 'ADDED', kind: 'events', object: pod('e1') })
  s.apply({ type: 'RESET', kind: 'pods' })
  assert.deepEqual(s.list().map((o) => (o.metadata as { name: string }).name), ['e1'])
  assert.equal(s.resourceVersion, '')
  assert.equal(s.synced.has('pods'), false)
  s.apply({ type: 'error', code: 'forbidden', message: 'no' })
  assert.deepEqual(s.error, { code: 'forbidden', message: 'no' })
  assert.equal(s.apply({ type: 'BOOKMARK' }), false)
})

test('spotlight search ranks name matches and needs every token', () => {
  const idx = [
    { resource: 'pods', kind: 'Pod', namespace: 'demo', name: 'web-5b48-abc' },
    { resource: 'pods', kind: 'Pod', namespace: 'team-a', name: 'web-5b48-def' },
    { resource: 'deployments', kind: 'Deployment', namespace: 'demo', name: 'web' },
    { resource: 'services', kind: 'Service', namespace: 'demo', name: 'api-web' },
    { resource: 'configmaps', kind: 'ConfigMap', namespace: 'demo', name: 'app-config' },
  ]
  assert.deepEqual(search(idx, 'web').map((e) => e.name), ['web', 'web-5b48-abc', 'web-5b48-def', 'api-web'])
  assert.deepEqual(search(idx, 'team-a web').map((e) => e.name), ['web-5b48-def'])
  assert.deepEqual(search(idx, 'pod demo').map((e) => e.name), ['web-5b48-abc'])
  assert.deepEqual(search(idx, '   '), [])
  assert.deepEqual(matchingKinds('dep').map((k) => k.resource), ['deployments'])
  assert.deepEqual(matchingKinds('p'), [])
})

test('admin presence rows from the server answer', () => {
  const now = Date.parse('2026-11-25T10:00:00Z')
  const rows = parseAdminPresence({
    presence: [
      { room: 'r1', userId: 'bob', userName: 'bob', connId: 'c2', replica: 'a', connectedAt: '2026-11-25T09:58:00Z', awareness: { userId: 'bob', name: 'bob', color: '#3cb44b', activeKrateId: 'k1' } },
      { room: 'r1', userId: 'alice', userName: 'alice', connId: 'c1', replica: 'b', connectedAt: '2026-11-25T09:59:30Z' },
      { room: 'r0', nothing: true },
    ],
  }, now)
  assert.deepEqual(rows.map((r) => [r.room, r.userId, r.replica, r.connId, now - r.connectedAt!, r.focus]), [
    ['r1', 'alice', 'b', 'c1', 30_000, ''],
    ['r1', 'bob', 'a', 'c2', 120_000, 'k1'],
  ])
  const nested = parseAdminPresence({ rooms: [{ id: 'x', users: [{ user: { id: 'u', name: 'U' }, ageSeconds: 5, shells: [{ id: 's1', namespace: 'demo', pod: 'p' }] }] }] }, now)
  assert.equal(nested[0]!.name, 'U')
  assert.deepEqual(nested[0]!.shells, [{ id: 's1', label: 'demo/p', role: '' }])
  assert.equal(formatAge(3_725_000), '1h 2m')
  assert.equal(formatAge(65_000), '1m 5s')
})

test('routes and room ids', () => {
  assert.deepEqual(parseRoute('/r/my-room'), { name: 'room', room: 'my-room' })
  assert.deepEqual(parseRoute('/r/a%20b/'), { name: 'room', room: 'a b' })
  assert.deepEqual(parseRoute('/r/%E0%A4%A'), { name: 'home' })
  assert.deepEqual(parseRoute('/admin'), { name: 'admin' })
  assert.deepEqual(parseRoute('/elsewhere'), { name: 'home' })
  assert.equal(ROOM_ID.test('team-a.standup_1'), true)
  assert.equal(ROOM_ID.test('../etc'), false)
  assert.deepEqual(parseRooms({ rooms: [{ id: 'r1', participants: 2, users: 1 }, { id: '' }] }), [{ id: 'r1', participants: 2 }])
})

test('shell sessions join the presence rows of their owner and participants', () => {
  const sessions = parseAdminSessions({ sessions: [
    { id: 's1', owner: 'alice', ownerId: 'alice', namespace: 'team-a', pod: 'web-1', replica: 'r1', started: '2026-11-25T09:00:00Z', driver: 'alice',
      participants: [{ id: 'p1', user: 'alice', role: 'driver', owner: true }, { id: 'p2', user: 'bob', role: 'observer' }] },
    { nothing: 1 },
  ] })
  assert.equal(sessions.length, 1)
  assert.equal(sessions[0]!.started, Date.parse('2026-11-25T09:00:00Z'))
  const rows = withSessions(parseAdminPresence({ presence: [{ room: 'r', userId: 'alice', userName: 'alice' }, { room: 'r', userId: 'bob', userName: 'bob' }, { room: 'r', userId: 'carol', userName: 'carol' }] }), sessions)
  assert.deepEqual(rows.map((r) => [r.userId, r.shells.map((s) => `${s.id} ${s.label} ${s.role}`)]), [
    ['alice', ['s1 team-a/web-1 driver']],
    ['bob', ['s1 team-a/web-1 observer']],
    ['carol', []],
  ])
})

test('admin connections and presence streams from the server answer', () => {
  const conns = parseAdminConnections({
    connections: [
      { id: 'c1', userId: 'bob', userName: 'Bob', endpoint: '/ws', replica: 'ra', openedAt: '2026-11-25T09:58:00Z',
        channels: [{ id: 1, kind: 'sync', target: 'room r1' }, { id: 3, kind: 'logs', target: 'demo/web-abc/app' }, { id: 5, kind: 'ping' }] },
      { id: '', userId: 'nobody' },
    ],
  })
  assert.deepEqual(conns.map((c) => [c.id, c.name, c.replica, c.endpoint, c.channels]), [
    ['c1', 'Bob', 'ra', '/ws', ['sync room r1', 'logs demo/web-abc/app', 'ping']],
  ])
  assert.equal(conns[0]!.openedAt, Date.parse('2026-11-25T09:58:00Z'))
  const rows = parseAdminPresence({ presence: [{ room: 'r1', userId: 'bob', connId: 'c1', streams: [{ id: 3, kind: 'logs', target: 'demo/web-abc/app' }] }] })
  assert.deepEqual(rows[0]!.streams, ['logs demo/web-abc/app'])
})
