// The second peer for the rooms benchmarks: @hocuspocus/server with no extensions (no
// persistence, no Redis), as its clients (@hocuspocus/provider) expect it.
import { Server } from '@hocuspocus/server'

const server = new Server({ address: '127.0.0.1', port: Number(process.argv[2] || 0), quiet: true, stopOnSignals: true })
await server.listen()
console.log(JSON.stringify({ url: 'http://127.0.0.1:' + server.address.port }))
