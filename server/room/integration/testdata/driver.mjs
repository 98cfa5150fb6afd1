// Drives stock y-websocket clients for the sync integration tests. Commands arrive as JSON lines
// on stdin ({seq, op, ...}); each gets one JSON line on stdout ({seq, ok, ...} or {seq, error}).
// Every client is an unmodified WebsocketProvider (y-websocket 3.x, or 2.x with version "v2")
// on its own Y.Doc; the only hook is the WebSocket class, which adds the bearer header and lets
// the test move a client to another replica (the next reconnect goes there).
import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider as ProviderV3 } from 'y-websocket'
import { WebsocketProvider as ProviderV2 } from 'y-websocket-v2'

const clients = new Map()

// y-websocket reports the server's permission-denied message with console.warn, naming the URL;
// the tests want to see which client got it.
const warn = console.warn
console.warn = (...args) => {
  const s = args.join(' ')
  if (!s.includes('Permission denied')) return warn(...args)
  for (const c of clients.values()) if (s.includes(c.provider.url)) c.lastWarn = s
}

function out (msg) { process.stdout.write(JSON.stringify(msg) + '\n') }

function mulberry32 (a) {
  return function () {
    a |= 0; a = a + 0x6D2B79F5 | 0
    let t = Math.imul(a ^ a >>> 15, 1 | a)
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
    return ((t ^ t >>> 14) >>> 0) / 4294967296
  }
}

function connect ({ id, base, room, token, version, params }) {
  const c = { id, base, token, denied: [], received: 0 }
  class AuthWS extends WebSocket {
    constructor (url, protocols) {
      // url = <serverUrl>/<room>?<params>; the server part is replaced by the current target.
      const rest = url.slice(url.indexOf('/ws/sync') + '/ws/sync'.length)
      super(c.base + rest, protocols, { headers: { Authorization: 'Bearer ' + c.token } })
      this.on('message', () => { c.received++ })
    }
  }
  c.doc = new Y.Doc()
  const Provider = version === 'v2' ? ProviderV2 : ProviderV3
  c.provider = new Provider(base, room, c.doc, { WebSocketPolyfill: AuthWS, disableBc: true, params: params || {} })
  c.provider.on('connection-error', () => {})
  c.opens = 0
  c.provider.on('status', e => { if (e.status === 'connected') c.opens++ })
  c.rand = mulberry32(hash(id))
  c.n = 0
  clients.set(id, c)
  return waitSynced(c, 15000)
}

function hash (s) { let h = 2166136261; for (const ch of s) { h ^= ch.charCodeAt(0); h = Math.imul(h, 16777619) } return h >>> 0 }

function waitSynced (c, timeout) {
  return new Promise((resolve, reject) => {
    if (c.provider.synced) return resolve({})
    const t = setTimeout(() => reject(new Error(c.id + ': not synced after ' + timeout + 'ms')), timeout)
    const on = (s) => { if (s) { clearTimeout(t); c.provider.off('sync', on); resolve({}) } }
    c.provider.on('sync', on)
  })
}

// One random edit of the canvas document: krates (nested maps of window-like objects), the
// layout array, a workflow with nested arrays and maps, and shared text.
function edit (c) {
  const r = c.rand
  const pick = (n) => Math.floor(r() * n)
  const doc = c.doc
  const krates = doc.getMap('krates')
  const layout = doc.getArray('layout')
  const notes = doc.getText('notes')
  const workflow = doc.getMap('workflow')
  const keys = Array.from(krates.keys())
  c.n++
  doc.transact(() => {
    switch (pick(7)) {
      case 0: {
        const k = new Y.Map()
        krates.set(c.id + '-' + c.n, k)
        k.set('kind', ['pod', 'logs', 'shell', 'yaml'][pick(4)])
        k.set('ref', { cluster: 'local', namespace: 'demo', kind: 'Pod', name: 'web-' + pick(50), container: pick(2) ? 'app' : null })
        k.set('wx', pick(2000)); k.set('wy', pick(2000)); k.set('w', 300 + pick(400)); k.set('h', 200 + pick(300))
        k.set('minimized', false); k.set('z', c.n)
        break
      }
      case 1: case 2: {
        if (keys.length === 0) break
        const k = krates.get(keys[pick(keys.length)])
        if (k instanceof Y.Map) { k.set('wx', pick(2000)); k.set('wy', pick(2000)); k.set('z', c.n); k.set('minimized', r() < 0.2) }
        break
      }
      case 3: {
        if (keys.length > 3) krates.delete(keys[pick(keys.length)])
        break
      }
      case 4: {
        if (layout.length > 0 && r() < 0.3) layout.delete(pick(layout.length), 1)
        else layout.insert(pick(layout.length + 1), [{ col: pick(12), row: pick(8), id: c.id + '-' + c.n }])
        break
      }
      case 5: {
        if (notes.length > 0 && r() < 0.3) { const at = pick(notes.length); notes.delete(at, Math.min(1 + pick(5), notes.length - at)) } else notes.insert(pick(notes.length + 1), c.id.slice(-2) + c.n + ' ')
        break
      }
      case 6: {
        let nodes = workflow.get('nodes')
        if (!(nodes instanceof Y.Array)) { nodes = new Y.Array(); workflow.set('nodes', nodes) }
        const node = new Y.Map()
        node.set('id', c.id + '-' + c.n); node.set('deps', [pick(10), pick(10)])
        nodes.push([node])
        workflow.set('updatedBy', c.id)
        break
      }
    }
  })
}

