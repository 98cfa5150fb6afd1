// Spotlight search: every token of the query must appear in "kind namespace/name"; results that
// match the name's start rank first, then shorter names.
import { KINDS, type KindInfo } from './resources.ts'

export interface IndexEntry {
  resource: string
  kind: string
  namespace: string
  name: string
}

export function search(index: IndexEntry[], query: string, limit = 50): IndexEntry[] {
  const tokens = query.toLowerCase().split(/\s+/).filter(Boolean)
  if (tokens.length === 0) return []
  const scored: { e: IndexEntry; s: number }[] = []
  for (const e of index) {
    const hay = `${e.kind.toLowerCase()} ${e.resource} ${e.namespace}/${e.name}`.toLowerCase()
    if (!tokens.every((t) => hay.includes(t))) continue
    const name = e.name.toLowerCase()
    let s = 0
    for (const t of tokens) {
      if (name === t) s += 100
      else if (name.startsWith(t)) s += 50
      else if (name.includes(t)) s += 20
    }
    s -= name.length / 100
    scored.push({ e, s })
  }
  scored.sort((a, b) => b.s - a.s || a.e.name.localeCompare(b.e.name))
  return scored.slice(0, limit).map((x) => x.e)
}

/** Kinds whose name matches the query, to open a live list of them. */
export function matchingKinds(query: string): KindInfo[] {
  const q = query.trim().toLowerCase()
  if (q.length < 2) return []
  return KINDS.filter((k) => k.resource.startsWith(q) || k.kind.toLowerCase().startsWith(q))
}
