import { test } from 'node:test'
import assert from 'node:assert/strict'
import { atBottom, classify, matches, splitMatches } from '../src/app/logLevel.ts'

test('level words', () => {
  assert.equal(classify('2026-11-25T07:00:00Z ERROR could not connect'), 'error')
  assert.equal(classify('[WARN] disk almost full'), 'warn')
  assert.equal(classify('INFO started on :8080'), 'info')
  assert.equal(classify('panic: runtime error'), 'error')
  assert.equal(classify('debug: cache warm'), 'debug')
  assert.equal(classify('GET /healthz 200'), 'plain')
})

test('level words only as words', () => {
  assert.equal(classify('terrorist information'), 'plain')
  assert.equal(classify('InformationWarehouse'), 'plain')
})

test('structured levels win over words in the message', () => {
  assert.equal(classify('{"level":"info","msg":"recovered from ERROR"}'), 'info')
  assert.equal(classify('time=1 level=warn msg="retrying after error"'), 'warn')
  assert.equal(classify('{"severity":"ERROR","message":"x"}'), 'error')
})

test('klog prefixes', () => {
  assert.equal(classify('E1125 07:43:17.123456       1 reflector.go:1] failed'), 'error')
  assert.equal(classify('W1125 07:43:17.123456       1 x.go:1] slow'), 'warn')
  assert.equal(classify('I1125 07:43:17.123456       1 x.go:1] ok'), 'info')
})

test('search is case-insensitive and highlights every hit', () => {
  assert.equal(matches('Hello World', 'world'), true)
  assert.equal(matches('Hello', 'bye'), false)
  assert.equal(matches('x', ''), true)
  assert.deepEqual(splitMatches('abcABCx', 'bc'), [
    { text: 'a', hit: false }, { text: 'bc', hit: true }, { text: 'A', hit: false }, { text: 'BC', hit: true }, { text: 'x', hit: false },
  ])
})

test('auto-scroll only when at the bottom', () => {
  assert.equal(atBottom(900, 1000, 100), true)
  assert.equal(atBottom(880, 1000, 100), true)
  assert.equal(atBottom(500, 1000, 100), false)
})
