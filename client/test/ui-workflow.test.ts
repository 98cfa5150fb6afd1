import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import {
  addEdge, addNode, edgeOffers, listEdges, listNodes, moveNode, nodesMap, parseList, parseNumber, readNode, removeEdge, removeNodes,
  renameEntry, setEntry, setField, splitImage, joinImage, workflowMap, EDGE_KINDS, NODE_KINDS,
} from '../src/app/workflow/model.ts'
import { ownUndoManager } from '../src/app/workflow/undo.ts'
import { parseValidation, fieldErrors } from '../src/app/workflow/validation.ts'
import { addKrate, kratesMap, updateKrate } from '../src/app/schema.ts'

const sync = (a: Y.Doc, b: Y.Doc) => {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote')
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)), 'remote')
}

test('addNode creates the maps once and writes the schema with defaults', () => {
  const doc = new Y.Doc()
  const id = addNode(doc, 'Deployment', 10.4, 20.6, 'n1')!
  const svc = addNode(doc, 'Service', 0, 0, 'n2')!
  assert.equal(id, 'n1')
  const nodes = nodesMap(doc)!
  assert.ok(nodes instanceof Y.Map)
  assert.deepEqual(nodes.get(id) instanceof Y.Map && (nodes.get(id) as Y.Map<unknown>).toJSON(), { kind: 'Deployment', name: 'deployment-1', x: 10, y: 21, image: 'nginx:1.27', replicas: 1, env: {}, resources: {} })
  assert.ok((nodes.get(id) as Y.Map<unknown>).get('env') instanceof Y.Map)
  assert.equal(readNode(svc, nodes.get(svc)).fields.port, 80)
  assert.equal(addNode(doc, 'Deployment', 0, 0, 'n3') && listNodes(doc).find((n) => n.id === 'n3')!.name, 'deployment-2')
})

test('a non-map stored at nodes is left alone and the write fails', () => {
  const doc = new Y.Doc()
  workflowMap(doc).set('nodes', 'junk')
  assert.equal(addNode(doc, 'Job', 0, 0), null)
  assert.equal(workflowMap(doc).get('nodes'), 'junk')
  assert.deepEqual(listNodes(doc), [])
})

test('readNode reads plain JSON nodes and nested Y types leniently', () => {
  const n = readNode('a', { kind: 'Service', name: 3, x: 'no', y: 5, port: 80 })
  assert.equal(n.kind, 'Service')
  assert.equal(n.name, '')
  assert.equal(n.x, 0)
  assert.equal(n.y, 5)
  assert.equal(readNode('b', 'nonsense').kind, '')
})

test('two people editing different fields and env entries of one node both keep their edits', () => {
  const a = new Y.Doc(), b = new Y.Doc()
  const id = addNode(a, 'Deployment', 0, 0)!
  setEntry(a, id, 'env', 'MODE', 'dev')
  sync(a, b)
  setField(a, id, 'image', 'nginx:1.28')
  setEntry(a, id, 'env', 'A', '1')
  setField(b, id, 'replicas', 3)
  setEntry(b, id, 'env', 'B', '2')
  sync(a, b)
  for (const d of [a, b]) {
    const n = listNodes(d)[0]!
    assert.equal(n.fields.image, 'nginx:1.28')
    assert.equal(n.fields.replicas, 3)
    assert.deepEqual(n.fields.env, { MODE: 'dev', A: '1', B: '2' })
  }
})

test('a plain env object becomes a Y.Map once, keeping its entries; renames and deletes are per entry', () => {
  const doc = new Y.Doc()
  const id = addNode(doc, 'Deployment', 0, 0)!
  setField(doc, id, 'env', { OLD: 'x' })
  setEntry(doc, id, 'env', 'NEW', 'y')
  const m = (nodesMap(doc)!.get(id) as Y.Map<unknown>).get('env')
  assert.ok(m instanceof Y.Map)
  assert.deepEqual((m as Y.Map<unknown>).toJSON(), { OLD: 'x', NEW: 'y' })
  renameEntry(doc, id, 'env', 'OLD', 'RENAMED')
  setEntry(doc, id, 'env', 'NEW', null)
  assert.deepEqual(listNodes(doc)[0]!.fields.env, { RENAMED: 'x' })
})

test('setField writes nothing when the value is unchanged', () => {
  const doc = new Y.Doc()
  const id = addNode(doc, 'Deployment', 0, 0)!
  let n = 0
  doc.on('update', () => n++)
  setField(doc, id, 'replicas', 1)
  setField(doc, id, 'ports', [80])
  setField(doc, id, 'ports', [80])
  assert.equal(n, 1)
})

test('edges: offered only between kinds that relate, in either drag direction, not twice', () => {
  const dep = { id: 'd', kind: 'Deployment' }, svc = { id: 's', kind: 'Service' }, cm = { id: 'c', kind: 'ConfigMap' }, ing = { id: 'i', kind: 'Ingress' }
  assert.deepEqual(edgeOffers(svc, dep), [{ from: 's', to: 'd', kind: 'selects' }])
  assert.deepEqual(edgeOffers(dep, svc), [{ from: 's', to: 'd', kind: 'selects' }])
  assert.deepEqual(edgeOffers(dep, cm), [{ from: 'd', to: 'c', kind: 'envFrom' }])
  assert.deepEqual(edgeOffers(ing, dep), [])
  assert.deepEqual(edgeOffers(cm, { id: 'c2', kind: 'ConfigMap' }), [])
  assert.deepEqual(edgeOffers(dep, dep), [])
  assert.deepEqual(edgeOffers(svc, dep, [{ id: 'e', from: 's', to: 'd', kind: 'selects', path: '' }]), [])
  // The table is the server's: every edge kind joins known node kinds.
  for (const rel of Object.values(EDGE_KINDS)) for (const k of [...rel.from, ...rel.to]) assert.ok(k in NODE_KINDS, k)
})

