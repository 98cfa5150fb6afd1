// Kubernetes resource kinds as the UI knows them: the plural resource name used in API paths and
// krate refs ("pods"), the Kind objects carry ("Pod"), and what each can do. Plus the status
// colour of an object, read from the fields each kind reports its health in.

export interface KindInfo {
  resource: string
  kind: string
  namespaced: boolean
  /** Has logs: a pod, or a workload whose pods' logs merge. */
  logs: boolean
  shell: boolean
}

export const KINDS: KindInfo[] = [
  { resource: 'pods', kind: 'Pod', namespaced: true, logs: true, shell: true },
  { resource: 'deployments', kind: 'Deployment', namespaced: true, logs: true, shell: false },
  { resource: 'statefulsets', kind: 'StatefulSet', namespaced: true, logs: true, shell: false },
  { resource: 'daemonsets', kind: 'DaemonSet', namespaced: true, logs: true, shell: false },
  { resource: 'replicasets', kind: 'ReplicaSet', namespaced: true, logs: true, shell: false },
  { resource: 'jobs', kind: 'Job', namespaced: true, logs: true, shell: false },
  { resource: 'cronjobs', kind: 'CronJob', namespaced: true, logs: false, shell: false },
  { resource: 'services', kind: 'Service', namespaced: true, logs: false, shell: false },
  { resource: 'ingresses', kind: 'Ingress', namespaced: true, logs: false, shell: false },
  { resource: 'configmaps', kind: 'ConfigMap', namespaced: true, logs: false, shell: false },
  { resource: 'secrets', kind: 'Secret', namespaced: true, logs: false, shell: false },
  { resource: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true, logs: false, shell: false },
  { resource: 'events', kind: 'Event', namespaced: true, logs: false, shell: false },
  { resource: 'namespaces', kind: 'Namespace', namespaced: false, logs: false, shell: false },
  { resource: 'nodes', kind: 'Node', namespaced: false, logs: false, shell: false },
  { resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, logs: false, shell: false },
]

/** Kinds the spotlight indexes (events are too many and too short-lived to search). */
export const SEARCHABLE = KINDS.filter((k) => k.resource !== 'events')

export function kindInfo(resourceOrKind: string): KindInfo {
  const r = resourceOrKind.toLowerCase()
  return (
    KINDS.find((k) => k.resource === r || k.kind.toLowerCase() === r || k.resource === r + 's') ?? {
      resource: r,
      kind: resourceOrKind,
      namespaced: true,
      logs: false,
      shell: false,
    }
  )
}

type Obj = Record<string, unknown>
const o = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : [])
const n = (v: unknown): number => (typeof v === 'number' ? v : 0)

export interface Meta {
  name: string
  namespace: string
  uid: string
  resourceVersion: string
  creationTimestamp: string
}

export function metaOf(obj: unknown): Meta {
  const m = o(o(obj).metadata)
  const s = (v: unknown) => (typeof v === 'string' ? v : '')
  return { name: s(m.name), namespace: s(m.namespace), uid: s(m.uid), resourceVersion: s(m.resourceVersion), creationTimestamp: s(m.creationTimestamp) }
}

export type Tone = 'ok' | 'warn' | 'bad' | 'idle'

export interface Status {
  text: string
  tone: Tone
}

