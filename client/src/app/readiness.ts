// What /api/readyz says is degraded, and how often to ask: pure logic for Degraded.tsx.

/** One failing dependency: its check name (redis, recordings, cluster:<name>) and why. */
export interface Failing {
  name: string
  error: string
}

/** The failing checks of a /api/readyz body ({status, checks: {name: {ok, error}}}), by name. */
export function failingChecks(body: unknown): Failing[] {
  const checks = (body as { checks?: Record<string, { ok?: boolean; error?: string }> } | null)?.checks
  if (!checks || typeof checks !== 'object') return []
  return Object.entries(checks)
    .filter(([, c]) => c && c.ok !== true)
    .map(([name, c]) => ({ name, error: typeof c?.error === 'string' ? c.error : '' }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** How often the server is asked while it answers. */
export const POLL_MS = 5_000
/** The longest wait between attempts while the server does not answer at all. */
export const MAX_BACKOFF_MS = 60_000

/** The wait before the next attempt after `failures` requests in a row got no answer. */
export function nextDelay(failures: number): number {
  if (failures <= 0) return POLL_MS
  return Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** failures)
}
