import { test } from 'node:test'
import assert from 'node:assert/strict'
import { failingChecks, nextDelay, MAX_BACKOFF_MS, POLL_MS } from '../src/app/readiness.ts'

test('failing checks come from the readyz body, by name', () => {
  const body = {
    status: 'unavailable',
    checks: { redis: { ok: false, error: 'i/o timeout' }, recordings: { ok: true }, 'cluster:dev': { ok: false } },
  }
  assert.deepEqual(failingChecks(body), [
    { name: 'cluster:dev', error: '' },
    { name: 'redis', error: 'i/o timeout' },
  ])
  assert.deepEqual(failingChecks({ status: 'ok', checks: { redis: { ok: true } } }), [])
})

test('odd bodies name nothing', () => {
  for (const b of [null, 'x', {}, { checks: 3 }]) assert.deepEqual(failingChecks(b), [])
})

test('polling backs off only while the server does not answer', () => {
  assert.equal(nextDelay(0), POLL_MS)
  assert.equal(nextDelay(1), 2 * POLL_MS)
  assert.equal(nextDelay(2), 4 * POLL_MS)
  assert.equal(nextDelay(30), MAX_BACKOFF_MS)
})