// The roots the edits use, by type: a client that only received them holds untyped placeholders,
// which yjs's toJSON leaves out until someone asks for the type.
const roots = { krates: 'map', workflow: 'map', deploys: 'map', layout: 'array', notes: 'text' }

function json (c) {
  for (const [name, type] of Object.entries(roots)) {
    if (!c.doc.share.has(name)) continue
    if (type === 'map') c.doc.getMap(name)
    else if (type === 'array') c.doc.getArray(name)
    else c.doc.getText(name)
  }
  return c.doc.toJSON()
}

async function waitEqual (ids, timeout, want) {
  const deadline = Date.now() + timeout
  for (;;) {
    const docs = ids.map(id => JSON.stringify(sortKeys(json(clients.get(id)))))
    const target = want !== undefined ? JSON.stringify(sortKeys(want)) : docs[0]
    if (docs.every(d => d === target)) return { json: JSON.parse(docs[0]) }
    if (Date.now() > deadline) {
      const firstDiff = docs.findIndex(d => d !== target)
      return { error: 'documents differ after ' + timeout + 'ms: ' + ids[firstDiff] + ' ' + docs[firstDiff].slice(0, 300) + ' vs ' + target.slice(0, 300) }
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function sortKeys (v) {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]); return o }
  return v
}

const ops = {
  connect,
  async edit ({ id, n }) { const c = clients.get(id); for (let i = 0; i < n; i++) edit(c); return {} },
  // editFor makes edits at rate per second for ms, interleaved with every other client's.
  async editFor ({ ids, rate, ms }) {
    await Promise.all(ids.map(id => new Promise(resolve => {
      const c = clients.get(id)
      const t = setInterval(() => edit(c), 1000 / rate)
      setTimeout(() => { clearInterval(t); resolve() }, ms)
    })))
    return {}
  },
  async json ({ id }) { return { json: json(clients.get(id)) } },
  async waitEqual ({ ids, timeoutMs, want }) { return waitEqual(ids, timeoutMs || 20000, want) },
  async waitSynced ({ id, timeoutMs }) { return waitSynced(clients.get(id), timeoutMs || 20000) },
  async setAwareness ({ id, state }) { clients.get(id).provider.awareness.setLocalState(state); return {} },
  // setAwarenessAll sets the same state on every listed client in one go.
  async setAwarenessAll ({ ids, state }) { for (const id of ids) clients.get(id).provider.awareness.setLocalState(state); return {} },
  async awareness ({ id }) {
    const c = clients.get(id)
    const states = []
    c.provider.awareness.getStates().forEach((s, cid) => { if (cid !== c.doc.clientID) states.push({ clientId: cid, state: s }) })
    return { clientId: c.doc.clientID, states }
  },
  async target ({ id, base }) { clients.get(id).base = base; return {} },
  async status ({ id }) {
    const c = clients.get(id)
    return { connected: c.provider.wsconnected, synced: c.provider.synced, received: c.received, opens: c.opens, lastWarn: c.lastWarn || '' }
  },
  // raw sends bytes (base64) on the client's socket, bypassing its document.
  async raw ({ id, b64 }) { clients.get(id).provider.ws.send(Buffer.from(b64, 'base64')); return {} },
  // setKey writes one key of a root map (read-only and convergence checks).
  async setKey ({ id, map, key, value }) { clients.get(id).doc.getMap(map).set(key, value); return {} },
  async disconnect ({ id }) { const c = clients.get(id); c.provider.destroy(); clients.delete(id); return {} }
}

// Commands run one after another, in the order they arrived.
let queue = Promise.resolve()
const rl = readline.createInterface({ input: process.stdin })
rl.on('line', line => {
  queue = queue.then(async () => {
    let cmd
    try { cmd = JSON.parse(line) } catch (e) { out({ ok: false, error: 'bad command: ' + e.message }); return }
    try {
      const res = await ops[cmd.op](cmd)
      out({ seq: cmd.seq, ok: !res.error, ...res })
    } catch (e) {
      out({ seq: cmd.seq, ok: false, error: String((e && e.stack) || e) })
    }
  })
})
rl.on('close', () => { for (const c of clients.values()) c.provider.destroy(); process.exit(0) })
