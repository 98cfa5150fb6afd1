// Client-side protocol duties of the TypeScript mux client that the real server exercises too
// rarely to test against it (it pings every 25 s): checked against a scripted peer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocketServer, type WebSocket as WS } from 'ws'
import { connect, SUBPROTOCOL } from '../src/mux/index.ts'

async function scriptedPeer(onConn: (ws: WS) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (ps) => (ps.has(SUBPROTOCOL) ? SUBPROTOCOL : false) })
  wss.on('connection', onConn)
  await new Promise<void>((r) => wss.on('listening', () => r()))
  const addr = wss.address() as { port: number }
  return {
    url: `ws://127.0.0.1:${addr.port}/ws`,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => r())
      }),
  }
}

test('answers the server ping with a pong carrying the same payload, even one sent at once', async () => {
  let resolvePong!: (b: Buffer) => void
  const pong = new Promise<Buffer>((r) => (resolvePong = r))
  const peer = await scriptedPeer((ws) => {
    ws.on('message', (b: Buffer) => resolvePong(b))
    ws.send(Buffer.from([0x00, 0x05, 0x68, 0x69])) // ping "hi" on channel 0, right after the upgrade
  })
  const c = await connect(peer.url)
  assert.deepEqual([...(await pong)], [0x00, 0x06, 0x68, 0x69])
  c.close()
  await peer.close()
})

test('a server that speaks garbage gets a bad_frame close', async () => {
  let resolveCode!: (code: number) => void
  const code = new Promise<number>((r) => (resolveCode = r))
  const peer = await scriptedPeer((ws) => {
    ws.on('close', (c: number) => resolveCode(c))
    ws.send(Buffer.from([0x80])) // a truncated channel id
  })
  const c = await connect(peer.url)
  assert.equal(await code, 4000)
  assert.equal((await c.closed).code, 4000)
  await peer.close()
})
