// The browser app's modules import each other without cycles, type-only imports included: a
// cycle (Krate.tsx and the krate bodies once imported each other) ties modules that should
// layer, and between value imports it makes the evaluation order decide what is undefined.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const SRC = resolve(import.meta.dirname, '..', 'src')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return sources(p)
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

// Static imports and re-exports (`import … from`, `import type … from`, `export … from`) and
// dynamic imports (`import('…')`) of relative paths.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?\sfrom\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g

/** The app's import graph: file -> the files it imports. */
function importGraph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>()
  for (const f of files) {
    const deps: string[] = []
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!
      if (/\.tsx?$/.test(spec)) deps.push(resolve(dirname(f), spec))
    }
    g.set(f, deps)
  }
  return g
}

/** One cycle of g as a list of files (first = last), or null. */
function findCycle(g: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (f: string): string[] | null => {
    state.set(f, 'open')
    path.push(f)
    for (const d of g.get(f) ?? []) {
      if (state.get(d) === 'open') return [...path.slice(path.indexOf(d)), d]
      if (!state.has(d)) {
        const c = visit(d)
        if (c) return c
      }
    }
    path.pop()
    state.set(f, 'done')
    return null
  }
  for (const f of g.keys()) {
    if (state.has(f)) continue
    const c = visit(f)
    if (c) return c
  }
  return null
}

test('the cycle finder sees a cycle through a type-only import', () => {
  const g = new Map([
    ['Krate.tsx', ['krates/Logs.tsx']],
    ['krates/Logs.tsx', ['hooks.ts', 'Krate.tsx']],
    ['hooks.ts', []],
  ])
  assert.deepEqual(findCycle(g), ['Krate.tsx', 'krates/Logs.tsx', 'Krate.tsx'])
  g.set('krates/Logs.tsx', ['hooks.ts'])
  assert.equal(findCycle(g), null)
  const src = "import type { KrateBodyProps } from '../Krate.tsx'\nexport { x } from './x.ts'\nconst S = lazy(() => import('./Shell.tsx'))\nimport { y } from 'yjs'\n"
  const specs = [...src.matchAll(IMPORT)].map((m) => m[1] ?? m[2])
  assert.deepEqual(specs, ['../Krate.tsx', './x.ts', './Shell.tsx'])
})

test('client/src has no import cycle', () => {
  const files = sources(SRC)
  const g = importGraph(files)
  // The graph is the real one: the window imports the registry, which imports the bodies.
  const krate = join(SRC, 'app', 'Krate.tsx')
  assert.ok(g.get(krate)?.includes(join(SRC, 'app', 'krates', 'index.ts')), 'Krate.tsx imports krates/index.ts')
  assert.ok(g.get(join(SRC, 'app', 'krates', 'index.ts'))?.includes(join(SRC, 'app', 'krates', 'Shell.tsx')), 'the registry imports the shell lazily')
  const cycle = findCycle(g)
  assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => relative(SRC, f)).join(' -> ')}`)
})
