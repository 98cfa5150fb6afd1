import { useEffect, useState } from 'react'
import type { SyncProvider } from '../syncProvider.ts'
import type { Peer } from '../presence.ts'

const OPT_OUT_KEY = 'yard.noFollow'

export interface Follow {
  /** This person opted out of being followed (remembered in localStorage, told through awareness). */
  noFollow: boolean
  setNoFollow: (v: boolean) => void
  /** Whom this person follows (a user id), or null. */
  following: string | null
  /** That person's presence while they are here and followable. */
  leader: Peer | null
  follow: (userId: string | null) => void
}

/** Following another person's viewport, and opting out of being followed. */
export function useFollow(provider: SyncProvider, users: Peer[]): Follow {
  const [noFollow, setNoFollow] = useState(() => localStorage.getItem(OPT_OUT_KEY) === '1')
  const [following, setFollowing] = useState<string | null>(null)
  useEffect(() => {
    localStorage.setItem(OPT_OUT_KEY, noFollow ? '1' : '0')
    provider.awareness.setLocalStateField('followable', !noFollow)
  }, [provider, noFollow])

  const found = following ? users.find((u) => u.userId === following) : undefined
  const leader = found && found.followable !== false ? found : null
  // Stop following someone who left or opted out; they are not followed again when they return.
  if (following && !leader) setFollowing(null)
  return { noFollow, setNoFollow, following: leader ? following : null, leader, follow: setFollowing }
}

