import { useCallback, useRef, useSyncExternalStore } from 'react'
import type { SyncProvider } from '../syncProvider.ts'
import { peersOf, type Peer } from '../presence.ts'

/** The others in the room (awareness states), re-read at most once a frame. */
export function usePeers(provider: SyncProvider): Peer[] {
  const ref = useRef<Peer[]>([])
  const subscribe = useCallback(
    (cb: () => void) => {
      // Ten people moving their pointers are hundreds of changes a second: render once a frame.
      let frame = 0
      const on = () => {
        if (frame) return
        frame = requestAnimationFrame(() => {
          frame = 0
          ref.current = peersOf(provider.awareness.getStates(), provider.doc.clientID)
          cb()
        })
      }
      provider.awareness.on('change', on)
      ref.current = peersOf(provider.awareness.getStates(), provider.doc.clientID)
      return () => {
        cancelAnimationFrame(frame)
        provider.awareness.off('change', on)
      }
    },
    [provider],
  )
  return useSyncExternalStore(subscribe, () => ref.current)
}