export function statusOf(resource: string, obj: unknown): Status {
  const spec = o(o(obj).spec)
  const st = o(o(obj).status)
  switch (kindInfo(resource).resource) {
    case 'pods': {
      if (o(o(obj).metadata).deletionTimestamp) return { text: 'Terminating', tone: 'warn' }
      const cs = arr(st.containerStatuses)
      for (const c of cs) {
        const waiting = o(o(c.state).waiting)
        if (typeof waiting.reason === 'string' && /BackOff|Err|Invalid/.test(waiting.reason)) return { text: waiting.reason, tone: 'bad' }
      }
      const phase = typeof st.phase === 'string' ? st.phase : 'Unknown'
      if (phase === 'Running') {
        const ready = cs.filter((c) => c.ready === true).length
        return cs.length > 0 && ready < cs.length ? { text: `Running ${ready}/${cs.length}`, tone: 'warn' } : { text: 'Running', tone: 'ok' }
      }
      if (phase === 'Succeeded') return { text: 'Completed', tone: 'idle' }
      if (phase === 'Failed') return { text: 'Failed', tone: 'bad' }
      return { text: phase, tone: 'warn' }
    }
    case 'deployments':
    case 'statefulsets':
    case 'replicasets': {
      const want = typeof spec.replicas === 'number' ? spec.replicas : 1
      const ready = n(st.readyReplicas)
      if (want === 0) return { text: '0/0', tone: 'idle' }
      return { text: `${ready}/${want}`, tone: ready >= want ? 'ok' : ready === 0 ? 'bad' : 'warn' }
    }
    case 'daemonsets': {
      const want = n(st.desiredNumberScheduled)
      const ready = n(st.numberReady)
      return { text: `${ready}/${want}`, tone: want === 0 ? 'idle' : ready >= want ? 'ok' : 'warn' }
    }
    case 'jobs': {
      if (n(st.failed) > 0) return { text: 'Failed', tone: 'bad' }
      if (n(st.succeeded) > 0) return { text: 'Complete', tone: 'ok' }
      return { text: 'Running', tone: 'warn' }
    }
    case 'nodes': {
      const ready = arr(st.conditions).find((c) => c.type === 'Ready')
      return ready?.status === 'True' ? { text: 'Ready', tone: 'ok' } : { text: 'NotReady', tone: 'bad' }
    }
    case 'namespaces':
      return st.phase === 'Terminating' ? { text: 'Terminating', tone: 'warn' } : { text: 'Active', tone: 'ok' }
    case 'persistentvolumeclaims':
      return st.phase === 'Bound' ? { text: 'Bound', tone: 'ok' } : { text: String(st.phase ?? 'Pending'), tone: 'warn' }
    case 'events':
      return o(obj).type === 'Warning' ? { text: String(o(obj).reason ?? 'Warning'), tone: 'bad' } : { text: String(o(obj).reason ?? 'Normal'), tone: 'ok' }
    default:
      return { text: '', tone: 'idle' }
  }
}

/** Containers of a pod, for the logs and shell container pickers. */
export function containersOf(pod: unknown): string[] {
  return arr(o(o(pod).spec).containers).map((c) => String(c.name ?? '')).filter(Boolean)
}

/** "3m", "5h", "2d": how kubectl shows ages. */
export function age(created: string, now = Date.now()): string {
  const t = Date.parse(created)
  if (!Number.isFinite(t)) return ''
  const s = Math.max(0, Math.floor((now - t) / 1000))
  if (s < 120) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 120) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h`
  return `${Math.floor(h / 24)}d`
}

/** The objects' YAML view, without managedFields (noise for people). */
export function toYAML(v: unknown, indent = ''): string {
  const lines: string[] = []
  emit(v, indent, lines)
  return lines.join('\n') + '\n'
}

// Strings a YAML 1.1 or 1.2 reader would take for something else (bools, nulls, numbers in any
// base, infinities, dates) or that hold indicators, so the edited YAML reads back as the same
// strings on the server.
const PLAIN_UNSAFE = /^\s|\s$|[:#{}[\],&*!|>'"%@`\u0000-\u001f\u007f-\u009f\u2028\u2029]|^[-?](\s|$)|^(true|false|null|yes|no|on|off|y|n|~|<<|=)$|^[-+]?(\.?\d[\d_]*(\.[\d_]*)?([eE][-+]?\d+)?|\.(inf|nan)|0[xob][\da-f_]+)$|^\d{4}-\d\d?-\d\d?/i

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  const s = String(v)
  if (s === '' || PLAIN_UNSAFE.test(s)) return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  return s
}

function emit(v: unknown, ind: string, out: string[]) {
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(ind + '[]')
      return
    }
    for (const item of v) {
      if (item && typeof item === 'object' && Object.keys(item).length > 0) {
        const sub: string[] = []
        emit(item, ind + '  ', sub)
        out.push(ind + '- ' + sub[0]!.slice(ind.length + 2), ...sub.slice(1))
      } else {
        out.push(ind + '- ' + (item && typeof item === 'object' ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)))
      }
    }
    return
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Obj).filter(([k, x]) => k !== 'managedFields' && x !== undefined)
    if (entries.length === 0) {
      out.push(ind + '{}')
      return
    }
    for (const [k, val] of entries) {
      const key = scalar(k)
      if (val && typeof val === 'object' && (Array.isArray(val) ? val.length > 0 : Object.keys(val).length > 0)) {
        out.push(`${ind}${key}:`)
        emit(val, Array.isArray(val) ? ind : ind + '  ', out)
      } else if (val && typeof val === 'object') {
        out.push(`${ind}${key}: ${Array.isArray(val) ? '[]' : '{}'}`)
      } else {
        out.push(`${ind}${key}: ${scalar(val)}`)
      }
    }
    return
  }
  out.push(ind + scalar(v))
}
