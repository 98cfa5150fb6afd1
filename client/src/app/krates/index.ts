// The krate registry: which component draws the body of each kind of krate. Krate.tsx (the
// window around a body) renders what this maps a krate's kind to; adding a kind of krate means
// adding it to schema.ts's KrateKind and here.
import { lazy, type ComponentType } from 'react'
import type { KrateKind } from '../schema.ts'
import type { KrateBodyProps } from './body.ts'
import { ResourceListKrate } from './ResourceList.tsx'
import { DetailKrate } from './Detail.tsx'
import { LogsKrate } from './Logs.tsx'

export type { KrateBodyProps } from './body.ts'

export interface KrateBody {
  component: ComponentType<KrateBodyProps>
  /** What the body shows while its code loads (lazy bodies only). */
  loading?: string
}

export const KRATE_BODIES: Readonly<Record<KrateKind, KrateBody>> = {
  resources: { component: ResourceListKrate },
  detail: { component: DetailKrate },
  logs: { component: LogsKrate },
  // xterm.js is the largest dependency; only rooms with a shell krate load it.
  shell: { component: lazy(() => import('./Shell.tsx')), loading: 'Loading terminal…' },
}
