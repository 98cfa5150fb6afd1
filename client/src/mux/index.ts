// TypeScript client of the Yard multiplexer (docs/protocol.md), for browsers and Node. It uses
// the global WebSocket when there is one and the `ws` package otherwise. It honours the byte
// credit the server grants (send() waits for it), grants credit as the application takes
// messages (a channel nobody reads stops its sender, and only it), and answers server pings.

import {
  DEFAULT_WINDOW,
  MessageType,
  MuxError,
  Op,
  SUBPROTOCOL,
  codeForClose,
  controlFrame,
  cost,
  decodeControl,
  decodeFrame,
  encodeFrame,
  fromUtf8,
  utf8,
} from './wire.ts'

export { MuxError, SUBPROTOCOL, closeCodes, decodeFrame, encodeFrame, isFinal } from './wire.ts'

/** A channel message: text (UTF-8, usually JSON) or bytes. */
export type Message = { type: 'text'; data: string } | { type: 'binary'; data: Uint8Array }

export type Params = Record<string, string | string[]>

/** The minimal WebSocket surface used here: the browser's, Node 22's and the `ws` package's. */
interface Socket {
  binaryType: string
  readyState: number
  protocol: string
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}
type SocketCtor = new (url: string, protocols?: string | string[]) => Socket

export interface ConnectOptions {
  /** Receive window granted per channel, in bytes. Default 256 KiB. */
  window?: number
  /** Extra subprotocols (e.g. "yard.bearer.<jwt>" for clients that can set no header). */
  protocols?: string[]
  /** A WebSocket constructor to use instead of the global one or `ws`. */
  WebSocket?: SocketCtor
}

/** How the connection ended. */
export interface CloseInfo {
  code: number
  reason: string
  /** The coded error when the server closed for a coded reason (shutting_down for 1001). */
  error?: MuxError
}

async function socketCtor(given?: SocketCtor): Promise<SocketCtor> {
  if (given) return given
  const g = (globalThis as { WebSocket?: SocketCtor }).WebSocket
  if (g) return g
  const name = 'ws' // a variable, so browser bundlers do not try to include the Node package
  const mod = (await import(/* @vite-ignore */ name)) as { WebSocket?: SocketCtor; default?: SocketCtor }
  const ctor = mod.WebSocket ?? mod.default
  if (!ctor) throw new Error('no WebSocket implementation: install the "ws" package')
  return ctor
}

/** Connects to a /ws URL (ws:, wss:, http: or https:), typically with "?ticket=". */
export async function connect(url: string, opts: ConnectOptions = {}): Promise<MuxConnection> {
  const Ctor = await socketCtor(opts.WebSocket)
  const u = url.replace(/^http(s?):/, 'ws$1:')
  const ws = new Ctor(u, [SUBPROTOCOL, ...(opts.protocols ?? [])])
  ws.binaryType = 'arraybuffer'
  // Node's `ws` can deliver a message in the same tick as `open`, before the connection object
  // below exists: keep such early messages and replay them.
  const early: unknown[] = []
  ws.onmessage = (ev) => early.push(ev.data)
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error(`WebSocket to ${u.replace(/ticket=[^&]*/, 'ticket=…')} failed`))
    ws.onclose = (ev) => reject(new Error(`WebSocket closed during the handshake: ${ev.code} ${ev.reason}`))
  })
  if (ws.protocol !== SUBPROTOCOL) {
    ws.close(1002, 'subprotocol')
    throw new Error(`server selected subprotocol "${ws.protocol}", want ${SUBPROTOCOL}`)
  }
  return new MuxConnection(ws, opts.window ?? DEFAULT_WINDOW, early)
}

/** One multiplexed connection. */
export class MuxConnection {
  private readonly ws: Socket
  private readonly window: number
  private readonly channels = new Map<number, MuxChannel>()
  private readonly pings = new Map<string, () => void>()
  private nextId = 0
  private pingSeq = 0
  private info: CloseInfo | undefined
  private resolveClosed!: (c: CloseInfo) => void
  /** Resolves when the connection has ended. */
  readonly closed: Promise<CloseInfo>
  /** Error notices (control "error" messages) received. */
  readonly notices: { channel?: number; code: string; message: string }[] = []

