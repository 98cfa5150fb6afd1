// The floor of the rooms latency benchmark: a relay that does the least a y-websocket server
// must (answers SyncStep1 with an empty SyncStep2 so clients count as synced, forwards each
// update message as it came to every other client of the room) and nothing else: no document,
// no awareness, no storage. No server that keeps a document can deliver faster or cheaper to
// the same clients on the same machine.
import http from 'node:http'
import { WebSocketServer } from 'ws'

const emptyStep2 = Uint8Array.from([0, 1, 2, 0, 0]) // sync, step 2, an update of 2 bytes: 00 00
const rooms = new Map()
const server = http.createServer((_, res) => { res.writeHead(200); res.end('ok') })
const wss = new WebSocketServer({ server })
wss.on('connection', (ws, req) => {
  const name = req.url.split('?')[0].split('/').pop()
  const peers = rooms.get(name) ?? new Set()
  rooms.set(name, peers)
  peers.add(ws)
  ws.on('close', () => peers.delete(ws))
  ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length < 2 || data[0] !== 0) return // awareness and the rest: dropped
    if (data[1] === 0) ws.send(emptyStep2)
    else if (data[1] === 2) for (const p of peers) if (p !== ws) p.send(data, { binary: true })
  })
})
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port })))
