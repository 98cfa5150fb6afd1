// Prints the golden y-protocols messages as JSON on stdout. The bytes come from the real
// y-protocols, yjs and lib0 in the repository's node_modules; golden.json is this script's output
// and golden_test.go checks it is current.
//
//   node crdt/yprotocol/testdata/gen-golden.mjs > crdt/yprotocol/testdata/golden.json
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as sync from 'y-protocols/sync'
import * as auth from 'y-protocols/auth'
import * as awareness from 'y-protocols/awareness'
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const version = name => require(`${name}/package.json`).version
const hex = u => Buffer.from(u).toString('hex')
const frame = write => { const e = encoding.createEncoder(); write(e); return encoding.toUint8Array(e) }

const messages = []
const addSync = (name, write) => {
  const bytes = frame(e => { encoding.writeVarUint(e, 0); write(e) })
  const d = decoding.createDecoder(bytes)
  decoding.readVarUint(d)
  const syncType = decoding.readVarUint(d)
  const payload = decoding.readVarUint8Array(d)
  messages.push({ name, type: 0, syncType, payload: hex(payload), bytes: hex(bytes) })
}

const empty = new Y.Doc(); empty.clientID = 7
addSync('step1 of an empty doc', e => sync.writeSyncStep1(e, empty))
addSync('step2 of an empty doc', e => sync.writeSyncStep2(e, empty, new Uint8Array([0])))

// A doc written by three clients, one with an id above 2^32, so state vectors and updates have
// several entries and multi-byte varints.
const full = new Y.Doc(); full.clientID = 1
const updates = []
full.on('update', u => updates.push(u))
full.getMap('krates').set('web', { x: 10, y: -2.5, name: 'web 😀' })
const other = new Y.Doc(); other.clientID = 2 ** 40 + 3
other.getText('notes').insert(0, 'héllo 👋🏽 wörld '.repeat(20))
Y.applyUpdate(full, Y.encodeStateAsUpdate(other))
const third = new Y.Doc(); third.clientID = 300
Y.applyUpdate(third, Y.encodeStateAsUpdate(full))
third.getArray('list').insert(0, [1, 'two', null, true, new Uint8Array([1, 2, 3])])
Y.applyUpdate(full, Y.encodeStateAsUpdate(third))
addSync('step1 of a doc with three clients', e => sync.writeSyncStep1(e, full))
addSync('step2 answering an empty state vector', e => sync.writeSyncStep2(e, full, Y.encodeStateVector(empty)))
addSync('step2 answering a partial state vector', e => sync.writeSyncStep2(e, full, Y.encodeStateVector(other)))
addSync('update of a map set', e => sync.writeUpdate(e, updates[0]))
addSync('update of a large text', e => sync.writeUpdate(e, Y.encodeStateAsUpdate(other)))

const awarenessMessage = (name, update) => {
  const bytes = frame(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) })
  messages.push({ name, type: 1, payload: hex(update), bytes: hex(bytes) })
}
messages.push({ name: 'query awareness', type: 3, bytes: hex(frame(e => encoding.writeVarUint(e, 3))) })
for (const reason of ['', 'read-only room', 'keine Berechtigung für 😀', 'x'.repeat(200)]) {
  messages.push({
    name: `permission denied: ${reason.slice(0, 30)}`,
    type: 2,
    authType: 0,
    reason,
    bytes: hex(frame(e => { encoding.writeVarUint(e, 2); auth.writePermissionDenied(e, reason) }))
  })
}

// Awareness updates as y-protocols encodes them, from the Awareness instances that own the states.
const awarenessUpdates = []
const addAwareness = (name, aw, clients) => {
  const update = awareness.encodeAwarenessUpdate(aw, clients)
  const d = decoding.createDecoder(update)
  const n = decoding.readVarUint(d)
  const entries = []
  for (let i = 0; i < n; i++) {
    entries.push({ clientID: decoding.readVarUint(d), clock: decoding.readVarUint(d), state: decoding.readVarString(d) })
  }
  awarenessUpdates.push({ name, clients: entries, bytes: hex(update) })
  return update
}
const awDocs = []
const newAwareness = id => { const d = new Y.Doc(); d.clientID = id; awDocs.push(d); return new awareness.Awareness(d) }
const a = newAwareness(7)
addAwareness('initial empty local state', a, [7])
a.setLocalState({ user: { name: 'a' } })
awarenessMessage('awareness message', addAwareness('one user', a, [7]))
a.setLocalState({ user: { name: 'Zoë 😀', color: '#ff0000' }, cursor: { anchor: 3, head: [1, 2.5, null, true] } })
addAwareness('unicode and nesting', a, [7])
a.setLocalState({ blob: 'y'.repeat(20000) })
awarenessMessage('awareness message with a 20 kB state', addAwareness('20 kB state', a, [7]))
a.setLocalState(null)
awarenessMessage('awareness removal message', addAwareness('removal', a, [7]))
const big = newAwareness(2 ** 53 - 1)
for (let i = 0; i < 200; i++) big.setLocalState({ n: i })
const both = newAwareness(5)
awareness.applyAwarenessUpdate(both, awareness.encodeAwarenessUpdate(big, [2 ** 53 - 1]), 'x')
awareness.applyAwarenessUpdate(both, awareness.encodeAwarenessUpdate(a, [7]), 'x')
addAwareness('several clients, large id and clock', both, [5, 2 ** 53 - 1, 7])
addAwareness('no clients', both, [])

