// Rooms benchmarks: the same stock yjs clients (y-websocket 3.x WebsocketProvider, or
// @hocuspocus/provider for Hocuspocus) against Yard (one replica, and two through Redis), the
// y-websocket 2.1.0 server and @hocuspocus/server, and, for latency, a bare update relay
// (relay-server.mjs) that shows what the clients and the machine alone cost.
//
//   node bench/rooms/run.mjs --yard <bin> [--seconds 15] [--workers 4] [--only latency|memory] [--filter hocus,yard]
//
// Latency: one room, 200 clients hosted by --workers Node processes, 20 of them write 10
// updates/s each (one map key, the wall-clock send time); every other client records now - send
// time when the change arrives (one machine, so every process reads the same clock). CPU: the server
// process's user+system seconds during the measured window per 10,000 deliveries. Memory: 1,000
// rooms x 5 synced clients (each room holding a few krates), the server's RSS.
import { spawn, fork } from 'node:child_process'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true'])
  return acc
}, []))
const SECONDS = Number(args.seconds || 15)
const WARMUP = 3
const now = () => performance.timeOrigin + performance.now()
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const children = []

function start (cmd, argv, env, match) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(p)
    const t = setTimeout(() => reject(new Error(cmd + ' did not start')), 30000)
    for (const s of [p.stdout, p.stderr]) {
      createInterface({ input: s }).on('line', line => {
        const m = line.match(match)
        if (m) { clearTimeout(t); resolve({ proc: p, url: m[1] }) }
      })
    }
    p.on('exit', code => reject(new Error(cmd + ' exited ' + code)))
  })
}

function cpuSeconds (pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, in clock ticks of 10 ms
}
function rssMiB (pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return Number(m[1]) / 1024
}

