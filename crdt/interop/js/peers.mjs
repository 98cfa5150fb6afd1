// Interop fuzzing against the real yjs. Three commands, all reading and writing JSON:
//
//   node crdt/interop/js/peers.mjs gen <firstSeed> <count> [ops]
//     For each seed, several yjs peers make random edits (maps, arrays, text, nested types,
//     emoji and surrogate pairs, concurrent writes to the same keys, deletes) while going offline
//     and receiving each other's updates late and out of order. Prints, per seed, every update a
//     peer's own transactions produced (v1 and v2, hex), the converged document's full state (v1
//     and v2), and its content, state vector and delete set.
//
//   node crdt/interop/js/peers.mjs check < cases.json
//     For each case, applies the given updates (hex; v1, or v2 when the case says v2: true) to a
//     fresh yjs doc in the given order and prints the resulting content, state vector, delete set,
//     whether anything is pending, and the doc's encodeStateAsUpdate (pending data included).
//
//   node crdt/interop/js/peers.mjs serve
//     Runs yjs peers that a Go test drives request by request next to Go peers (see below).
//
// Content is printed as tagged JSON so nothing is lost: undefined -> {"$undefined":true},
// Uint8Array -> {"$binary":"<hex>"}, and numbers as JSON numbers.
import * as Y from 'yjs'
import fs from 'fs'

const hex = u => Buffer.from(u).toString('hex')
const unhex = s => new Uint8Array(Buffer.from(s, 'hex'))

// sfc32: a small seeded PRNG, so a failing seed replays exactly.
const prng = seed => {
  let a = 0x9e3779b9; let b = 0x243f6a88; let c = 0xb7e15162; let d = seed >>> 0
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0; t = (t + d) | 0; c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 15; i++) next()
  const r = {
    float: next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    bool: p => next() < p,
    pick: arr => arr[Math.floor(next() * arr.length)]
  }
  return r
}

// Pieces of text: ASCII, accents, combining marks, CJK, astral emoji (surrogate pairs), a ZWJ
// sequence and a skin-tone modifier, so UTF-16 offsets and lengths differ from UTF-8 and runes.
const pieces = ['a', 'b', 'xyz', ' ', 'é', 'e\u0301', '中文', '😀', '👋🏽', '👩‍👩‍👧', '𝄞', 'Ω', '\n', '"q"', '\\', '\u0000', '<&>']
const randString = (r, max = 4) => {
  let s = ''
  const n = r.int(0, max)
  for (let i = 0; i < n; i++) s += r.pick(pieces)
  return s
}
const keys = ['k0', 'k1', 'k2', 'status', '😀', 'é', '10', '2', '']

const randPrimitive = r => {
  switch (r.int(0, 12)) {
    case 0: return r.int(-100, 100)
    case 1: return r.int(-(2 ** 31), 2 ** 31 - 1)
    case 2: return r.pick([2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 7, 2 ** 53 - 1, -0])
    case 3: return r.pick([0.5, -2.25, 3.14159, 1e-7, 1.5e300, 0.1, NaN, Infinity, -Infinity, 2 ** 64])
    case 4: return randString(r)
    case 5: return r.bool(0.5)
    case 6: return null
    case 7: return undefined
    case 8: return new Uint8Array(Array.from({ length: r.int(0, 4) }, () => r.int(0, 255)))
    case 9: return { x: r.int(0, 1000), y: r.pick([0.5, -1, 'top']), tags: [randString(r, 2), r.int(0, 9)] }
    case 10: return [r.int(0, 9), randString(r, 2), null, { k: r.bool(0.5) }]
    case 11: return r.bool(0.8) ? '' : randString(r, 300)
    default: return { [r.pick(keys)]: randString(r, 2), '1': 1, b: { c: [] } }
  }
}

// A value for a map entry or array slot: mostly primitives, sometimes a new nested type.
const randValue = (r, depth) => {
  if (depth < 3 && r.bool(0.2)) {
    const kind = r.int(0, 2)
    if (kind === 0) { const m = new Y.Map(); return m }
    if (kind === 1) { const a = new Y.Array(); return a }
    return new Y.Text()
  }
  return randPrimitive(r)
}

