// The yjs side of the crdt benchmarks (bench/crdt/run.sh runs it with --expose-gc).
//
//   node bench/crdt/js/yjs.mjs prepare <trace.json.gz> <out.bin>
//     Replays the editing trace in yjs, one transaction per edit, and writes every update event
//     as a lib0 varUint8Array (the input of the replay benchmark, shared with the Go side).
//   node --expose-gc bench/crdt/js/yjs.mjs run <updates.bin> <b4-update.bin> <runs> [warmup=1]
//     Prints JSON: per-run times (ms, after unrecorded warm-up runs) of replaying the updates one by one into a fresh doc,
//     decoding b4-update.bin, encoding the replayed doc as v1 and v2; encoded sizes; and the heap
//     held by each loaded doc after a full GC.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import fs from 'fs'
import zlib from 'zlib'

// Wall and CPU time (user + system, every thread of the process) in ms.
const now = () => { const c = process.cpuUsage(); return { wall: performance.now(), cpu: (c.user + c.system) / 1000 } }
const since = (t0, res, key) => {
  const t = now()
  res[key + 'Ms'].push(t.wall - t0.wall)
  res[key + 'CpuMs'].push(t.cpu - t0.cpu)
}
const keys = ['replay', 'decodeB4', 'encodeV1', 'encodeV2']

const readUpdates = file => {
  const d = decoding.createDecoder(fs.readFileSync(file))
  const out = []
  while (decoding.hasContent(d)) out.push(decoding.readVarUint8Array(d))
  return out
}

const [cmd, ...args] = process.argv.slice(2)
if (cmd === 'prepare') {
  const [trace, out] = args
  const data = JSON.parse(zlib.gunzipSync(fs.readFileSync(trace)).toString())
  const doc = new Y.Doc()
  const text = doc.getText('text')
  const e = encoding.createEncoder()
  let n = 0
  doc.on('update', u => { encoding.writeVarUint8Array(e, u); n++ })
  for (const t of data.txns) {
    for (const [pos, del, ins] of t.patches) {
      if (del > 0) text.delete(pos, del)
      if (ins) text.insert(pos, ins)
    }
  }
  if (text.toString() !== data.endContent) throw new Error('trace replay does not give endContent')
  fs.writeFileSync(out + '.tmp', encoding.toUint8Array(e))
  fs.renameSync(out + '.tmp', out)
  fs.writeFileSync(out + '.text', data.endContent)
  console.error(`prepared ${n} updates in ${out}`)
} else if (cmd === 'run') {
  const [updatesFile, b4File, runsArg, warmupArg] = args
  if (typeof gc !== 'function') throw new Error('run node with --expose-gc')
  const runs = Number(runsArg || 5)
  const warmup = Number(warmupArg ?? 1) // unrecorded runs first: the JIT warms up
  const updates = readUpdates(updatesFile)
  const endText = fs.readFileSync(updatesFile + '.text', 'utf8')
  const b4 = new Uint8Array(fs.readFileSync(b4File))
  const res = { engine: 'yjs', updates: updates.length }
  for (let r = 0; r < warmup + runs; r++) {
    if (r === 0 || r === warmup) for (const k of keys) { res[k + 'Ms'] = []; res[k + 'CpuMs'] = [] }
    gc()
    let t0 = now()
    const doc = new Y.Doc()
    for (const u of updates) Y.applyUpdate(doc, u)
    since(t0, res, 'replay')
    if (doc.getText('text').toString() !== endText) throw new Error('replay gives the wrong text')

    gc()
    t0 = now()
    const b4doc = new Y.Doc()
    Y.applyUpdate(b4doc, b4)
    since(t0, res, 'decodeB4')
    res.b4TextLength = b4doc.getText('text').length

    t0 = now()
    const v1 = Y.encodeStateAsUpdate(doc)
    since(t0, res, 'encodeV1')
    t0 = now()
    const v2 = Y.encodeStateAsUpdateV2(doc)
    since(t0, res, 'encodeV2')
    res.v1Bytes = v1.byteLength
    res.v2Bytes = v2.byteLength
    res.b4V1Bytes = Y.encodeStateAsUpdate(b4doc).byteLength
  }
  // Heap held by a loaded document: the heap after a full GC with the doc alive, minus before.
  const held = load => {
    gc(); gc()
    const before = process.memoryUsage().heapUsed
    const doc = load()
    gc(); gc()
    const after = process.memoryUsage().heapUsed
    if (doc.getText('text').length === 0) throw new Error('empty doc')
    return after - before
  }
  res.heapReplayedBytes = held(() => { const d = new Y.Doc(); for (const u of updates) Y.applyUpdate(d, u); return d })
  res.heapB4Bytes = held(() => { const d = new Y.Doc(); Y.applyUpdate(d, b4); return d })
  res.runtime = `Node ${process.version}, yjs ${JSON.parse(fs.readFileSync(new URL('../../../node_modules/yjs/package.json', import.meta.url))).version}`
  process.stdout.write(JSON.stringify(res) + '\n')
} else {
  console.error('usage: yjs.mjs prepare <trace.json.gz> <out.bin> | run <updates.bin> <b4-update.bin> <runs>')
  process.exit(2)
}
