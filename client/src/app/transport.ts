// Channels to the server. Every krate stream (sync, watch, logs, shell) is a Channel: messages
// in and out (text = JSON control, binary = bytes), open and close notifications. A Stream wraps
// a channel with reconnection and a connection state the UI shows per krate.
//
// Connectors open the actual channel. The default one uses the single-purpose endpoints
// (/ws/sync/{room}, /ws/watch, /ws/logs, /ws/shell), which carry the same messages as the
// multiplexer's channels one WebSocket message each; setConnector swaps in the multiplexer.
import { api } from './api.ts'
import { isFinal } from '../mux/index.ts'

export type ChannelKind = 'sync' | 'watch' | 'logs' | 'shell'
export type Params = Record<string, string>
export type Data = string | Uint8Array

export interface CloseInfo {
  /** A coded error from the server ({"type":"error","code",...} or a close reason), if any. */
  code?: string
  message?: string
  /** WebSocket close code when known. */
  wsCode?: number
}

export interface ChannelHandlers {
  onOpen(): void
  onMessage(data: Data): void
  onClose(info: CloseInfo): void
}

export interface Channel {
  send(data: Data): void
  close(): void
}

export type Connector = (kind: ChannelKind, params: Params, h: ChannelHandlers) => Channel

function wsURL(path: string, q: URLSearchParams): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${location.host}${path}?${q}`
}

/** One WebSocket per channel on the single-purpose endpoints, authenticated by a ticket. */
export const singleEndpointConnector: Connector = (kind, params, h) => {
  let ws: WebSocket | null = null
  let closed = false
  let closeReported = false
  const reportClose = (info: CloseInfo) => {
    if (closeReported) return
    closeReported = true
    h.onClose(info)
  }
  void (async () => {
    let ticket: string
    try {
      ticket = (await api.ticket()).ticket
    } catch (e) {
      reportClose({ code: 'ticket', message: (e as Error).message })
      return
    }
    if (closed) return
    const q = new URLSearchParams(params)
    q.set('ticket', ticket)
    let path = `/ws/${kind}`
    if (kind === 'sync') {
      path = `/ws/sync/${encodeURIComponent(params.room ?? '')}`
      q.delete('room')
    }
    ws = new WebSocket(wsURL(path, q))
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => h.onOpen()
    ws.onmessage = (ev) => h.onMessage(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer))
    ws.onclose = (ev) => reportClose({ wsCode: ev.code, message: ev.reason || undefined, code: ev.reason ? ev.reason.split(':')[0] : undefined })
    ws.onerror = () => {
      /* onclose follows with the details */
    }
  })()
  return {
    send(data) {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(data)
    },
    close() {
      closed = true
      ws?.close(1000)
    },
  }
}

let connector: Connector = singleEndpointConnector

export function setConnector(c: Connector): void {
  connector = c
}

export function getConnector(): Connector {
  return connector
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'error'

export interface StreamOptions {
  kind: ChannelKind
  /** Called before every (re)connect, so a stream can resume (resourceVersion, sinceTime). */
  params: () => Params
  onOpen?: (s: Stream) => void
  onMessage: (data: Data, s: Stream) => void
  onClose?: (info: CloseInfo, s: Stream) => void
  /** Whether to reconnect after a close the server did not make final (isFinal); default: yes. */
  retry?: (info: CloseInfo) => boolean
  connector?: Connector
}


/** Exponential backoff with jitter: 0.5 s doubling to 10 s. */
export function backoff(attempt: number, rand = Math.random): number {
  const base = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))
  return Math.round(base / 2 + (rand() * base) / 2)
}

/** A channel that reconnects with backoff and reports its state. */
export class Stream {
  state: StreamState = 'connecting'
  lastError: CloseInfo | null = null
  private ch: Channel | null = null
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private stopped = false
  private listeners = new Set<(s: StreamState) => void>()

  constructor(private readonly o: StreamOptions) {
    this.connect()
  }

  private setState(s: StreamState) {
    if (this.state === s) return
    this.state = s
    for (const l of this.listeners) l(s)
  }

  onState(l: (s: StreamState) => void): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  private connect() {
    if (this.stopped) return
    const c = this.o.connector ?? connector
    let mine: Channel | null = null
    let closedAlready = false
    mine = c(this.o.kind, this.o.params(), {
      onOpen: () => {
        if (this.stopped || this.ch !== mine) return
        this.attempt = 0
        this.lastError = null
        this.setState('open')
        this.o.onOpen?.(this)
      },
      onMessage: (d) => {
        if (this.stopped || this.ch !== mine) return
        this.o.onMessage(d, this)
      },
      onClose: (info) => {
        closedAlready = true
        if (this.stopped || (this.ch !== mine && mine !== null)) return
        this.ch = null
        if (info.code || info.message) this.lastError = info
        this.o.onClose?.(info, this)
        if (this.stopped) return
        const retry = !isFinal(info.code, info.wsCode) && (this.o.retry ? this.o.retry(info) : true)
        if (!retry) {
          this.stop(info.code && info.code !== 'normal' ? 'error' : 'closed')
          return
        }
        this.setState('reconnecting')
        this.timer = setTimeout(() => this.connect(), backoff(this.attempt++))
      },
    })
    if (closedAlready) return
    this.ch = mine
  }

  send(d: Data): void {
    this.ch?.send(d)
  }

  sendJSON(v: unknown): void {
    this.send(JSON.stringify(v))
  }

  /** Ends the stream for good (no reconnect). */
  stop(final: StreamState = 'closed'): void {
    if (this.stopped) return
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    const ch = this.ch
    this.ch = null
    ch?.close()
    this.setState(final)
  }
}