// Every shared type reachable from the roots, with its depth, so edits reach nested types.
const collectTypes = doc => {
  const out = []
  const walk = (t, depth) => {
    out.push({ t, depth })
    if (t instanceof Y.Map) t.forEach(v => { if (v instanceof Y.AbstractType) walk(v, depth + 1) })
    else if (t instanceof Y.Array) t.forEach(v => { if (v instanceof Y.AbstractType) walk(v, depth + 1) })
    else if (t instanceof Y.XmlFragment) t.toArray().forEach(v => walk(v, depth + 1))
  }
  walk(doc.getMap('m'), 0); walk(doc.getArray('a'), 0); walk(doc.getText('t'), 0); walk(doc.getXmlFragment('x'), 0)
  return out
}

const randomEdit = (r, doc, embeds = true) => {
  const types = collectTypes(doc)
  const { t, depth } = r.pick(types)
  if (t instanceof Y.Map) {
    const k = r.pick(keys)
    if (r.bool(0.25) && t.size > 0) t.delete(r.bool(0.7) ? r.pick([...t.keys()]) : k)
    else t.set(k, randValue(r, depth))
  } else if (t instanceof Y.Array) {
    if (r.bool(0.35) && t.length > 0) {
      const i = r.int(0, t.length - 1)
      t.delete(i, r.int(1, Math.min(3, t.length - i)))
    } else {
      // yjs arrays cannot hold undefined (only map values can).
      const vals = Array.from({ length: r.int(1, 3) }, () => randValue(r, depth) ?? null)
      t.insert(r.int(0, t.length), vals)
    }
  } else if (t instanceof Y.XmlFragment) {
    // XML: elements (with attributes) and formatted text, which Go reads (toString) but does not write.
    const len = t.length
    const x = r.int(0, 9)
    if (x < 3 && len > 0) {
      const i = r.int(0, len - 1)
      t.delete(i, r.int(1, Math.min(2, len - i)))
    } else if (x < 5 && t instanceof Y.XmlElement) {
      const name = r.pick(['class', 'id', 'data-x', 'href'])
      if (r.bool(0.2)) t.removeAttribute(name)
      else t.setAttribute(name, r.bool(0.7) ? randString(r, 2) : String(r.int(0, 99)))
    } else {
      const child = depth < 3 && r.bool(0.5) ? new Y.XmlElement(r.pick(['p', 'div', 'span', 'H1'])) : new Y.XmlText(randString(r, 3))
      t.insert(r.int(0, len), [child])
    }
  } else if (t instanceof Y.Text) {
    // Positions stay on code point boundaries: when yjs splits a surrogate pair it replaces both
    // halves with U+FFFD in the splitting replica only, so yjs replicas themselves diverge.
    const b = boundaries(t)
    const len = b[b.length - 1]
    const at = () => r.pick(b)
    const range = () => {
      const i = r.int(0, b.length - 2)
      return [b[i], b[r.int(i + 1, Math.min(b.length - 1, i + 5))] - b[i]]
    }
    const op = r.int(0, 9)
    if (op < 3 && len > 0) {
      const [i, n] = range()
      t.delete(i, n)
    } else if (op === 3 && len > 0) {
      const [i, n] = range()
      t.format(i, n, r.bool(0.5) ? { bold: true } : { bold: null, color: '#f00' })
    } else if (op === 4) {
      t.insert(at(), randString(r) || 'z', { italic: true })
    } else if (op === 5 && embeds && !(t instanceof Y.XmlText)) {
      t.insertEmbed(at(), { image: randString(r, 2) })
    } else {
      t.insert(at(), randString(r, 6) || 'w')
    }
  }
}

// UTF-16 offsets of a text's code point boundaries, 0 and its length included (an embed counts 1).
const boundaries = t => {
  const out = [0]
  let pos = 0
  for (const op of t.toDelta()) {
    if (typeof op.insert === 'string') {
      for (const ch of op.insert) { pos += ch.length; out.push(pos) }
    } else { pos += 1; out.push(pos) }
  }
  if (pos !== t.length) throw new Error(`text length ${t.length}, delta length ${pos}`)
  return out
}

