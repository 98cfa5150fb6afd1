import { useEffect, useState } from 'react'
import { getToken } from './api.ts'
import { failingChecks, nextDelay, type Failing } from './readiness.ts'

/**
 * A banner naming what the server reports as degraded on /api/readyz (Redis, recordings, a
 * cluster), with the reasons for an admin, or that the server does not answer; hidden while
 * everything is ready. It asks every
 * few seconds, backing off while the server is unreachable.
 */
export function Degraded() {
  const [failing, setFailing] = useState<Failing[]>([])

  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let failures = 0
    const ask = async () => {
      const abort = new AbortController()
      const limit = setTimeout(() => abort.abort(), 10_000)
      try {
        // 503 carries the checks too: only a missing or unreadable answer is "unreachable".
        // Signed in as an admin, the answer also says why each check fails.
        const headers: Record<string, string> = { Accept: 'application/json' }
        const tok = getToken()
        if (tok) headers.Authorization = `Bearer ${tok}`
        const res = await fetch('/api/readyz', { signal: abort.signal, headers })
        const body: unknown = await res.json()
        failures = 0
        if (!stopped) setFailing(res.ok ? [] : failingChecks(body))
      } catch (e) {
        failures++
        if (!stopped) setFailing([{ name: 'server', error: `unreachable: ${(e as Error).message}` }])
      } finally {
        clearTimeout(limit)
      }
      if (!stopped) timer = setTimeout(() => void ask(), nextDelay(failures))
    }
    void ask()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [])

  if (failing.length === 0) return null
  const names = failing.map((f) => f.name).join(' ')
  return (
    <div className="degraded" role="status" data-testid="degraded" data-checks={names}>
      <strong>Degraded:</strong>{' '}
      {failing.map((f, i) => (
        <span key={f.name} data-check={f.name}>
          {i > 0 ? '; ' : ''}
          {f.name}
          {f.error ? <span className="muted"> ({f.error.length > 80 ? f.error.slice(0, 79) + '…' : f.error})</span> : null}
        </span>
      ))}
    </div>
  )
}
