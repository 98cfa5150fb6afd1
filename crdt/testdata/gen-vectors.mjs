// Generates yjs-vectors.json: documents built with the real yjs (13.6.x),
// each as a v1 and a v2 update with its JSON, state vector and the v1
// update of every transaction. Run from the repository root:
//   node crdt/testdata/gen-vectors.mjs > crdt/testdata/yjs-vectors.json
import * as Y from 'yjs'

const hex = (u) => Buffer.from(u).toString('hex')
const cases = []
const record = (name, build, clientID = 7) => {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates = []
  doc.on('update', (u) => updates.push(hex(u)))
  build(doc)
  cases.push({
    name,
    v1: hex(Y.encodeStateAsUpdate(doc)),
    v2: hex(Y.encodeStateAsUpdateV2(doc)),
    sv: hex(Y.encodeStateVector(doc)),
    json: JSON.stringify(doc.toJSON()),
    updates,
  })
}

record('map-values', (d) => {
  const m = d.getMap('m')
  m.set('int', 1); m.set('neg', -5); m.set('big', 2 ** 40); m.set('f', 1.5); m.set('pi', Math.PI)
  m.set('s', 'héllo 😀'); m.set('n', null); m.set('u', undefined); m.set('b', true)
  m.set('arr', [1, 'a', { x: [2] }]); m.set('obj', { b: 1, 2: 'two', a: { c: null } })
  m.set('bin', new Uint8Array([1, 2, 3])); m.set('10', 'ten'); m.set('1', 'one')
  m.set('int', 2); m.delete('n')
})
record('nested', (d) => {
  const m = d.getMap('krates')
  const k = new Y.Map(); m.set('k1', k); k.set('pos', { x: 10, y: 20 }); k.set('status', 'pending')
  const a = new Y.Array(); k.set('list', a); a.insert(0, [1, 2, 3]); a.insert(1, ['x'])
  const t = new Y.Text(); a.push([t]); t.insert(0, 'nested text')
  const k2 = new Y.Map(); m.set('k2', k2); k2.set('a', 1); m.delete('k2')
})
record('text', (d) => {
  const t = d.getText('t')
  t.insert(0, 'Hello world'); t.insert(5, ','); t.delete(0, 1); t.insert(0, 'h')
  t.insert(3, '😀é'); t.insert(4, 'X'); t.delete(6, 2)
  t.format(0, 3, { bold: true }); t.insert(1, 'in')
  t.insertEmbed(2, { image: 'x.png' })
})
record('array', (d) => {
  const a = d.getArray('a')
  a.insert(0, [1, 2, 3, 4, 5]); a.delete(1, 2); a.insert(2, ['m', new Uint8Array([9])]); a.push([{ k: 'v' }])
  const inner = new Y.Array(); a.insert(0, [inner]); inner.push(['deep'])
  a.delete(0, 1)
})
record('xml', (d) => {
  const f = d.getXmlFragment('x')
  const el = new Y.XmlElement('P'); el.setAttribute('class', 'c'); f.insert(0, [el])
  const tx = new Y.XmlText(); el.insert(0, [tx]); tx.insert(0, 'para'); tx.format(0, 2, { b: {} })
})
record('big-client', (d) => { d.getText('t').insert(0, 'abc'); d.getText('t').delete(1, 1) }, 2 ** 53 - 1)

// Concurrency: three peers editing the same text, map key and array.
{
  const docs = [1, 2, 3].map((id) => { const d = new Y.Doc(); d.clientID = id; return d })
  docs.forEach((d, i) => {
    d.getText('t').insert(0, 'peer' + i)
    d.getMap('m').set('k', 'from' + i)
    d.getArray('a').insert(0, [i])
  })
  const sync = () => docs.forEach((a) => docs.forEach((b) => { if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b))) }))
  sync()
  docs[0].getText('t').insert(3, 'X'); docs[1].getText('t').delete(0, 4); docs[2].getText('t').insert(3, 'Y')
  docs[1].getMap('m').set('k', 'later'); docs[2].getArray('a').delete(0, 2)
  const upd = docs.map((d) => hex(Y.encodeStateAsUpdate(d)))
  sync()
  cases.push({
    name: 'concurrent', v1: hex(Y.encodeStateAsUpdate(docs[0])), v2: hex(Y.encodeStateAsUpdateV2(docs[0])),
    sv: hex(Y.encodeStateVector(docs[0])), json: JSON.stringify(docs[0].toJSON()), updates: upd,
  })
}
// Edits on a loaded document by client 9, to check Go writes give the same
// bytes: ops are [kind, index, text-or-length].
const edits = []
const recordEdits = (name, build, ops) => {
  const base = new Y.Doc(); base.clientID = 7; build(base)
  const d = new Y.Doc(); d.clientID = 9
  Y.applyUpdate(d, Y.encodeStateAsUpdate(base))
  const t = d.getText('t')
  for (const [kind, i, x] of ops) {
    if (kind === 'ins') t.insert(i, x)
    else t.delete(i, x)
  }
  edits.push({ name, base: hex(Y.encodeStateAsUpdate(base)), ops, result: hex(Y.encodeStateAsUpdate(d)), text: t.toString(), delta: JSON.stringify(t.toDelta()), baseDelta: JSON.stringify(base.getText('t').toDelta()) })
}
recordEdits('marks', (d) => {
  const t = d.getText('t')
  t.insert(0, 'hello big world'); t.format(6, 3, { bold: true }); t.format(0, 5, { italic: true, color: { c: 'red' } })
  t.delete(2, 1); t.format(3, 8, { bold: null })
}, [['ins', 6, 'X'], ['ins', 9, 'Y'], ['ins', 0, 'Z'], ['ins', 5, 'W'], ['del', 4, 3], ['ins', 4, 'V'], ['ins', 15, 'E']])
recordEdits('deleted-runs', (d) => {
  const t = d.getText('t')
  t.insert(0, 'abcdefgh'); t.delete(2, 3); t.insert(2, '😀'); t.delete(0, 1)
}, [['ins', 1, 'x'], ['ins', 3, 'y'], ['del', 0, 2], ['ins', 0, 'z'], ['ins', 6, 'end']])
// Random edits on formatted text, with a seeded PRNG (mulberry32).
const prng = (seed) => () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296 }
for (const seed of [1, 2, 3]) {
  const rnd = prng(seed)
  const ops = []
  const len = { v: 43 } // the base text's length
  recordEdits('random-marks-' + seed, (d) => {
    const t = d.getText('t')
    t.insert(0, 'The quick brown fox jumps over the lazy dog')
    for (let i = 0; i < 12; i++) {
      const a = Math.floor(rnd() * t.length); const l = Math.floor(rnd() * 6)
      t.format(a, l, [{ bold: true }, { italic: true }, { bold: null }, { color: '#f00' }][i % 4])
    }
    len.v = t.length
  }, (() => {
    for (let i = 0; i < 150; i++) {
      if (len.v > 0 && rnd() < 0.35) { const a = Math.floor(rnd() * len.v); const l = 1 + Math.floor(rnd() * Math.min(3, len.v - a)); ops.push(['del', a, l]); len.v -= l }
      else { const s = ['x', 'yz', '😀', 'é'][Math.floor(rnd() * 4)]; ops.push(['ins', Math.floor(rnd() * (len.v + 1)), s]); len.v += s.length }
    }
    return ops
  })())
}
console.log(JSON.stringify({ docs: cases, edits }, null, 1))
