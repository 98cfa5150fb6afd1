// What the user may do, from GET /api/access?cluster=&namespace=, so actions that would be
// refused are disabled (with the reason) before anyone clicks them. The server still enforces
// everything; this only shapes the UI.
//
// The response is read leniently. Accepted shapes, per namespace:
//   {"rules": [{"verb","resource","subresource"?,"group"?,"allowed","reason"?}]}    (or "permissions")
//   {"allowed": {"<verb> <resource>[/<sub>]": true | {"allowed","reason"}}}        (or "can")
//   {"<verb> <resource>[/<sub>]": true | {"allowed","reason"}}
//   {"kinds": {"pods": {"get": true, ...}}, "actions": {"pods/exec": false, "pods/log": true}}
//     (Yard's own answer, which gives no reasons: the UI writes them; its "writeEnabled": false
//     says the server refuses every cluster write)

export interface Decision {
  allowed: boolean
  reason: string
}

/** Decisions by accessKey; writeEnabled is false when the server refuses every cluster write. */
export type AccessMap = Map<string, Decision> & { writeEnabled?: boolean }

export const accessKey = (verb: string, resource: string, sub = ''): string =>
  `${verb} ${resource}${sub ? '/' + sub : ''}`.toLowerCase()

function decisionOf(v: unknown): Decision | null {
  if (typeof v === 'boolean') return { allowed: v, reason: '' }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    if (typeof o.allowed === 'boolean') return { allowed: o.allowed, reason: typeof o.reason === 'string' ? o.reason : '' }
  }
  return null
}

export function parseAccess(body: unknown): AccessMap {
  const out: AccessMap = new Map()
  if (!body || typeof body !== 'object') return out
  const o = body as Record<string, unknown>
  if (typeof o.writeEnabled === 'boolean') out.writeEnabled = o.writeEnabled
  if ((o.kinds && typeof o.kinds === 'object') || (o.actions && typeof o.actions === 'object')) {
    const ns = typeof o.namespace === 'string' && o.namespace ? `namespace ${o.namespace}` : 'this cluster'
    for (const [res, verbs] of Object.entries((o.kinds ?? {}) as Record<string, unknown>)) {
      if (!verbs || typeof verbs !== 'object') continue
      for (const [verb, ok] of Object.entries(verbs as Record<string, unknown>)) {
        if (typeof ok === 'boolean') out.set(accessKey(verb, res), { allowed: ok, reason: ok ? '' : `Kubernetes RBAC does not let you ${verb} ${res} in ${ns}` })
      }
    }
    const actionVerb: Record<string, [string, string, string, string]> = {
      'pods/exec': ['create', 'pods', 'exec', 'open a shell (pods/exec)'],
      'pods/log': ['get', 'pods', 'log', 'read logs (pods/log)'],
      'secrets/get': ['get', 'secrets', '', 'read secrets'],
    }
    for (const [name, ok] of Object.entries((o.actions ?? {}) as Record<string, unknown>)) {
      const a = actionVerb[name]
      if (!a || typeof ok !== 'boolean') continue
      out.set(accessKey(a[0], a[1], a[2]), { allowed: ok, reason: ok ? '' : `Kubernetes RBAC does not let you ${a[3]} in ${ns}` })
    }
    return out
  }
  const list = Array.isArray(o.rules) ? o.rules : Array.isArray(o.permissions) ? o.permissions : Array.isArray(body) ? (body as unknown[]) : null
  if (list) {
    for (const r of list) {
      if (!r || typeof r !== 'object') continue
      const e = r as Record<string, unknown>
      const d = decisionOf(e)
      if (!d || typeof e.verb !== 'string' || typeof e.resource !== 'string') continue
      let [res, sub] = e.resource.split('/') as [string, string | undefined]
      if (typeof e.subresource === 'string' && e.subresource) sub = e.subresource
      out.set(accessKey(e.verb, res, sub ?? ''), d)
    }
    return out
  }
  const map = (o.allowed && typeof o.allowed === 'object' ? o.allowed : o.can && typeof o.can === 'object' ? o.can : o) as Record<string, unknown>
  for (const [k, v] of Object.entries(map)) {
    const d = decisionOf(v)
    const m = /^\s*(\S+)\s+(\S+?)\s*$/.exec(k)
    if (d && m) {
      const [res, sub] = m[2]!.split('/') as [string, string | undefined]
      out.set(accessKey(m[1]!, res, sub ?? ''), d)
    }
  }
  return out
}

/** The decision for a question; unknown questions are allowed (the server has the last word). */
export function can(a: AccessMap | null | undefined, verb: string, resource: string, sub = ''): Decision {
  if (!a) return { allowed: true, reason: '' }
  const d = a.get(accessKey(verb, resource, sub)) ?? a.get(accessKey('*', resource, sub)) ?? a.get(accessKey(verb, '*', sub))
  if (!d) return { allowed: true, reason: '' }
  return d.allowed ? d : { allowed: false, reason: d.reason || `you may not ${verb} ${resource}${sub ? '/' + sub : ''} here` }
}

/** The UI actions on a resource and the permission each needs. */
export function actionDecision(a: AccessMap | null | undefined, action: 'details' | 'logs' | 'shell' | 'list', resource: string): Decision {
  switch (action) {
    case 'shell':
      return can(a, 'create', 'pods', 'exec')
    case 'logs':
      return can(a, 'get', 'pods', 'log')
    case 'details':
      return can(a, 'get', resource)
    case 'list':
      return can(a, 'list', resource)
  }
}

/** The writes the UI offers on an object. */
export type WriteOp = 'edit' | 'scale' | 'restart' | 'delete'

export const WRITES_DISABLED = 'writes are disabled on this server'

/**
 * Whether the user may take a write action on a resource in a namespace, and if not why:
 * the server's write switch first, then RBAC (edit and restart patch the object, scale patches
 * its scale subresource when the answer covers it, delete deletes). null access means the
 * answer is still loading; 'unknown' (the server could not say) leaves the server to decide.
 */
export function writeDecision(a: AccessMap | 'unknown' | null, op: WriteOp, resource: string, namespace: string): Decision {
  if (a === null) return { allowed: false, reason: 'checking permissions…' }
  if (a === 'unknown') return { allowed: true, reason: '' }
  if (a.writeEnabled === false) return { allowed: false, reason: WRITES_DISABLED }
  const verb = op === 'delete' ? 'delete' : 'patch'
  const sub = op === 'scale' && a.has(accessKey('patch', resource, 'scale')) ? 'scale' : ''
  const d = can(a, verb, resource, sub)
  if (d.allowed) return d
  const what = `${resource}${sub ? '/' + sub : ''}`
  return { allowed: false, reason: `you may not ${verb} ${what} ${namespace ? 'in ' + namespace : 'in this cluster'}` }
}