// Tagged JSON of a value read from a doc. A Y.Map's keys come out sorted: yjs lists them in the
// order the replica learnt them, which differs between replicas; plain objects keep their order.
const tag = v => {
  if (v === undefined) return { $undefined: true }
  if (v instanceof Uint8Array) return { $binary: hex(v) }
  if (v instanceof Y.Text) return v.toString()
  if (v instanceof Y.Map) {
    const o = {}
    for (const k of [...v.keys()].sort()) o[k] = tag(v.get(k))
    return o
  }
  if (v instanceof Y.Array) return v.toArray().map(tag)
  if (Array.isArray(v)) return v.map(tag)
  if (v !== null && typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = tag(v[k])
    return o
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) }
  return v
}

const content = doc => ({
  m: tag(doc.getMap('m')),
  a: tag(doc.getArray('a')),
  t: doc.getText('t').toString(),
  x: doc.getXmlFragment('x').toString()
})

const stateVector = doc => {
  const sv = {}
  Y.decodeStateVector(Y.encodeStateVector(doc)).forEach((clock, client) => { sv[client] = clock })
  return sv
}

// Delete set as {client: [[clock, len], ...]}, sorted and with adjacent ranges merged, so two
// encodings of the same deletions compare equal.
const normDS = ds => {
  const out = {}
  ds.clients.forEach((items, client) => {
    const sorted = items.map(i => [i.clock, i.len]).sort((x, y) => x[0] - y[0])
    const merged = []
    for (const [clock, len] of sorted) {
      const last = merged[merged.length - 1]
      if (last && last[0] + last[1] >= clock) last[1] = Math.max(last[1], clock + len - last[0])
      else merged.push([clock, len])
    }
    if (merged.length > 0) out[client] = merged
  })
  return out
}

const summary = doc => ({
  content: content(doc),
  stateVector: stateVector(doc),
  deleteSet: normDS(Y.createDeleteSetFromStructStore(doc.store)),
  pending: doc.store.pendingStructs !== null || doc.store.pendingDs !== null
})

// JSON with sorted keys: map key order depends on the order a peer learnt the keys in.
const canonical = v => JSON.stringify(v, (k, x) =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map(k => [k, x[k]])) : x)

const simulate = (seed, ops) => {
  const r = prng(seed)
  const nPeers = r.int(2, 5)
  const peers = []
  const updates = []
  const updatesV2 = []
  for (let i = 0; i < nPeers; i++) {
    const doc = new Y.Doc()
    // Random ids below 2^32 like yjs picks, with one peer sometimes far above the varint fast path.
    doc.clientID = i === 0 && r.bool(0.3) ? r.int(2 ** 33, 2 ** 40) : r.int(0, 2 ** 32 - 1)
    const peer = { doc, online: true, inbox: [] }
    doc.on('updateV2', (u, origin, d, tr) => { if (tr.local) updatesV2.push(hex(u)) })
    doc.on('update', (u, origin, d, tr) => {
      if (!tr.local) return
      updates.push(hex(u))
      for (const other of peers) if (other !== peer) other.inbox.push(u)
    })
    peers.push(peer)
  }
  const deliver = (peer, n) => {
    for (let i = 0; i < n && peer.inbox.length > 0; i++) {
      // Mostly in order, sometimes out of order: yjs parks what it cannot integrate yet.
      const j = r.bool(0.8) ? 0 : r.int(0, peer.inbox.length - 1)
      const [u] = peer.inbox.splice(j, 1)
      Y.applyUpdate(peer.doc, u, 'remote')
    }
  }
  for (let step = 0; step < ops; step++) {
    const peer = r.pick(peers)
    const x = r.float()
    if (x < 0.04) peer.online = !peer.online
    else if (x < 0.35) { if (peer.online) deliver(peer, r.int(1, 4)) } else if (x < 0.40) {
      // several edits in one transaction: one update
      peer.doc.transact(() => { for (let i = r.int(2, 4); i > 0; i--) randomEdit(r, peer.doc) })
    } else randomEdit(r, peer.doc)
  }
  // Applying remote edits can make a peer write (yjs cleans up redundant text formatting in a
  // local transaction), so deliver until every inbox stays empty.
  for (const p of peers) p.online = true
  while (peers.some(p => p.inbox.length > 0)) for (const p of peers) deliver(p, Infinity)
  const want = summary(peers[0].doc)
  for (const p of peers.slice(1)) {
    const got = summary(p.doc)
    if (canonical(got) !== canonical(want)) throw new Error(`seed ${seed}: yjs peers diverged: ${canonical(got)} vs ${canonical(want)}`)
  }
  if (want.pending) throw new Error(`seed ${seed}: pending after full delivery`)
  return {
    seed,
    peers: nPeers,
    updates,
    updatesV2,
    ...want,
    full: hex(Y.encodeStateAsUpdate(peers[0].doc)),
    fullV2: hex(Y.encodeStateAsUpdateV2(peers[0].doc))
  }
}

