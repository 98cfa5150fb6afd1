import { test, mock } from 'node:test'
import assert from 'node:assert/strict'
import { throttle } from '../src/app/hooks.ts'

test('throttle calls at once, then at most every interval, always with the latest arguments', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000 })
  try {
    const calls: number[] = []
    const f = throttle((x: number) => calls.push(x), 40)
    f(1)
    f(2)
    f(3)
    assert.deepEqual(calls, [1])
    mock.timers.tick(39)
    assert.deepEqual(calls, [1])
    mock.timers.tick(1)
    assert.deepEqual(calls, [1, 3])
    mock.timers.tick(100)
    f(4)
    assert.deepEqual(calls, [1, 3, 4])
    f(5)
    f.cancel()
    mock.timers.tick(100)
    assert.deepEqual(calls, [1, 3, 4])
  } finally {
    mock.timers.reset()
  }
})
