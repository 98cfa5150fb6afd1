// The reference peer for the rooms benchmarks: the y-websocket 2.1.0 server utilities
// (bin/utils.cjs, what `npx y-websocket` runs) on a plain ws server, no persistence.
const http = require('node:http')
const { WebSocketServer } = require('ws')
const { setupWSConnection } = require('y-websocket-v2/bin/utils')

const port = Number(process.argv[2] || 0)
const server = http.createServer((_, res) => { res.writeHead(200); res.end('ok') })
const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)
server.on('upgrade', (req, socket, head) => {
  // Same URL shape as Yard's /ws/sync/{room}: the room is the last path segment.
  req.url = '/' + req.url.split('?')[0].split('/').pop()
  wss.handleUpgrade(req, socket, head, ws => wss.emit('connection', ws, req))
})
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port })))
