// The TypeScript mux client against the real server (bin/yard serve --dev-auth).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, MuxError, decodeFrame, encodeFrame, type MuxConnection } from '../src/mux/index.ts'
import { startYard, devLogin, wsTicket, type YardServer } from './helpers/yardServer.ts'

let yard: YardServer
let token: string

before(async () => {
  yard = await startYard()
  token = await devLogin(yard.url, 'alice')
})

after(async () => {
  await yard?.stop()
})

async function dial(): Promise<MuxConnection> {
  const ticket = await wsTicket(yard.url, token)
  return connect(`${yard.url}/ws?ticket=${encodeURIComponent(ticket)}`)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])
}

test('frame codec round trip and refusals', () => {
  for (const id of [0, 1, 127, 128, 300, 16384, 2 ** 28, 0xffffffff]) {
    const type = id === 0 ? 5 : 1
    const f = decodeFrame(encodeFrame(id, type, new Uint8Array([7, 8])))
    assert.equal(f.channel, id)
    assert.equal(f.type, type)
    assert.deepEqual([...f.payload], [7, 8])
  }
  // Same bytes as server/mux/testdata/wire.golden ("binary on channel 300").
  assert.deepEqual([...encodeFrame(300, 1, new Uint8Array([0, 1, 2]))], [0xac, 0x02, 0x01, 0x00, 0x01, 0x02])
  for (const bad of [[], [0x80], [0x01], [0x81, 0x00, 0x01], [0x01, 0x03], [0x00, 0x09]]) {
    assert.throws(() => decodeFrame(new Uint8Array(bad)), (e: unknown) => e instanceof MuxError && e.code === 'bad_frame')
  }
})

test('ping channel echoes text and binary; control ping answers', async () => {
  const c = await dial()
  const ch = await c.open('ping')
  await ch.send('{"hello":1}')
  assert.deepEqual(await ch.recv(), { type: 'text', data: '{"hello":1}' })
  await ch.send(new Uint8Array([0, 255, 1]))
  const m = await ch.recv()
  assert.equal(m.type, 'binary')
  assert.deepEqual([...(m.data as Uint8Array)], [0, 255, 1])
  const rtt = await c.ping()
  assert.ok(rtt >= 0 && rtt < 5000, `rtt ${rtt}`)
  c.close()
  const info = await c.closed
  assert.equal(info.code, 1000)
})

test('a ticket is single use', async () => {
  const ticket = await wsTicket(yard.url, token)
  const c = await connect(`${yard.url}/ws?ticket=${ticket}`)
  await assert.rejects(connect(`${yard.url}/ws?ticket=${ticket}`))
  c.close()
})

test('a bearer token offered as a subprotocol authenticates and is never selected', async () => {
  const c = await connect(`${yard.url}/ws`, { protocols: [`yard.bearer.${token}`] })
  const ch = await c.open('ping')
  await ch.send('via subprotocol')
  assert.equal((await ch.recv()).data, 'via subprotocol')
  c.close()
  // Without any credential the upgrade is refused.
  await assert.rejects(connect(`${yard.url}/ws`))
})

test('refused opens carry their code', async () => {
  const c = await dial()
  await assert.rejects(c.open('no-such-kind'), (e: unknown) => e instanceof MuxError && e.code === 'unknown_kind')
  // The connection is still usable.
  const ch = await c.open('ping')
  await ch.send('still fine')
  assert.equal((await ch.recv()).data, 'still fine')
  c.close()
})

test('many channels open and close', async () => {
  const c = await dial()
  for (let round = 0; round < 5; round++) {
    const chans = await Promise.all(Array.from({ length: 40 }, () => c.open('ping')))
    await Promise.all(
      chans.map(async (ch, i) => {
        await ch.send(`r${round}-${i}`)
        assert.equal((await ch.recv()).data, `r${round}-${i}`)
        ch.close()
        assert.equal(await ch.closed, null)
      }),
    )
  }
  c.close()
})

test('credit: sends wait while nobody reads, and resume when the echoes are read', async () => {
  const c = await dial()
  const ch = await c.open('ping')
  const chunk = new Uint8Array(64 * 1024)
  // The server echoes into our 256 KiB window, then stops reading; its own 256 KiB window for us
  // fills after that. Well before 1 MiB our sends must start waiting.
  const sends: Promise<void>[] = []
  for (let i = 0; i < 16; i++) sends.push(ch.send(chunk))
  const all = Promise.all(sends)
  assert.equal(await withTimeout(all, 500), 'timeout', 'sends past the credit did not wait')
  // Meanwhile the socket is alive and other channels are not blocked.
  const other = await c.open('ping')
  await other.send('x')
  assert.equal((await other.recv()).data, 'x')
  assert.ok((await c.ping()) < 2000)
  // Reading the echoes grants credit back and every send completes.
  for (let i = 0; i < 16; i++) {
    const m = await ch.recv()
    assert.equal((m.data as Uint8Array).length, chunk.length)
  }
  await all
  c.close()
})

test('a per-channel window bounds what the server sends before credit comes back', async () => {
  const c = await dial()
  const ch = await c.open('ping', {}, { window: 1024 })
  // Each echo costs 600 bytes of a 1 KiB window: the second goes out while credit is positive
  // (424 left), the third waits until we read (reading 2 x 600 >= 512 grants credit back).
  await ch.send(new Uint8Array(600))
  await ch.send(new Uint8Array(600))
  await ch.send(new Uint8Array(600))
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(ch.buffered, 2, 'the server sent past the window')
  const a = await ch.recv()
  const b = await ch.recv()
  const third = await withTimeout(ch.recv(), 2000)
  assert.notEqual(third, 'timeout', 'the third echo never came after credit was granted')
  assert.equal((a.data as Uint8Array).length + (b.data as Uint8Array).length, 1200)
  c.close()
})

test('closing a channel ends its iterator after the messages already received', async () => {
  const c = await dial()
  const ch = await c.open('ping')
  await ch.send('a')
  const got: string[] = []
  const reading = (async () => {
    for await (const m of ch) got.push(m.data as string)
  })()
  await new Promise((r) => setTimeout(r, 50))
  ch.close()
  await reading.catch(() => {})
  assert.deepEqual(got, ['a'])
  c.close()
})

test('shutdown closes the socket with 1001 (shutting_down)', async () => {
  const c = await dial()
  await c.open('ping')
  const code = await yard.stop()
  assert.equal(code, 0, yard.log())
  const info = await c.closed
  assert.equal(info.code, 1001)
  assert.equal(info.error?.code, 'shutting_down')
})
