import { createContext, useContext } from 'react'
import type * as Y from 'yjs'
import type { User } from './api.ts'
import type { KrateKind, KrateRef } from './schema.ts'

export interface RoomContextValue {
  room: string
  doc: Y.Doc
  user: User
  cluster: string
  /** Drops a new krate in the middle of the viewport and focuses it. */
  openKrate: (kind: KrateKind, ref: Partial<KrateRef>) => string
  /** Tells the others which krate we focus (awareness activeKrateId). */
  focusKrate: (id: string | null) => void
}

export const RoomContext = createContext<RoomContextValue | null>(null)

export function useRoom(): RoomContextValue {
  const v = useContext(RoomContext)
  if (!v) throw new Error('useRoom outside a room')
  return v
}
