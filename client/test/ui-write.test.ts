import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { parser as yamlParser } from '@lezer/yaml'
import { conflictsOf, diffLines, editableObject, editableYAML, parseConflicts, parseReplicas, writeOutcome } from '../src/app/writeModel.ts'
import { parseAccess, writeDecision, WRITES_DISABLED } from '../src/app/access.ts'
import { activityArray, describeActivity, listActivity, readActivity } from '../src/app/activity.ts'
import { toYAML } from '../src/app/resources.ts'

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'team-a',
    uid: 'u-1',
    resourceVersion: '812',
    generation: 3,
    creationTimestamp: '2026-12-01T10:00:00Z',
    labels: { app: 'web', 'app.kubernetes.io/version': '1.27' },
    annotations: { 'deployment.kubernetes.io/revision': '2', note: 'line one\nline two' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
  },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80, name: 'http' }], args: ['-c', 'on', 'y', '0x1F', '2026-12-01', '+1', '1_000', '.inf', 'plain words'] }] },
    },
  },
  status: { readyReplicas: 2, replicas: 2 },
})

function yamlSyntaxErrors(text: string): string[] {
  const errs: string[] = []
  yamlParser.parse(text).iterate({
    enter: (n) => {
      if (n.type.isError) errs.push(`${n.from}: ${JSON.stringify(text.slice(Math.max(0, n.from - 20), n.to + 20))}`)
    },
  })
  return errs
}

test('the YAML to edit leaves out status and the metadata the server owns, and keeps the rest', () => {
  const d = deployment()
  const e = editableObject(d)
  assert.equal('status' in e, false)
  const m = e.metadata as Record<string, unknown>
  for (const k of ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation']) assert.equal(k in m, false, k)
  assert.deepEqual(m.labels, d.metadata.labels)
  assert.deepEqual(Object.keys(e), ['apiVersion', 'kind', 'metadata', 'spec'])
  assert.ok(d.status && d.metadata.managedFields, 'the live object is not changed')
  const text = editableYAML(d)
  assert.match(text, /^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n {2}name: web\n/)
  assert.match(text, /\n {2}replicas: 2\n/)
  assert.doesNotMatch(text, /managedFields|resourceVersion|readyReplicas|uid:/)
})

test('the YAML is well formed and quotes strings a YAML reader would take for something else', () => {
  const text = editableYAML(deployment())
  assert.deepEqual(yamlSyntaxErrors(text), [])
  for (const quoted of ['"1.27"', '"2"', '"nginx:1.27"', '"on"', '"y"', '"0x1F"', '"2026-12-01"', '"+1"', '"1_000"', '".inf"', '"line one\\nline two"'])
    assert.ok(text.includes(quoted), `${quoted} quoted in:\n${text}`)
  assert.match(text, /- -c\n/)
  assert.match(text, /- plain words\n/)
  assert.match(text, /containerPort: 80\n/)
  // Control and line-separator characters are escaped, not written raw.
  assert.equal(toYAML({ a: 'x\u2028y\u0085z\u007f' }), 'a: "x\\u2028y\\u0085z\\u007f"\n')
  assert.deepEqual(yamlSyntaxErrors(toYAML({ a: [[1, 2], [], {}], b: { c: null, d: true, 'weird key: x': '' } })), [])
})

test('diff lines are classified for colouring', () => {
  const d = '--- live\n+++ edited\n@@ -3,7 +3,7 @@\n spec:\n-  replicas: 2\n+  replicas: 3\n   selector:\n\\ No newline at end of file\n'
  assert.deepEqual(
    diffLines(d).map((l) => l.kind),
    ['meta', 'meta', 'hunk', 'ctx', 'del', 'add', 'ctx', 'meta'],
  )
  assert.equal(diffLines(d)[5]!.text, '+  replicas: 3')
  assert.deepEqual(diffLines(''), [])
})

test('apply answers: ok, a failed dry run, refusals and conflicts', () => {
  const ok = writeOutcome(200, { dryRun: true, results: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'web', action: 'configured', diff: '-a\n+b' }] })
  assert.equal(ok.result, 'ok')
  assert.equal(ok.dryRun, true)
  assert.equal(ok.results[0]!.action, 'configured')
  assert.equal(ok.results[0]!.error, null)

  const failed = writeOutcome(422, { dryRun: true, results: [{ kind: 'Deployment', name: 'web', error: { code: 'invalid', message: 'spec.replicas: Invalid value: -1' } }] })
  assert.equal(failed.result, 'failed')
  assert.equal(failed.code, 'invalid')
  assert.match(failed.message, /Deployment web: spec.replicas: Invalid value/)

  const off = writeOutcome(403, { error: { code: 'writes_disabled', message: 'this server does not write to clusters' } })
  assert.deepEqual([off.result, off.code, off.message], ['refused', 'writes_disabled', 'this server does not write to clusters'])
  assert.equal(writeOutcome(200, { results: [{ name: 'a', error: { code: 'forbidden', message: 'no' } }] }).result, 'refused')
  assert.equal(writeOutcome(200, { results: [{ name: 'a', error: { code: 'forbidden', message: 'no' } }, { name: 'b', error: { code: 'invalid' } }] }).result, 'failed')
  const gone = writeOutcome(404, null)
  assert.deepEqual([gone.result, gone.code], ['failed', 'http_404'])
  assert.match(gone.message, /404/)
  // Wrong types from the server read as empty, not as a crash.
  assert.deepEqual(writeOutcome(200, { results: [7, { name: 3, diff: ['x'], error: 'boom' }] }).results, [
    { apiVersion: '', kind: '', namespace: '', name: '', action: '', diff: '', error: null },
  ])

  const msg = 'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image'
  const c = writeOutcome(200, { dryRun: false, results: [{ kind: 'Deployment', name: 'web', error: { code: 'conflict', message: msg } }] })
  assert.equal(c.result, 'failed')
  assert.equal(conflictsOf(c).length, 1)
  assert.deepEqual(c.results[0]!.error!.conflicts, [{ manager: 'kubectl-client-side-apply', fields: ['.spec.replicas', '.spec.template.spec.containers[name="nginx"].image'] }])
  assert.deepEqual(parseConflicts({ message: 'Apply failed with 1 conflict: conflict with "helm" using apps/v1: .spec.replicas' }), [{ manager: 'helm', fields: ['.spec.replicas'] }])
  assert.deepEqual(parseConflicts({ conflicts: [{ manager: 'helm', field: '.spec.replicas' }, { manager: 'helm', field: '.metadata.labels.app' }, { manager: 'argo', fields: ['.spec.x'] }, 5] }), [
    { manager: 'helm', fields: ['.spec.replicas', '.metadata.labels.app'] },
    { manager: 'argo', fields: ['.spec.x'] },
  ])
})