// Scenarios: the states, clocks and change/update events y-protocols reports for a sequence of
// operations on one Awareness (the receiver, client 1).
const scenarios = []
{
  const rx = newAwareness(1)
  const events = []
  rx.on('change', (ch, origin) => events.push({ event: 'change', ...ch }))
  rx.on('update', (ch, origin) => events.push({ event: 'update', ...ch }))
  const snapshot = () => {
    const states = {}; const clocks = {}
    rx.getStates().forEach((s, id) => { states[id] = JSON.stringify(s) })
    rx.meta.forEach((m, id) => { clocks[id] = m.clock })
    return { states, clocks }
  }
  const steps = []
  const step = (op, args, run) => {
    events.length = 0
    const out = run()
    steps.push({ op, ...args, ...(out || {}), events: events.map(e => ({ ...e })), ...snapshot() })
  }
  const upd = entries => frame(e => {
    encoding.writeVarUint(e, entries.length)
    for (const [id, clock, state] of entries) {
      encoding.writeVarUint(e, id); encoding.writeVarUint(e, clock); encoding.writeVarString(e, state)
    }
  })
  const apply = (name, entries) => step('apply', { name, update: hex(upd(entries)) }, () => awareness.applyAwarenessUpdate(rx, upd(entries), 'remote'))
  apply('new remote client', [[2, 1, '{"user":"b"}']])
  apply('older clock is ignored', [[2, 0, '{"user":"old"}']])
  apply('equal clock with a state is ignored', [[2, 1, '{"user":"same clock"}']])
  apply('renewal with the same state', [[2, 2, '{"user":"b"}']])
  apply('changed state', [[2, 3, '{"user":"b2"}']])
  apply('key order does not matter for change', [[3, 1, '{"a":1,"b":2}']])
  apply('same content, other key order', [[3, 2, '{"b":2,"a":1}']])
  apply('null at the same clock removes', [[2, 3, 'null']])
  apply('null at the same clock again is ignored', [[2, 3, 'null']])
  apply('state again after removal', [[2, 4, '{"user":"back"}']])
  apply('higher clock null removes', [[3, 9, 'null']])
  apply('null for a never seen client', [[4, 1, 'null']])
  apply('several entries at once', [[5, 1, '{"x":1}'], [2, 5, '{"user":"back"}'], [6, 3, '[1,2]']])
  apply('remote null for the local client is refused', [[1, 5, 'null']])
  apply('remote state for the local client', [[1, 7, '{"remote":true}']])
  step('setLocal', { name: 'local state set', state: '{"me":1}' }, () => rx.setLocalState({ me: 1 }))
  step('setLocal', { name: 'local state renewed', state: '{"me":1}' }, () => rx.setLocalState({ me: 1 }))
  step('setLocal', { name: 'local state removed', state: 'null' }, () => rx.setLocalState(null))
  step('remove', { name: 'remove remote clients', clients: [5, 6, 99] }, () => awareness.removeAwarenessStates(rx, [5, 6, 99], 'close'))
  step('setLocal', { name: 'local state back', state: '{"me":2}' }, () => rx.setLocalState({ me: 2 }))
  step('remove', { name: 'remove the local client', clients: [1] }, () => awareness.removeAwarenessStates(rx, [1], 'close'))
  step('encode', { name: 'encode known and removed clients', clients: [2, 1, 5] }, () => ({ bytes: hex(awareness.encodeAwarenessUpdate(rx, [2, 1, 5])) }))
  scenarios.push({ name: 'receiver client 1', clientID: 1, steps })
}
for (const d of awDocs) d.destroy()

process.stdout.write(JSON.stringify({
  generator: `y-protocols ${version('y-protocols')}, yjs ${version('yjs')}, lib0 ${version('lib0')}`,
  messages,
  awarenessUpdates,
  scenarios
}, null, 1) + '\n')