const [cmd, ...args] = process.argv.slice(2)
if (cmd === 'gen') {
  const first = Number(args[0] ?? 1); const count = Number(args[1] ?? 1); const ops = Number(args[2] ?? 300)
  const out = []
  for (let s = first; s < first + count; s++) out.push(simulate(s, ops))
  process.stdout.write(JSON.stringify(out))
} else if (cmd === 'check') {
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'))
  const out = cases.map(c => {
    const doc = new Y.Doc()
    let error = null
    try {
      // Each update is applied inside a local transaction so yjs does not clean up redundant
      // text formatting: that cleanup is a write of this replica (yjs does it after remote
      // changes), not part of what the updates say.
      const apply = c.v2 ? Y.applyUpdateV2 : Y.applyUpdate
      for (const u of c.updates) doc.transact(() => apply(doc, unhex(u)), 'check', true)
    } catch (e) {
      error = String(e && e.stack || e)
    }
    return { name: c.name, error, ...summary(doc), encoded: hex(Y.encodeStateAsUpdate(doc)) }
  })
  process.stdout.write(JSON.stringify(out))
} else if (cmd === 'serve') {
  // yjs peers driven one request at a time (JSON lines in, one JSON line out per request), so Go
  // and yjs peers can edit the same document concurrently:
  //   {"cmd":"init","seed":1,"ids":[...]}   one yjs peer per client id, a PRNG seeded with seed
  //   {"cmd":"edit","peer":0,"edits":2}     random edits in one transaction (no embeds: the Go
  //                                         API has no delta to find positions around them)
  //   {"cmd":"apply","peer":0,"update":hex} apply a v1 update from another peer
  //   {"cmd":"summary","peer":0}
  // edit and apply answer {"updates":[hex...]}: what the peer's own transactions produced
  // (applying can produce some: yjs cleans up redundant text formatting after remote changes).
  const readline = await import('readline')
  let r = null
  let peers = []
  const drain = p => { const out = p.out; p.out = []; return out }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of rl) {
    const q = JSON.parse(line)
    let a
    try {
      if (q.cmd === 'init') {
        r = prng(q.seed)
        peers = q.ids.map(id => {
          const doc = new Y.Doc()
          doc.clientID = id
          const p = { doc, out: [] }
          doc.on('update', (u, origin, d, tr) => { if (tr.local) p.out.push(hex(u)) })
          return p
        })
        a = {}
      } else if (q.cmd === 'edit') {
        const p = peers[q.peer]
        p.doc.transact(() => { for (let i = 0; i < (q.edits || 1); i++) randomEdit(r, p.doc, false) })
        a = { updates: drain(p) }
      } else if (q.cmd === 'apply') {
        const p = peers[q.peer]
        Y.applyUpdate(p.doc, unhex(q.update), 'remote')
        a = { updates: drain(p) }
      } else if (q.cmd === 'summary') {
        a = summary(peers[q.peer].doc)
      } else {
        a = { error: `unknown command ${q.cmd}` }
      }
    } catch (e) {
      a = { error: String((e && e.stack) || e) }
    }
    process.stdout.write(JSON.stringify(a) + '\n')
  }
} else {
  process.stderr.write('usage: peers.mjs gen <firstSeed> <count> [ops] | check < cases.json | serve\n')
  process.exit(2)
}
