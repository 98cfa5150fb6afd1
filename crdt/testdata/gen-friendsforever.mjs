// Replays the first LIMIT transactions of the friendsforever concurrent
// trace with yjs exactly as TestConcurrentTrace does (each transaction edits
// a fork of its parents' merged state, as client 1000+index) and records
// hashes of the merged result. Run from the repository root:
//   node crdt/testdata/gen-friendsforever.mjs > crdt/testdata/friendsforever-yjs.json
import * as Y from 'yjs'
import fs from 'fs'
import zlib from 'zlib'
import crypto from 'crypto'

const LIMIT = 1000
const dir = process.argv[2] || 'crdt/testdata/yjs'
const tr = JSON.parse(zlib.gunzipSync(fs.readFileSync(dir + '/friendsforever.json.gz')))
const txns = tr.txns.slice(0, LIMIT)
const states = new Array(txns.length)
const children = new Array(txns.length).fill(0)
for (const t of txns) for (const p of t.parents) children[p]++
const toU16 = (s, runes) => { let i = 0; let k = 0; for (const ch of s) { if (k === runes) break; i += ch.length; k++ } return i }
txns.forEach((tx, i) => {
  const d = new Y.Doc(); d.clientID = 1000 + i
  for (const p of tx.parents) { Y.applyUpdate(d, states[p]); if (--children[p] === 0) states[p] = null }
  const t = d.getText('text')
  d.transact(() => {
    for (const [pos, del, ins] of tx.patches) {
      const s = t.toString(); const st = toU16(s, pos)
      if (del > 0) t.delete(st, toU16(s, pos + del) - st)
      if (ins !== '') t.insert(st, ins)
    }
  })
  states[i] = Y.encodeStateAsUpdate(d)
})
const f = new Y.Doc()
states.forEach((s, i) => { if (s && children[i] === 0) Y.applyUpdate(f, s) })
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')
const v1 = Y.encodeStateAsUpdate(f)
console.log(JSON.stringify({ limit: LIMIT, textLength: f.getText('text').length, textSHA256: sha(f.getText('text').toString()), v1Length: v1.length, v1SHA256: sha(v1) }, null, 1))
