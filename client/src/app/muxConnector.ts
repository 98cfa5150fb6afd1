// Every channel of the page over one multiplexed WebSocket (/ws, subprotocol yard.v1): the
// browser holds a single socket whatever the number of krates. The connection is opened on
// first use with a fresh single-use ticket and reopened by the next channel after it drops
// (each Stream reconnects on its own schedule, so they share the new connection).
import { connect, MuxError, type MuxConnection } from '../mux/index.ts'
import { api } from './api.ts'
import type { Connector } from './transport.ts'

let current: Promise<MuxConnection> | null = null

function connection(): Promise<MuxConnection> {
  if (!current) {
    const p = (async () => {
      const { ticket } = await api.ticket()
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
      const c = await connect(`${proto}//${location.host}/ws?ticket=${encodeURIComponent(ticket)}`)
      void c.closed.then(() => {
        if (current === p) current = null
      })
      return c
    })()
    p.catch(() => {
      if (current === p) current = null
    })
    current = p
  }
  return current
}

export const muxConnector: Connector = (kind, params, h) => {
  let closed = false
  let ch: Awaited<ReturnType<MuxConnection['open']>> | null = null
  let sendChain: Promise<void> = Promise.resolve()
  void (async () => {
    try {
      const conn = await connection()
      if (closed) return
      ch = await conn.open(kind, params)
      if (closed) {
        ch.close()
        return
      }
      h.onOpen()
      for await (const m of ch) h.onMessage(m.data)
      h.onClose({})
    } catch (e) {
      if (closed) return
      const err = e as Error
      h.onClose(err instanceof MuxError ? { code: err.code, message: err.message } : { message: err.message })
    }
  })()
  return {
    send(data) {
      const c = ch
      if (!c || closed) return
      // Keep order while the channel waits for credit.
      sendChain = sendChain.then(() => c.send(data)).catch(() => {})
    },
    close() {
      closed = true
      ch?.close()
    },
  }
}