test('replica counts people type', () => {
  assert.equal(parseReplicas('3'), 3)
  assert.equal(parseReplicas(' 0 '), 0)
  for (const bad of ['', '-1', '1.5', 'three', '10001', '1e3']) assert.equal(parseReplicas(bad), null, bad)
})

test('write controls: loading, writes off, RBAC with the reason, and an unknown answer', () => {
  assert.deepEqual(writeDecision(null, 'edit', 'deployments', 'team-a'), { allowed: false, reason: 'checking permissions…' })
  assert.equal(writeDecision('unknown', 'delete', 'deployments', 'team-a').allowed, true)
  const off = parseAccess({ namespace: 'team-a', kinds: { deployments: { patch: true, delete: true } }, actions: {}, writeEnabled: false })
  assert.deepEqual(writeDecision(off, 'edit', 'deployments', 'team-a'), { allowed: false, reason: WRITES_DISABLED })
  const carol = parseAccess({ namespace: 'demo', kinds: { deployments: { get: true, patch: false, delete: false } }, actions: {}, writeEnabled: true })
  assert.deepEqual(writeDecision(carol, 'edit', 'deployments', 'demo'), { allowed: false, reason: 'you may not patch deployments in demo' })
  assert.deepEqual(writeDecision(carol, 'delete', 'deployments', 'demo'), { allowed: false, reason: 'you may not delete deployments in demo' })
  assert.equal(writeDecision(carol, 'restart', 'deployments', 'demo').allowed, false)
  const bob = parseAccess({ namespace: 'team-a', kinds: { deployments: { patch: true, delete: true } }, actions: {}, writeEnabled: true })
  for (const op of ['edit', 'scale', 'restart', 'delete'] as const) assert.equal(writeDecision(bob, op, 'deployments', 'team-a').allowed, true, op)
  // Scale asks about the scale subresource when the answer covers it.
  const sub = parseAccess({ rules: [{ verb: 'patch', resource: 'deployments', allowed: true }, { verb: 'patch', resource: 'deployments/scale', allowed: false }] })
  assert.deepEqual(writeDecision(sub, 'scale', 'deployments', 'team-a'), { allowed: false, reason: 'you may not patch deployments/scale in team-a' })
  assert.equal(writeDecision(parseAccess({ kinds: { nodes: { delete: false } } }), 'delete', 'nodes', '').reason, 'you may not delete nodes in this cluster')
})

const entry = (o: Record<string, unknown>) => {
  const m = new Y.Map<unknown>()
  for (const [k, v] of Object.entries({ at: '2026-12-02T15:00:00Z', user: 'bob', verb: 'apply', kind: 'deployments', namespace: 'team-a', name: 'web', result: 'ok', ...o })) if (v !== undefined) m.set(k, v)
  return m
}

test('activity entries are read from the room document newest first, malformed ones skipped', () => {
  const server = new Y.Doc()
  const arr = activityArray(server)
  arr.push([entry({ name: 'first' })])
  arr.push([entry({ verb: 'scale', name: 'second', at: '2026-12-02T15:01:00.123+01:00' })])
  arr.push([entry({ verb: 'format-disk' }), entry({ result: 'maybe' }), entry({ at: 'yesterday' }), entry({ user: 7 }), entry({ name: undefined })])
  arr.push(['a string', 42, null, { at: '2026-12-02T15:02:00Z', user: 'alice', verb: 'delete', kind: 'pods', namespace: 'demo', name: 'p', result: 'refused' }])
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(server))
  const list = listActivity(activityArray(client))
  assert.deepEqual(list.map((e) => e.name), ['p', 'second', 'first'])
  assert.equal(list[1]!.time, Date.parse('2026-12-02T15:01:00.123+01:00'))
  assert.equal(describeActivity(list[2]!), 'bob applied deployments team-a/first')
  assert.equal(describeActivity(list[0]!), 'alice tried to delete pods demo/p (refused)')
  arr.push([entry({ namespace: undefined, name: 'cluster-wide' }), entry({ user: '' })])
  assert.equal(readActivity(arr.get(arr.length - 2))!.namespace, '')
  assert.equal(readActivity(arr.get(arr.length - 1)), null)
})

test('the activity list follows appends live', () => {
  const doc = new Y.Doc()
  const arr = activityArray(doc)
  const seen: string[][] = []
  arr.observe(() => seen.push(listActivity(arr).map((e) => e.verb)))
  arr.push([entry({})])
  arr.push([entry({ verb: 'restart' })])
  assert.deepEqual(seen, [['apply'], ['restart', 'apply']])
})
