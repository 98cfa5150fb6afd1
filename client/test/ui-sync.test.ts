// The client's y-protocols provider against the reference y-websocket 2.1 server utilities:
// if it syncs documents and awareness through a stock server, it speaks y-protocols.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { WebSocket, WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { SyncProvider } from '../src/app/syncProvider.ts'
import type { Connector } from '../src/app/transport.ts'
import { addKrate, listKrates, updateKrate } from '../src/app/schema.ts'

const require = createRequire(import.meta.url)
const { setupWSConnection, docs } = require('y-websocket-v2/bin/utils') as {
  setupWSConnection: (conn: unknown, req: unknown, opts?: { docName?: string }) => void
  docs: Map<string, { destroy(): void }>
}

async function startServer() {
  const http = createServer()
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (conn, req) => setupWSConnection(conn, req))
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  const port = (http.address() as { port: number }).port
  const connector: Connector = (_kind, params, h) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/${params.room}`)
    ws.binaryType = 'arraybuffer'
    ws.on('open', () => h.onOpen())
    ws.on('message', (d: ArrayBuffer, isBinary: boolean) => h.onMessage(isBinary ? new Uint8Array(d) : new TextDecoder().decode(d)))
    ws.on('close', (code) => h.onClose({ wsCode: code }))
    ws.on('error', () => {})
    return { send: (d) => ws.readyState === ws.OPEN && ws.send(d), close: () => ws.close() }
  }
  return {
    connector,
    close: async () => {
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((r) => wss.close(() => r()))
      await new Promise<void>((r) => http.close(() => r()))
      // The reference server keeps rooms (and their awareness timers) forever without persistence.
      for (const d of docs.values()) d.destroy()
      docs.clear()
    },
  }
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('two providers share krates and awareness through a stock y-websocket server', async () => {
  const srv = await startServer()
  const d1 = new Y.Doc(), d2 = new Y.Doc()
  const p1 = new SyncProvider('room-a', d1, { connector: srv.connector })
  const p2 = new SyncProvider('room-a', d2, { connector: srv.connector })
  try {
    await until(() => p1.synced && p2.synced, 'both synced')
    assert.equal(p1.state, 'open')
    const id = addKrate(d1, { kind: 'logs', ref: { namespace: 'demo', kind: 'pods', name: 'web-1' }, wx: 5, wy: 6 })
    await until(() => listKrates(d2).length === 1, 'krate on the second client')
    updateKrate(d2, id, { wx: 300 })
    await until(() => listKrates(d1)[0]!.wx === 300, 'move back on the first client')

    p1.awareness.setLocalState({ userId: 'alice', name: 'alice', color: '#3cb44b', cursor: { x: 1, y: 2 } })
    await until(() => (p2.awareness.getStates().get(d1.clientID) as { userId?: string } | undefined)?.userId === 'alice', 'awareness')

    // A late joiner gets the whole document.
    const d3 = new Y.Doc()
    const p3 = new SyncProvider('room-a', d3, { connector: srv.connector })
    await until(() => p3.synced && listKrates(d3)[0]?.wx === 300, 'late joiner state')
    // Leaving removes our presence for the others.
    p1.destroy()
    await until(() => !p2.awareness.getStates().has(d1.clientID), 'awareness removal')
    p3.destroy()
  } finally {
    p2.destroy()
    await srv.close()
  }
})

test('the provider reconnects and resyncs what was written while it was away', async () => {
  const srv = await startServer()
  const d1 = new Y.Doc(), d2 = new Y.Doc()
  let sockets: { close(): void }[] = []
  const tracking: Connector = (k, p, h) => {
    const c = srv.connector(k, p, h)
    sockets.push(c)
    return c
  }
  const p1 = new SyncProvider('room-b', d1, { connector: tracking })
  const p2 = new SyncProvider('room-b', d2, { connector: srv.connector })
  try {
    await until(() => p1.synced && p2.synced, 'synced')
    for (const s of sockets) s.close()
    sockets = []
    await until(() => p1.state === 'reconnecting', 'reconnecting state')
    addKrate(d1, { kind: 'shell', ref: {}, wx: 1, wy: 1 }) // written offline
    await until(() => p1.state === 'open' && listKrates(d2).length === 1, 'offline edit delivered after reconnect', 8000)
  } finally {
    p1.destroy()
    p2.destroy()
    await srv.close()
  }
})
