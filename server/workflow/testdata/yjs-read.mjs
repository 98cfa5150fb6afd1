// Reads a v1 update (stdin) with the real yjs and prints the workflow root as toJSON gives it,
// with the shared type of each node's fields, so the Go side checks what a browser would see.
import * as Y from 'yjs'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const doc = new Y.Doc()
Y.applyUpdate(doc, new Uint8Array(Buffer.concat(chunks)))
const wf = doc.getMap('workflow')
const types = {}
for (const [id, node] of wf.get('nodes').entries()) {
  for (const [k, v] of node.entries()) {
    types[`${id}.${k}`] = v instanceof Y.Map ? 'Y.Map' : v instanceof Y.Array ? 'Y.Array' : typeof v
  }
}
for (const [id, e] of wf.get('edges').entries()) {
  types[`edge ${id}`] = e instanceof Y.Map ? 'Y.Map' : typeof e
}
process.stdout.write(JSON.stringify({ workflow: wf.toJSON(), types }))
