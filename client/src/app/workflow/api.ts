// The workflow and deploy endpoints (docs/workflow.md; the deploy contract of the server).
import { ApiError, request } from '../api.ts'

const room = (r: string) => `/api/rooms/${encodeURIComponent(r)}`

export const wfApi = {
  templates: () => request<unknown>('GET', '/api/workflow/templates'),
  insertTemplate: (r: string, template: string, name: string, x: number, y: number) =>
    request<unknown>('POST', `${room(r)}/workflow/templates/${encodeURIComponent(template)}`, { name, x: Math.round(x), y: Math.round(y) }),
  importCompose: (r: string, yaml: string, x: number, y: number) =>
    request<unknown>('POST', `${room(r)}/workflow/import-compose?${new URLSearchParams({ x: String(Math.round(x)), y: String(Math.round(y)) })}`, yaml, 'application/json', 'application/yaml'),
  validation: (r: string) => request<unknown>('GET', `${room(r)}/workflow/validation`),
  propose: (r: string, cluster: string) => request<unknown>('POST', `${room(r)}/deploys`, { cluster, prune: false }),
  policy: (r: string) => request<unknown>('GET', `${room(r)}/deploy-policy`),
  act: (r: string, id: string, action: 'approve' | 'reject' | 'apply' | 'cancel' | 'rollback') =>
    request<unknown>('POST', `${room(r)}/deploys/${encodeURIComponent(id)}/${action}`, {}),
}

/** The `unmapped` list of a compose import's answer. */
export function unmappedOf(body: unknown): string[] {
  const u = body && typeof body === 'object' ? (body as Record<string, unknown>).unmapped : null
  return Array.isArray(u) ? u.filter((x): x is string => typeof x === 'string').map((x) => x.slice(0, 300)).slice(0, 500) : []
}

/** The template names of GET /api/workflow/templates. */
export function templateNames(body: unknown): string[] {
  const t = body && typeof body === 'object' ? (body as Record<string, unknown>).templates : null
  if (!Array.isArray(t)) return []
  return t.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>).name ?? (x as Record<string, unknown>).id : x)).filter((x): x is string => typeof x === 'string')
}

/** A failed call as the panels show it: the server's code and message. */
export function errorText(e: unknown): string {
  return e instanceof ApiError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e)
}