test('removing a node removes the edges touching it', () => {
  const doc = new Y.Doc()
  const s = addNode(doc, 'Service', 0, 0)!, d = addNode(doc, 'Deployment', 0, 0)!, c = addNode(doc, 'ConfigMap', 0, 0)!
  addEdge(doc, s, d, 'selects')
  const keep = addEdge(doc, d, c, 'envFrom')!
  const other = addEdge(doc, s, c, 'bogus')!
  removeNodes(doc, [s])
  assert.deepEqual(listEdges(doc).map((e) => e.id), [keep])
  assert.ok(other)
  removeEdge(doc, keep)
  assert.deepEqual(listEdges(doc), [])
  assert.deepEqual(listNodes(doc).map((n) => n.id).sort(), [c, d].sort())
})

test('undo removes only this person\'s changes, workflow and krates alike', () => {
  const a = new Y.Doc(), b = new Y.Doc()
  const id = addNode(a, 'Deployment', 0, 0)!
  const k = addKrate(a, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  sync(a, b)
  const undo = ownUndoManager(a, 0)
  setField(a, id, 'image', 'redis:7')
  setField(b, id, 'replicas', 5)
  setEntry(b, id, 'env', 'B', '2')
  sync(a, b)
  updateKrate(a, k, { wx: 300 })
  moveNode(a, id, 40, 50)
  undo.undo()
  assert.equal(listNodes(a)[0]!.x, 0)
  undo.undo()
  assert.equal((kratesMap(a).get(k) as Y.Map<unknown>).get('wx'), 0)
  undo.undo()
  const n = listNodes(a)[0]!
  assert.equal(n.fields.image, 'nginx:1.27')
  assert.equal(n.fields.replicas, 5)
  assert.deepEqual(n.fields.env, { B: '2' })
  assert.equal(undo.undoStack.length, 0)
  undo.redo()
  assert.equal(listNodes(a)[0]!.fields.image, 'redis:7')
  sync(a, b)
  assert.equal(listNodes(b)[0]!.fields.image, 'redis:7')
  assert.equal(listNodes(b)[0]!.fields.replicas, 5)
})

test('list, number and image inputs parse as the document stores them', () => {
  assert.deepEqual(parseList('ports', '80, 443 8080'), [80, 443, 8080])
  assert.deepEqual(parseList('ports', 'http'), ['http'])
  assert.deepEqual(parseList('command', 'sh, -c'), ['sh', '-c'])
  assert.equal(parseNumber(' 3 '), 3)
  assert.equal(parseNumber('three'), 'three')
  assert.equal(parseNumber(''), undefined)
  assert.deepEqual(splitImage('registry:5000/app:1.2'), { repo: 'registry:5000/app', tag: '1.2' })
  assert.deepEqual(splitImage('registry:5000/app'), { repo: 'registry:5000/app', tag: '' })
  assert.deepEqual(splitImage('app@sha256:ab'), { repo: 'app', tag: '@sha256:ab' })
  assert.equal(joinImage('nginx', '1.27'), 'nginx:1.27')
  assert.equal(joinImage('nginx', ''), 'nginx')
})

test('validation answers are read leniently and indexed by node, edge and field', () => {
  const v = parseValidation({
    hash: 'h1',
    errors: [
      { nodeId: 'n1', field: 'image', code: 'required', message: 'a Deployment needs an image' },
      { nodeId: 'n1', field: '', code: 'duplicate_name', message: 'taken' },
      { edgeId: 'e1', field: 'kind', code: 'bad_edge', message: 'no' },
      { code: 5 },
      'junk',
    ],
  })
  assert.equal(v.errors.length, 3)
  assert.equal(v.hash, 'h1')
  assert.equal(v.byNode.get('n1')!.length, 2)
  assert.equal(fieldErrors(v, 'n1', 'image')[0]!.code, 'required')
  assert.equal(v.byEdge.get('e1')!.length, 1)
  assert.deepEqual(parseValidation(null).errors, [])
})

test('two people adding the first env entry of a new node at once both keep theirs', () => {
  const a = new Y.Doc(), b = new Y.Doc()
  const id = addNode(a, 'Deployment', 0, 0)!
  const cm = addNode(a, 'ConfigMap', 0, 0)!
  sync(a, b)
  setEntry(a, id, 'env', 'A', '1')
  setEntry(b, id, 'env', 'B', '2')
  setEntry(a, cm, 'data', 'x', '1')
  setEntry(b, cm, 'data', 'y', '2')
  sync(a, b)
  for (const d of [a, b]) {
    assert.deepEqual(listNodes(d).find((n) => n.id === id)!.fields.env, { A: '1', B: '2' })
    assert.deepEqual(listNodes(d).find((n) => n.id === cm)!.fields.data, { x: '1', y: '2' })
  }
})
