// A y-protocols provider over a Yard `sync` channel (multiplexer) or the plain /ws/sync/{room}
// endpoint: the same messages either way, one y-protocols message per channel message.
//
// It does what y-websocket's provider does, on top of Stream's reconnection: SyncStep1 on every
// (re)connect, answer the server's SyncStep1, relay local document updates and awareness, answer
// queryAwareness, and drop remote awareness when the connection is lost (they are stale).
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as authProtocol from 'y-protocols/auth'
import { Stream, type Connector, type StreamState } from './transport.ts'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3

export interface SyncProviderOptions {
  connector?: Connector
}

export class SyncProvider {
  readonly awareness: awarenessProtocol.Awareness
  synced = false
  /** Set when the server refused our writes (read-only room). */
  permissionDenied: string | null = null
  private stream: Stream
  private syncedListeners = new Set<(s: boolean) => void>()

  constructor(
    readonly room: string,
    readonly doc: Y.Doc,
    opts: SyncProviderOptions = {},
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc)
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    this.stream = new Stream({
      kind: 'sync',
      connector: opts.connector,
      params: () => ({ room }),
      onOpen: () => this.onOpen(),
      onMessage: (d) => {
        if (typeof d !== 'string') this.handle(d)
      },
      onClose: () => this.onLost(),
    })
  }

  get state(): StreamState {
    return this.stream.state
  }

  onState(l: (s: StreamState) => void): () => void {
    return this.stream.onState(l)
  }

  onSynced(l: (s: boolean) => void): () => void {
    this.syncedListeners.add(l)
    return () => this.syncedListeners.delete(l)
  }

  private setSynced(s: boolean) {
    if (this.synced === s) return
    this.synced = s
    for (const l of this.syncedListeners) l(s)
  }

  private onOpen() {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(e, this.doc)
    this.stream.send(encoding.toUint8Array(e))
    if (this.awareness.getLocalState() !== null) {
      this.sendAwareness([this.doc.clientID])
    }
  }

  private onLost() {
    this.setSynced(false)
    // Remote states would otherwise linger until their 30 s timeout with frozen cursors.
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID)
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this)
  }

  /** Handles one message from the server; exported through the class for tests. */
  handle(buf: Uint8Array): void {
    const d = decoding.createDecoder(buf)
    const e = encoding.createEncoder()
    const type = decoding.readVarUint(d)
    switch (type) {
      case MESSAGE_SYNC: {
        encoding.writeVarUint(e, MESSAGE_SYNC)
        const sub = syncProtocol.readSyncMessage(d, e, this.doc, this)
        if (sub === syncProtocol.messageYjsSyncStep2 && !this.synced) this.setSynced(true)
        if (encoding.length(e) > 1) this.stream.send(encoding.toUint8Array(e))
        break
      }
      case MESSAGE_AWARENESS:
        awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(d), this)
        break
      case MESSAGE_QUERY_AWARENESS:
        this.sendAwareness([...this.awareness.getStates().keys()])
        break
      case MESSAGE_AUTH:
        authProtocol.readAuthMessage(d, this.doc, (_y, reason) => {
          this.permissionDenied = reason || 'permission denied'
        })
        break
      default:
        // Unknown message types come from newer servers; ignoring them keeps us compatible.
        break
    }
  }

  private sendAwareness(clients: number[]) {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients))
    this.stream.send(encoding.toUint8Array(e))
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this) return
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, MESSAGE_SYNC)
    syncProtocol.writeUpdate(e, update)
    this.stream.send(encoding.toUint8Array(e))
  }

  private onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (origin === this) return
    const changed = added.concat(updated, removed)
    if (changed.length > 0) this.sendAwareness(changed)
  }

  destroy(): void {
    // Tell the others we left before the channel goes (y-websocket does the same on unload).
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local')
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.stream.stop()
  }
}