  constructor(ws: Socket, window: number, early: unknown[] = []) {
    this.ws = ws
    this.window = window
    this.closed = new Promise((r) => (this.resolveClosed = r))
    for (const data of early) this.onMessage(data)
    ws.onmessage = (ev) => this.onMessage(ev.data)
    ws.onerror = () => {}
    ws.onclose = (ev) => this.onClose(ev.code, ev.reason)
  }

  /**
   * Opens a channel; rejects with a MuxError when the server refuses. `window` overrides the
   * connection's receive window for this channel: a bulk channel (logs) with a small window
   * leaves less of its data queued in the socket ahead of interactive channels.
   */
  open(kind: string, params: Params = {}, opts: { window?: number } = {}): Promise<MuxChannel> {
    if (this.info) return Promise.reject(this.info.error ?? new Error('connection closed'))
    do {
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    } while (this.channels.has(this.nextId))
    const window = opts.window ?? this.window
    const ch = new MuxChannel(this, this.nextId, kind, window)
    this.channels.set(ch.id, ch)
    this.write(controlFrame(Op.Open, { channel: ch.id, kind, params, credit: window }))
    return ch.opened
  }

  /** Sends a control ping and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    if (this.info) return Promise.reject(new Error('connection closed'))
    const key = String(++this.pingSeq)
    const start = performance.now()
    return new Promise((resolve, reject) => {
      this.pings.set(key, () => resolve(performance.now() - start))
      this.closed.then(() => reject(new Error('connection closed')))
      this.write(controlFrame(Op.Ping, utf8(key)))
    })
  }

  /** Closes the connection normally. */
  close(): void {
    this.ws.close(1000, '')
  }

  /** @internal */
  write(b: Uint8Array): void {
    if (this.ws.readyState === 1) this.ws.send(b)
  }

  /** @internal */
  forget(ch: MuxChannel): void {
    if (this.channels.get(ch.id) === ch) this.channels.delete(ch.id)
  }

  private onMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this.ws.close(4000, 'bad_frame: text message from the server')
      return
    }
    let f
    try {
      f = decodeFrame(new Uint8Array(data))
    } catch (e) {
      this.ws.close(4000, String(e).slice(0, 120))
      return
    }
    if (f.channel !== 0) {
      this.channels.get(f.channel)?.deliver(f.type === MessageType.Text ? { type: 'text', data: fromUtf8(f.payload) } : { type: 'binary', data: f.payload.slice() }, f.payload.length)
      return
    }
    switch (f.type) {
      case Op.Ping:
        this.write(controlFrame(Op.Pong, f.payload.slice()))
        break
      case Op.Pong: {
        const k = fromUtf8(f.payload)
        this.pings.get(k)?.()
        this.pings.delete(k)
        break
      }
      case Op.Opened: {
        const m = decodeControl<{ channel: number; credit: number }>(f.payload)
        this.channels.get(m.channel)?.onOpened(m.credit)
        break
      }
      case Op.Credit: {
        const m = decodeControl<{ channel: number; bytes: number }>(f.payload)
        this.channels.get(m.channel)?.onCredit(m.bytes)
        break
      }
      case Op.Close: {
        const m = decodeControl<{ channel: number; code?: string; message?: string }>(f.payload)
        this.channels.get(m.channel)?.onServerClose(m.code, m.message)
        break
      }
      case Op.Error:
        this.notices.push(decodeControl(f.payload))
        break
    }
  }

  private onClose(code: number, reason: string): void {
    const c = codeForClose(code)
    const error = c && code !== 1000 ? new MuxError(c, reason.startsWith(c + ': ') ? reason.slice(c.length + 2) : reason) : undefined
    this.info = { code, reason, error }
    for (const ch of this.channels.values()) ch.onConnClosed(error ?? new Error(`connection closed (${code})`))
    this.channels.clear()
    this.resolveClosed(this.info)
  }
}

/** The end of a channel: a normal close by the server. */
export class EndOfChannel extends Error {
  constructor() {
    super('channel closed by the server')
    this.name = 'EndOfChannel'
  }
}

