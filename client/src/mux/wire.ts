// Wire format of the Yard multiplexer (docs/protocol.md): every WebSocket message is one binary
// frame = varuint channel id (LEB128, at most 5 bytes, minimal) + one type byte + payload.
// On channel 0 the type byte is a control operation; on other channels it is the message type.

import { errorCodes } from './codes.gen.ts'

export const SUBPROTOCOL = 'yard.v1'
export const CONTROL_CHANNEL = 0
export const MAX_CHANNEL_ID = 0xffffffff
export const DEFAULT_WINDOW = 256 * 1024

export const MessageType = { Binary: 1, Text: 2 } as const

export const Op = {
  Open: 1,
  Opened: 2,
  Close: 3,
  Error: 4,
  Ping: 5,
  Pong: 6,
  Credit: 7,
} as const

export interface Frame {
  channel: number
  type: number
  payload: Uint8Array
}

/** Encodes one frame. */
export function encodeFrame(channel: number, type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_CHANNEL_ID) throw new RangeError(`channel id ${channel}`)
  const header: number[] = []
  let v = channel
  while (v >= 0x80) {
    header.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  header.push(v, type)
  const out = new Uint8Array(header.length + payload.length)
  out.set(header, 0)
  out.set(payload, header.length)
  return out
}

/** Decodes one frame; throws MuxError('bad_frame') on malformed input. The payload aliases b. */
export function decodeFrame(b: Uint8Array): Frame {
  let channel = 0
  let i = 0
  for (let mul = 1; ; mul *= 128) {
    if (i >= b.length) throw new MuxError('bad_frame', 'truncated channel id')
    if (i === 5) throw new MuxError('bad_frame', 'channel id longer than 5 bytes')
    const c = b[i++]
    channel += (c & 0x7f) * mul
    if (c < 0x80) {
      if (c === 0 && i > 1) throw new MuxError('bad_frame', 'non-minimal channel id')
      break
    }
  }
  if (channel > MAX_CHANNEL_ID) throw new MuxError('bad_frame', 'channel id over 32 bits')
  if (i >= b.length) throw new MuxError('bad_frame', 'missing type byte')
  const type = b[i]
  if (channel === CONTROL_CHANNEL ? type < Op.Open || type > Op.Credit : type !== MessageType.Binary && type !== MessageType.Text) {
    throw new MuxError('bad_frame', `type ${type} on channel ${channel}`)
  }
  return { channel, type, payload: b.subarray(i + 1) }
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export function controlFrame(op: number, msg: unknown): Uint8Array {
  const payload = msg instanceof Uint8Array ? msg : enc.encode(JSON.stringify(msg))
  return encodeFrame(CONTROL_CHANNEL, op, payload)
}

export function decodeControl<T>(payload: Uint8Array): T {
  try {
    return JSON.parse(dec.decode(payload)) as T
  } catch (e) {
    throw new MuxError('bad_frame', `control message: ${String(e)}`)
  }
}

/** What a data payload of n bytes costs against the receiver's credit (empty costs 1). */
export function cost(n: number): number {
  return n === 0 ? 1 : n
}

export function utf8(s: string): Uint8Array {
  return enc.encode(s)
}

export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b)
}

/** Close codes: a connection closed for a coded reason uses these (reason "<code>: <message>"). */
export const closeCodes: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(errorCodes).map(([code, info]) => [code, info.close]),
)

export function codeForClose(closeCode: number): string | undefined {
  return Object.keys(closeCodes).find((k) => closeCodes[k] === closeCode)
}

/**
 * Whether a client must not retry or reconnect by itself after this code or WebSocket close code
 * (the server's table decides; 1008 is a refused Origin). The one place reconnects are decided.
 */
export function isFinal(code?: string, wsCode?: number): boolean {
  const c = code || (wsCode !== undefined ? codeForClose(wsCode) : undefined)
  if (c && errorCodes[c]) return !errorCodes[c].retry
  return wsCode === 1008
}

/** A coded error from the server: a refused open, a channel closed with a code, a closed socket. */
export class MuxError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(`${code}: ${message}`)
    this.name = 'MuxError'
    this.code = code
  }
}
