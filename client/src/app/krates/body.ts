// What every krate body is given. A leaf module: the bodies import it and the registry
// (index.ts) imports the bodies, so neither imports the other's importer.
import type { Krate } from '../schema.ts'
import type { StreamState } from '../transport.ts'

export interface KrateBodyProps {
  krate: Krate
  /** Each body reports its stream's state; the title bar shows it (connection-state). */
  onState: (s: StreamState, detail?: string) => void
}
