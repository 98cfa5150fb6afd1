import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { addKrate, bringToFront, growKrate, krateTitle, kratesMap, listKrates, readKrate, readKrateJSON, removeKrate, topZ, updateKrate, updateKrateRef } from '../src/app/schema.ts'

test('addKrate writes the SPEC §6 schema and stacks on top', () => {
  const doc = new Y.Doc()
  const a = addKrate(doc, { kind: 'logs', ref: { cluster: 'c1', namespace: 'demo', kind: 'pods', name: 'web-1' }, wx: 10, wy: 20, owner: 'alice' })
  const b = addKrate(doc, { kind: 'resources', ref: { kind: 'pods' }, wx: 0, wy: 0 })
  const json = doc.getMap('krates').toJSON() as Record<string, Record<string, unknown>>
  assert.deepEqual(json[a], {
    kind: 'logs', ref: { cluster: 'c1', namespace: 'demo', kind: 'pods', name: 'web-1', container: '' },
    wx: 10, wy: 20, w: 640, h: 340, minimized: false, z: 1, owner: 'alice',
  })
  assert.equal(json[b]!.z, 2)
  assert.deepEqual(listKrates(doc).map((k) => k.id), [a, b])
})

test('bringToFront raises only when something is above or level', () => {
  const doc = new Y.Doc()
  const a = addKrate(doc, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  const b = addKrate(doc, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  let updates = 0
  doc.on('update', () => updates++)
  assert.equal(bringToFront(doc, b), false)
  assert.equal(updates, 0)
  assert.equal(bringToFront(doc, a), true)
  assert.deepEqual(listKrates(doc).map((k) => k.id), [b, a])
  assert.equal(topZ(doc), 3)
})

test('two clients raising different krates at once still end with a total order', () => {
  const d1 = new Y.Doc(), d2 = new Y.Doc()
  const a = addKrate(d1, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  const b = addKrate(d1, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1))
  bringToFront(d1, a)
  bringToFront(d2, a)
  Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1))
  Y.applyUpdate(d1, Y.encodeStateAsUpdate(d2))
  assert.deepEqual(listKrates(d1).map((k) => k.id), listKrates(d2).map((k) => k.id))
  assert.deepEqual(listKrates(d1).map((k) => k.id), [b, a])
})

test('updateKrate writes only changed fields so concurrent edits of others survive', () => {
  const d1 = new Y.Doc(), d2 = new Y.Doc()
  const id = addKrate(d1, { kind: 'shell', ref: {}, wx: 0, wy: 0 })
  Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1))
  updateKrate(d1, id, { wx: 100, wy: 50, w: 640 }) // w unchanged: must not be rewritten
  updateKrate(d2, id, { w: 900 })
  Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1))
  Y.applyUpdate(d1, Y.encodeStateAsUpdate(d2))
  const k = listKrates(d1)[0]!
  assert.deepEqual([k.wx, k.wy, k.w], [100, 50, 900])
  assert.equal(updateKrate(d1, 'missing', { wx: 1 }), false)
})

test('malformed krates from other clients read as safe defaults', () => {
  const doc = new Y.Doc()
  const m = new Y.Map<unknown>()
  kratesMap(doc).set('bad', m)
  m.set('kind', 'rocket')
  m.set('wx', 'left')
  m.set('w', -5)
  m.set('ref', 42)
  m.set('minimized', 'yes')
  const k = readKrate('bad', m)
  assert.equal(k.kind, 'resources')
  assert.equal(k.wx, 0)
  assert.equal(k.w, 1)
  assert.deepEqual(k.ref, { cluster: '', namespace: '', kind: '', name: '', container: '' })
  assert.equal(k.minimized, false)
  kratesMap(doc).set('notamap' as string, 5 as unknown as Y.Map<unknown>)
  assert.deepEqual(listKrates(doc).map((x) => x.id), ['bad'])
})

test('a ref written as a plain object (by a stock yjs client) is read too', () => {
  const doc = new Y.Doc()
  const m = new Y.Map<unknown>()
  kratesMap(doc).set('x', m)
  m.set('kind', 'detail')
  m.set('ref', { namespace: 'demo', kind: 'deployments', name: 'web' })
  const k = readKrate('x', m)
  assert.equal(krateTitle(k), 'deployments demo/web')
})

test('removeKrate', () => {
  const doc = new Y.Doc()
  const id = addKrate(doc, { kind: 'resources', ref: {}, wx: 0, wy: 0 })
  removeKrate(doc, id)
  assert.equal(listKrates(doc).length, 0)
})

test('readKrateJSON reads the server JSON of the document like the live map', () => {
  const doc = new Y.Doc()
  const id = addKrate(doc, { kind: 'logs', ref: { namespace: 'demo', kind: 'pods', name: 'web-1' }, wx: 3, wy: 4 })
  const json = (doc.getMap('krates').toJSON() as Record<string, unknown>)[id]
  assert.deepEqual(readKrateJSON(id, json), listKrates(doc)[0])
  assert.equal(krateTitle(readKrateJSON('x', null)), 'resources · all namespaces')
})

test('updateKrateRef changes one ref field, also of a ref written as a plain object', () => {
  const doc = new Y.Doc()
  const id = addKrate(doc, { kind: 'logs', ref: { namespace: 'demo', kind: 'pods', name: 'db-0' }, wx: 0, wy: 0 })
  assert.equal(updateKrateRef(doc, id, { container: 'postgres' }), true)
  assert.deepEqual(listKrates(doc)[0]!.ref, { cluster: '', namespace: 'demo', kind: 'pods', name: 'db-0', container: 'postgres' })
  const m = new Y.Map<unknown>()
  kratesMap(doc).set('plain', m)
  m.set('kind', 'logs')
  m.set('ref', { namespace: 'demo', kind: 'pods', name: 'x' })
  updateKrateRef(doc, 'plain', { container: 'c' })
  assert.deepEqual(readKrate('plain', m).ref, { cluster: '', namespace: 'demo', kind: 'pods', name: 'x', container: 'c' })
  assert.equal(updateKrateRef(doc, 'missing', { container: 'c' }), false)
})

test('growKrate only ever enlarges, from the current size', () => {
  const doc = new Y.Doc()
  const id = addKrate(doc, { kind: 'detail', ref: {}, wx: 0, wy: 0, w: 800, h: 300 })
  assert.equal(growKrate(doc, id, 680, 620), true)
  assert.deepEqual([listKrates(doc)[0]!.w, listKrates(doc)[0]!.h], [800, 620])
  let updates = 0
  doc.on('update', () => updates++)
  assert.equal(growKrate(doc, id, 680, 620), false)
  assert.equal(updates, 0)
  assert.equal(growKrate(doc, 'missing', 1, 1), false)
})
