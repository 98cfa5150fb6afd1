// The client side of the watch channel: a store of objects kept current by
// ADDED/MODIFIED/DELETED events, SYNCED after each kind's snapshot, RESET when a resume point
// expired (a fresh snapshot follows). Pure so it can be tested without a server.
import { kindInfo, metaOf } from './resources.ts'

export interface WatchEvent {
  type: string
  kind?: string
  object?: unknown
  resourceVersion?: string
  code?: string
  message?: string
}

export class WatchStore {
  readonly objects = new Map<string, { kind: string; object: Record<string, unknown> }>()
  /** Kinds whose initial snapshot is complete. */
  readonly synced = new Set<string>()
  /** Where to resume after a reconnect. */
  resourceVersion = ''
  error: { code: string; message: string } | null = null
  version = 0

  static key(kind: string, obj: unknown): string {
    const m = metaOf(obj)
    return `${kind}/${m.namespace}/${m.name}`
  }

  /** Applies one event; returns whether anything visible changed. */
  apply(ev: WatchEvent): boolean {
    const kind = ev.kind ? kindInfo(ev.kind).resource : ''
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        if (!ev.object || typeof ev.object !== 'object') return false
        const rv = metaOf(ev.object).resourceVersion
        if (rv) this.resourceVersion = rv
        this.objects.set(WatchStore.key(kind, ev.object), { kind, object: ev.object as Record<string, unknown> })
        break
      }
      case 'DELETED': {
        if (!ev.object) return false
        const rv = metaOf(ev.object).resourceVersion
        if (rv) this.resourceVersion = rv
        if (!this.objects.delete(WatchStore.key(kind, ev.object))) return false
        break
      }
      case 'SYNCED':
        this.synced.add(kind)
        if (ev.resourceVersion) this.resourceVersion = ev.resourceVersion
        break
      case 'RESET':
        for (const k of [...this.objects.keys()]) if (!kind || k.startsWith(kind + '/')) this.objects.delete(k)
        this.synced.delete(kind)
        this.resourceVersion = ''
        break
      case 'error':
        this.error = { code: ev.code ?? 'error', message: ev.message ?? '' }
        break
      default:
        return false
    }
    this.version++
    return true
  }

  list(kind?: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    for (const v of this.objects.values()) if (!kind || v.kind === kind) out.push(v.object)
    return out.sort((a, b) => {
      const ma = metaOf(a), mb = metaOf(b)
      return ma.namespace.localeCompare(mb.namespace) || ma.name.localeCompare(mb.name)
    })
  }
}
