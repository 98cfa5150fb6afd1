// One decision for every reconnect: isFinal reads the server's generated error table.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeCodes, isFinal } from '../src/mux/index.ts'

test('isFinal follows the server table for codes and close codes', () => {
  for (const code of ['forbidden', 'not_found', 'bad_params', 'unknown_kind', 'limit', 'disconnected_by_admin']) {
    assert.equal(isFinal(code), true, code)
    assert.equal(isFinal(undefined, closeCodes[code]), true, `close code of ${code}`)
  }
  for (const code of ['unavailable', 'slow_consumer', 'shutting_down', 'internal', 'idle_timeout']) {
    assert.equal(isFinal(code), false, code)
  }
  // A dropped socket (1006) or a kind's own code: retry. A refused Origin (1008): final.
  assert.equal(isFinal(undefined, 1006), false)
  assert.equal(isFinal('exited', 4099), false)
  assert.equal(isFinal(undefined, 1008), true)
  assert.equal(closeCodes.disconnected_by_admin, 4013)
})
