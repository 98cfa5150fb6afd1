// Summarises bench/crdt/run.sh's measurements (one JSON line per round and engine): medians,
// Go/yjs ratios against the targets, printed as a Markdown section and, with --docs, written
// between the crdt markers of docs/benchmarks.md (the section is appended if missing).
import fs from 'fs'

const opts = {}
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1]
const load = f => fs.readFileSync(f, 'utf8').trim().split('\n').map(l => JSON.parse(l))
const go = load(opts.go)
const yjs = load(opts.yjs)

const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const all = (rs, k) => rs.flatMap(r => Array.isArray(r[k]) ? r[k] : [r[k]])
const med = (rs, k) => median(all(rs, k))
const fmtMs = x => x >= 100 ? `${Math.round(x).toLocaleString('en-US')} ms` : `${x.toFixed(1)} ms`
const fmtMB = b => `${(b / 1048576).toFixed(2)} MiB`
const fmtB = b => `${b.toLocaleString('en-US')} B`

const rows = []
const row = (name, key, fmt, target, cpuKey) => {
  const g = med(go, key); const y = med(yjs, key); const ratio = g / y
  const cpu = cpuKey ? (med(go, cpuKey) / med(yjs, cpuKey)).toFixed(2) : ''
  rows.push({ name, g: fmt(g), y: fmt(y), ratio: ratio.toFixed(2), cpu, target: `<= ${target}x`, met: ratio <= target ? 'yes' : '**no**' })
}
row(`(a) replay automerge-paper: ${go[0].updates.toLocaleString('en-US')} updates applied one by one`, 'replayMs', fmtMs, 0.5, 'replayCpuMs')
row('(b) decode b4-update.bin into a doc', 'decodeB4Ms', fmtMs, 0.5, 'decodeB4CpuMs')
row('(c) encode the replayed doc as v1', 'encodeV1Ms', fmtMs, 0.5, 'encodeV1CpuMs')
row('(c) encode the replayed doc as v2', 'encodeV2Ms', fmtMs, 0.5, 'encodeV2CpuMs')
row('(d) heap held by the replayed doc', 'heapReplayedBytes', fmtMB, 1)
row('(d) heap held by the doc decoded from b4-update.bin', 'heapB4Bytes', fmtMB, 1)

const n = Math.min(go.length, yjs.length)
const date = new Date().toISOString().slice(0, 10)
const lines = [
  `Command: \`${opts.command}\`, ${date}. Machine: ${opts.nproc} CPUs (${opts.cpu}), ${process.platform}/${process.arch}, ` +
  `load average ${opts.load} at the end of the run. ` +
  `Go: ${go[0].runtime}; yjs: ${yjs[0].runtime}.`,
  '',
  `Medians of ${n} rounds; in each round yjs and the Go engine run one after the other on the same input, in fresh ` +
  'processes, each timing one run after an unrecorded warm-up run. Memory is the live heap a loaded document holds after a full GC (Go: runtime heap; Node: ' +
  '`heapUsed` with `--expose-gc`). Targets: each time <= 0.5x yjs, memory <= yjs. Times are wall clock; the CPU ' +
  'column is the ratio of process CPU time (all threads, garbage collectors included), steadier when the machine is shared.',
  '',
  '| benchmark | crdt (Go) | yjs | Go/yjs | Go/yjs CPU | target | met |',
  '|---|---:|---:|---:|---:|---|---|',
  ...rows.map(r => `| ${r.name} | ${r.g} | ${r.y} | ${r.ratio} | ${r.cpu} | ${r.target} | ${r.met} |`),
  '',
  `Encoded sizes of the replayed doc: v1 ${fmtB(go[0].v1Bytes)} (yjs ${fmtB(yjs[0].v1Bytes)}), ` +
  `v2 ${fmtB(go[0].v2Bytes)} (yjs ${fmtB(yjs[0].v2Bytes)}). b4-update.bin re-encoded as v1: ` +
  `${fmtB(go[0].b4V1Bytes)} (yjs ${fmtB(yjs[0].b4V1Bytes)}).`,
  ''
]
// Prose lines wrap at 100 columns like the rest of the file; table rows stay whole.
const wrap = line => {
  if (line.startsWith('|') || line.length <= 100) return line
  const out = []
  let cur = ''
  for (const word of line.split(' ')) {
    if (cur && cur.length + 1 + word.length > 100) { out.push(cur); cur = word } else cur = cur ? cur + ' ' + word : word
  }
  if (cur) out.push(cur)
  return out.join('\n')
}
const section = lines.map(wrap).join('\n')
process.stdout.write(section + '\n')

if (opts.docs) {
  const begin = '<!-- crdt-bench:begin (written by bench/crdt/run.sh) -->'
  const end = '<!-- crdt-bench:end -->'
  let doc = fs.existsSync(opts.docs) ? fs.readFileSync(opts.docs, 'utf8') : '# Benchmarks\n'
  const block = `${begin}\n${section}${end}`
  const i = doc.indexOf(begin); const j = doc.indexOf(end)
  if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length)
  else doc = doc.replace(/\n*$/, '\n\n') + `## CRDT engine (crdt/) vs yjs\n\n${block}\n`
  fs.writeFileSync(opts.docs, doc)
  console.error(`wrote the crdt section of ${opts.docs}`)
}