/** One channel. Read with recv() or the async iterator; each message taken grants credit back. */
export class MuxChannel {
  readonly id: number
  readonly kind: string
  readonly opened: Promise<MuxChannel>
  /** Resolves when the channel has ended: null on a normal close, the error otherwise. */
  readonly closed: Promise<Error | null>
  private readonly conn: MuxConnection
  private readonly window: number
  private resolveOpened!: (c: MuxChannel) => void
  private rejectOpened!: (e: Error) => void
  private resolveClosed!: (e: Error | null) => void
  private isOpen = false
  private sentClose = false
  private gotClose = false
  private endError: Error | undefined
  private credit = 0
  private consumed = 0
  private readonly queue: { m: Message; n: number }[] = []
  private readonly readers: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = []
  private readonly creditWaiters: (() => void)[] = []

  constructor(conn: MuxConnection, id: number, kind: string, window: number) {
    this.conn = conn
    this.id = id
    this.kind = kind
    this.window = window
    this.opened = new Promise((res, rej) => {
      this.resolveOpened = res
      this.rejectOpened = rej
    })
    this.opened.catch(() => {})
    this.closed = new Promise((r) => (this.resolveClosed = r))
  }

  /** Messages received and not yet taken by recv(). */
  get buffered(): number {
    return this.queue.length
  }

  /** Resolves with the next message; rejects with EndOfChannel or a MuxError at the end. */
  recv(): Promise<Message> {
    const item = this.queue.shift()
    if (item) {
      this.take(item.n)
      return Promise.resolve(item.m)
    }
    if (this.endError) return Promise.reject(this.endError)
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }))
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Message> {
    for (;;) {
      try {
        yield await this.recv()
      } catch (e) {
        if (e instanceof EndOfChannel) return
        throw e
      }
    }
  }

  /** Sends a message (a string is text, bytes are binary), waiting while there is no credit. */
  async send(data: string | Uint8Array): Promise<void> {
    const text = typeof data === 'string'
    const payload = text ? utf8(data) : data
    while (this.credit <= 0) {
      if (this.sentClose || this.gotClose) throw this.endError ?? new Error('channel closed')
      await new Promise<void>((r) => this.creditWaiters.push(r))
    }
    if (this.sentClose || this.gotClose) throw this.endError ?? new Error('channel closed')
    this.credit -= cost(payload.length)
    this.conn.write(encodeFrame(this.id, text ? MessageType.Text : MessageType.Binary, payload))
  }

  /** Closes the channel; `closed` resolves when the server has answered. */
  close(): void {
    if (this.sentClose) return
    this.sentClose = true
    this.queue.length = 0
    this.conn.write(controlFrame(Op.Close, { channel: this.id }))
    this.end(new Error('channel closed'))
  }

  /** @internal */
  deliver(m: Message, n: number): void {
    if (this.gotClose || this.sentClose) return
    const r = this.readers.shift()
    if (r) {
      this.take(n)
      r.resolve(m)
    } else {
      this.queue.push({ m, n })
    }
  }

  private take(n: number): void {
    this.consumed += cost(n)
    if (this.consumed >= this.window / 2 && !this.gotClose && !this.sentClose) {
      this.conn.write(controlFrame(Op.Credit, { channel: this.id, bytes: this.consumed }))
      this.consumed = 0
    }
  }

  /** @internal */
  onOpened(credit: number): void {
    if (this.isOpen || this.sentClose) return
    this.isOpen = true
    this.credit = credit
    this.resolveOpened(this)
  }

  /** @internal */
  onCredit(bytes: number): void {
    this.credit += bytes
    this.wakeSenders()
  }

  /** @internal */
  onServerClose(code?: string, message?: string): void {
    if (this.gotClose) return
    this.gotClose = true
    const err = code ? new MuxError(code, message ?? '') : new EndOfChannel()
    if (!this.isOpen && !this.sentClose) this.rejectOpened(err)
    else if (!this.sentClose) this.conn.write(controlFrame(Op.Close, { channel: this.id }))
    this.sentClose = true
    this.conn.forget(this)
    this.end(err)
    this.resolveClosed(code ? err : null)
  }

  /** @internal */
  onConnClosed(err: Error): void {
    if (!this.isOpen) this.rejectOpened(err)
    this.gotClose = true
    this.end(err)
    this.resolveClosed(err)
  }

  private end(err: Error): void {
    if (!this.endError) this.endError = err
    if (this.queue.length === 0) {
      for (const r of this.readers.splice(0)) r.reject(this.endError)
    }
    this.wakeSenders()
  }

  private wakeSenders(): void {
    for (const w of this.creditWaiters.splice(0)) w()
  }
}
