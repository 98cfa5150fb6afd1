// Rooms benchmarks: the same stock yjs clients (y-websocket 3.x WebsocketProvider, one Node
// process) against Yard (one replica, and two through Redis) and the y-websocket 2.1.0 server.
//
//   node server/room/bench/run.mjs --yard <bin> [--seconds 15] [--only latency|memory] [--filter hocus,yard]
//
// Latency: one room, 200 clients, 20 of them write 10 updates/s each (one map key, the send
// time); every other client records now - send time when the change arrives. CPU: the server
// process's user+system seconds during the measured window per 10,000 deliveries. Memory: 1,000
// rooms x 5 synced clients (each room holding a few krates), the server's RSS.
import { spawn } from 'node:child_process'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
    '--static-dir', '/nonexistent', '--max-conns-per-user', '20000', '--room-message-rate', '1000']
  if (redisURL) argv.push('--redis-url', redisURL)
  const s = await start(args.yard, argv, { YARD_JWT_SECRET: 'bench-secret-0123456789abcdef' }, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  const res = await fetch(s.url + '/api/auth/dev-login', { method: 'POST', body: JSON.stringify({ name: 'bench' }) })
  s.token = (await res.json()).token
  s.ws = s.url.replace('http', 'ws') + '/ws/sync'
  return s
}

async function startHocuspocus () {
  const s = await start('node', ['server/room/bench/hocuspocus-server.mjs'], {}, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
  s.ws = s.url.replace('http', 'ws')
  s.hocuspocus = true
  return s
}

async function startYWebsocket () {
  const s = await start('node', ['server/room/bench/ywebsocket-server.cjs'], {}, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/)
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

// latency runs one room with 200 clients spread round-robin over servers.
async function latency (servers, label) {
  const room = 'bench-' + Math.random().toString(36).slice(2)
  const clients = []
  for (let i = 0; i < 200; i++) clients.push(client(servers[i % servers.length], room))
  await Promise.all(clients.map(synced))
  let measuring = false
  const lat = []
  let delivered = 0
  for (const c of clients) {
    c.doc.getMap('bench').observe((e) => {
      if (e.transaction.local) return
      const t = now()
      for (const k of e.keysChanged) {
        const v = c.doc.getMap('bench').get(k)
        if (measuring) { lat.push(t - v); delivered++ }
      }
    })
  }
  const writers = clients.slice(0, 20)
  const timers = writers.map((w, i) => setTimeout(() => {
    w.timer = setInterval(() => w.doc.getMap('bench').set('w' + i, now()), 100)
  }, i * 5))
  await sleep(WARMUP * 1000)
  const cpu0 = servers.map(s => cpuSeconds(s.proc.pid))
  measuring = true
  await sleep(SECONDS * 1000)
  measuring = false
  const cpu = servers.reduce((sum, s, i) => sum + cpuSeconds(s.proc.pid) - cpu0[i], 0)
  timers.forEach(clearTimeout)
  writers.forEach(w => clearInterval(w.timer))
  await sleep(500)
  clients.forEach(c => c.provider.destroy())
  lat.sort((a, b) => a - b)
  const r = {
    server: label,
    p50ms: +percentile(lat, 0.5).toFixed(1),
    p99ms: +percentile(lat, 0.99).toFixed(1),
    delivered,
    expected: 20 * 10 * SECONDS * 199,
    cpuSecondsPer10k: +(cpu / delivered * 10000).toFixed(3)
  }
  console.log(JSON.stringify(r))
  return r
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

main().catch(e => { console.error(e); for (const c of children) { try { c.kill('SIGKILL') } catch {} } process.exit(1) })