async function startRedis (dir) {
  const port = 20000 + Math.floor(Math.random() * 20000)
  await start('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], {}, /(Ready to accept connections)/)
  return `redis://127.0.0.1:${port}/0`
}

async function startYard (name, redisURL) {
  const argv = ['serve', '--listen', '127.0.0.1:0', '--dev-auth', '--log-format', 'json', '--replica-id', name,
    '--static-dir', '/nonexistent', '--max-conns-per-user', '20000', '--room-message-rate', '1000',
    '--room-user-write-bytes-per-sec', String(1 << 30)]
  if (redisURL) argv.push('--redis-url', redisURL)
  const s = await start(args.yard, argv, { YARD_JWT_SECRET: 'bench-secret-0123456789abcdef' }, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  const res = await fetch(s.url + '/api/auth/dev-login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
  s.token = (await res.json()).token
  s.ws = s.url.replace('http', 'ws') + '/ws/sync'
  return s
}

async function startHocuspocus () {
  const s = await start('node', ['bench/rooms/hocuspocus-server.mjs'], {}, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  s.ws = s.url.replace('http', 'ws')
  s.hocuspocus = true
  return s
}

// startRelay runs relay-server.mjs: the floor of the latency run (no document, no awareness).
async function startRelay () {
  const s = await start('node', ['bench/rooms/relay-server.mjs'], {}, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  s.ws = s.url.replace('http', 'ws') + '/ws/sync'
  return s
}

async function startYWebsocket () {
  const s = await start('node', ['bench/rooms/ywebsocket-server.cjs'], {}, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  s.ws = s.url.replace('http', 'ws') + '/ws/sync'
  return s
}

function client (server, room) {
  const doc = new Y.Doc()
  if (server.hocuspocus) {
    const provider = new HocuspocusProvider({ url: server.ws, name: room, document: doc, WebSocketPolyfill: WebSocket })
    return { doc, provider, hocuspocus: true }
  }
  class WS extends WebSocket {
    constructor (url, protocols) { super(url, protocols, server.token ? { headers: { Authorization: 'Bearer ' + server.token } } : {}) }
  }
  const provider = new WebsocketProvider(server.ws, room, doc, { WebSocketPolyfill: WS, disableBc: true })
  return { doc, provider }
}

function synced (c) {
  if (c.hocuspocus) return new Promise(resolve => { if (c.provider.isSynced) resolve(); else c.provider.on('synced', resolve) })
  return new Promise(resolve => { if (c.provider.synced) resolve(); else c.provider.once('sync', resolve) })
}

function percentile (sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] }

// latency runs one room with 200 clients spread round-robin over servers and hosted by
// --workers Node processes (default 4, 50 clients each), so that no one client process's event
// loop sets the figures. Writers embed the wall-clock send time (performance.timeOrigin + now(),
// the same clock in every process on this machine) and receivers subtract it on arrival.
const CLIENTS = 200
const WRITERS = 20
async function latency (servers, label) {
  const room = 'bench-' + Math.random().toString(36).slice(2)
  const nw = Math.max(1, Number(args.workers || 4))
  const perWorker = Math.ceil(CLIENTS / nw)
  const writersPer = Math.ceil(WRITERS / nw)
  const workers = []
  let writer = 0
  for (let w = 0; w < nw; w++) {
    const specs = []
    for (let i = w * perWorker; i < Math.min(CLIENTS, (w + 1) * perWorker); i++) {
      const isWriter = i - w * perWorker < writersPer && writer < WRITERS
      specs.push({ server: i % servers.length, writer: isWriter ? writer++ : -1 })
    }
    const p = fork(fileURLToPath(import.meta.url), ['--worker'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(p)
    const msgs = []
    const waiters = []
    p.on('message', m => { const f = waiters.shift(); if (f) f(m); else msgs.push(m) })
    // A worker that ends or stalls before answering fails the run instead of hanging it.
    let exited = null
    p.on('exit', code => { exited = { error: 'latency worker exited ' + code }; waiters.splice(0).forEach(f => f(exited)) })
    const next = () => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('latency worker did not answer in 120 s')), 120000)
      const got = m => { clearTimeout(t); if (m.error) reject(new Error(m.error)); else resolve(m) }
      if (msgs.length) got(msgs.shift()); else if (exited) got(exited); else waiters.push(got)
    })
    p.send({ cmd: 'open', room, specs, servers: servers.map(s => ({ ws: s.ws, token: s.token, hocuspocus: !!s.hocuspocus })) })
    workers.push({ p, next })
  }
  await Promise.all(workers.map(w => w.next())) // every client synced
  workers.forEach(w => w.p.send({ cmd: 'write' }))
  await sleep(WARMUP * 1000)
  workers.forEach(w => w.p.send({ cmd: 'measure', on: true }))
  const cpu0 = servers.map(s => cpuSeconds(s.proc.pid))
  await sleep(SECONDS * 1000)
  const cpu = servers.reduce((sum, s, i) => sum + cpuSeconds(s.proc.pid) - cpu0[i], 0)
  workers.forEach(w => w.p.send({ cmd: 'measure', on: false }))
  workers.forEach(w => w.p.send({ cmd: 'stop' }))
  const parts = await Promise.all(workers.map(w => w.next()))
  let delivered = 0
  const all = []
  for (const r of parts) { delivered += r.delivered; for (const v of r.lat) all.push(v) }
  const lat = Float64Array.from(all).sort()
  const r = {
    server: label,
    p50ms: +percentile(lat, 0.5).toFixed(1),
    p99ms: +percentile(lat, 0.99).toFixed(1),
    delivered,
    expected: WRITERS * 10 * SECONDS * (CLIENTS - 1),
    cpuSecondsPer10k: +(cpu / delivered * 10000).toFixed(3),
    clientProcesses: nw
  }
  console.log(JSON.stringify(r))
  return r
}

// latencyWorker hosts its share of the latency clients (run.mjs --worker, driven over IPC).
function latencyWorker () {
  let clients = []
  let measuring = false
  let lat = []
  let delivered = 0
  process.on('message', async m => {
    switch (m.cmd) {
      case 'open':
        clients = m.specs.map(sp => Object.assign(client(m.servers[sp.server], m.room), { writer: sp.writer }))
        await Promise.all(clients.map(synced))
        for (const c of clients) {
          const map = c.doc.getMap('bench')
          map.observe((e) => {
            if (e.transaction.local) return
            const t = now()
            for (const k of e.keysChanged) {
              if (measuring) { lat.push(t - map.get(k)); delivered++ }
            }
          })
        }
        process.send({ ev: 'synced' })
        break
      case 'write':
        for (const c of clients) {
          if (c.writer < 0) continue
          c.timeout = setTimeout(() => {
            c.timer = setInterval(() => c.doc.getMap('bench').set('w' + c.writer, now()), 100)
          }, c.writer * 5)
        }
        break
      case 'measure':
        measuring = m.on
        break
      case 'stop':
        for (const c of clients) { clearTimeout(c.timeout); clearInterval(c.timer) }
        await sleep(500)
        clients.forEach(c => c.provider.destroy())
        // Exit only once the result is written: the channel drops what is still queued at exit,
        // and on a loaded machine a result of 100k+ latencies can take longer than a moment.
        process.send({ ev: 'result', lat: Float64Array.from(lat), delivered }, () => process.exit(0))
        lat = []
        break
    }
  })
}

// memory: 1,000 rooms x 5 clients, each room with a few krates; the server's RSS once synced.
async function memory (server, label) {
  const rss0 = rssMiB(server.proc.pid)
  const clients = []
  for (let r = 0; r < 1000; r++) {
    const room = 'mem-' + r
    const batch = []
    for (let i = 0; i < 5; i++) batch.push(client(server, room))
    clients.push(...batch)
    await Promise.all(batch.map(synced))
    const k = batch[0].doc.getMap('krates')
    batch[0].doc.transact(() => {
      for (let j = 0; j < 5; j++) {
        const m = new Y.Map()
        k.set('k' + j, m)
        m.set('kind', 'pod'); m.set('ref', { cluster: 'local', namespace: 'demo', kind: 'Pod', name: 'web-' + j }); m.set('wx', j * 100); m.set('wy', 0)
      }
    })
  }
  await sleep(3000)
  const r = { server: label, rooms: 1000, clients: clients.length, rssMiB: +rssMiB(server.proc.pid).toFixed(0), idleRssMiB: +rss0.toFixed(0) }
  clients.forEach(c => c.provider.destroy())
  console.log(JSON.stringify(r))
  return r
}

// --filter <text>[,<text>...] runs only the servers whose label contains one of the texts
// (case-insensitive).
const wanted = label => !args.filter || args.filter.toLowerCase().split(',').some(f => label.toLowerCase().includes(f))

async function main () {
  const dir = mkdtempSync(join(tmpdir(), 'yard-rooms-bench-'))
  const results = []
  try {
    const run = async (label, startServers, measure) => {
      if (!wanted(label)) return
      const servers = await startServers()
      results.push(await measure(servers, label))
      servers.forEach(s => s.proc.kill())
    }
    if (args.only !== 'memory') {
      await run('Hocuspocus 4.7 server', async () => [await startHocuspocus()], latency)
      await run('y-websocket 2.1.0 server', async () => [await startYWebsocket()], latency)
      await run('floor: update relay, no document', async () => [await startRelay()], latency)
      await run('Yard, 1 replica (in-memory)', async () => [await startYard('solo')], latency)
      if (wanted('Yard, 1 replica (Redis)') || wanted('Yard, 2 replicas (Redis)')) {
        const redisURL = await startRedis(dir)
        const ya = await startYard('a', redisURL)
        const yb = await startYard('b', redisURL)
        if (wanted('Yard, 1 replica (Redis)')) results.push(await latency([ya], 'Yard, 1 replica (Redis)'))
        if (wanted('Yard, 2 replicas (Redis)')) results.push(await latency([ya, yb], 'Yard, 2 replicas (Redis)'))
        ya.proc.kill(); yb.proc.kill()
      }
    }
    if (args.only !== 'latency') {
      await run('Hocuspocus 4.7 server', async () => [await startHocuspocus()], (s, l) => memory(s[0], l))
      await run('y-websocket 2.1.0 server', async () => [await startYWebsocket()], (s, l) => memory(s[0], l))
      await run('Yard, 1 replica (in-memory)', async () => [await startYard('solo')], (s, l) => memory(s[0], l))
    }
  } finally {
    for (const c of children) { try { c.kill('SIGKILL') } catch {} }
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(JSON.stringify({ results }, null, 1))
  process.exit(0)
}

if (args.worker) latencyWorker()
else main().catch(e => { console.error(e); for (const c of children) { try { c.kill('SIGKILL') } catch {} } process.exit(1) })
