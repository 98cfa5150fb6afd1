import { test } from 'node:test'
import assert from 'node:assert/strict'
import { colorFor, hash32, initials, PALETTE, textOn } from '../src/app/colors.ts'

test('hash32 is FNV-1a', () => {
  // Reference values of 32-bit FNV-1a.
  assert.equal(hash32(''), 0x811c9dc5)
  assert.equal(hash32('a'), 0xe40c292c)
  assert.equal(hash32('foobar'), 0xbf9cf968)
})

test('a user gets the same colour every time, from the palette', () => {
  assert.equal(colorFor('alice'), colorFor('alice'))
  assert.ok(PALETTE.includes(colorFor('bob')))
})

test('colours spread over the palette', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) seen.add(colorFor(`user-${i}`))
  assert.ok(seen.size >= PALETTE.length - 2, `only ${seen.size} colours used`)
})

test('label text contrasts with its background', () => {
  assert.equal(textOn('#ffe119'), '#000')
  assert.equal(textOn('#4363d8'), '#fff')
  assert.equal(textOn('nonsense'), '#000')
})

test('initials', () => {
  assert.equal(initials('alice'), 'AL')
  assert.equal(initials('Ada Lovelace'), 'AL')
  assert.equal(initials('bob.smith@example.com'), 'BS')
  assert.equal(initials(''), '?')
})
