import type { User } from '../api.ts'
import { Header } from '../Header.tsx'
import { initials, textOn } from '../colors.ts'
import type { Peer } from '../presence.ts'
import type { StreamState } from '../transport.ts'
import type { Clusters } from './useClusters.ts'
import type { Follow } from './useFollow.ts'

interface Props {
  room: string
  user: User
  onSignOut: () => void
  syncState: StreamState
  synced: boolean
  clusters: Clusters
  onFind: () => void
  /** Everyone in the room, one avatar per person. */
  users: Peer[]
  follow: Follow
}

/** The room page's top bar: the room and its sync state, the cluster, Find, avatars to follow, the opt-out. */
export function RoomHeader({ room, user, onSignOut, syncState, synced, clusters: { clusters, cluster, setCluster }, onFind, users, follow }: Props) {
  return (
    <Header user={user} onSignOut={onSignOut}>
      <span className="room-name" data-testid="room-name">
        {room}
      </span>
      <span className="sync-state" data-testid="sync-state" data-state={syncState} data-synced={synced ? 'true' : 'false'} title={`room sync: ${syncState}`}>
        {synced ? syncState : syncState === 'open' ? 'syncing' : syncState}
      </span>
      {clusters.length > 1 && (
        <select data-testid="cluster-select" value={cluster} onChange={(e) => setCluster(e.target.value)}>
          {clusters.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      )}
      <button data-testid="open-spotlight" onClick={onFind} title="Find a resource (Ctrl+K)">
        Find… <kbd>Ctrl K</kbd>
      </button>
      <div className="avatars">
        {users.map((u) => {
          const disabled = u.followable === false
          const isLeader = follow.following === u.userId
          return (
            <button
              key={u.userId}
              className={`avatar${isLeader ? ' following' : ''}`}
              data-testid="avatar"
              data-user={u.userId}
              data-following={isLeader ? 'true' : 'false'}
              style={{ background: u.color, color: textOn(u.color) }}
              disabled={disabled}
              title={disabled ? `${u.name} opted out of being followed` : isLeader ? `Stop following ${u.name}` : `Follow ${u.name}'s view`}
              onClick={() => follow.follow(isLeader ? null : u.userId)}
            >
              {initials(u.name)}
            </button>
          )
        })}
      </div>
      <label className="optout" title="When checked, others cannot follow your viewport">
        <input type="checkbox" data-testid="follow-optout" checked={follow.noFollow} onChange={(e) => follow.setNoFollow(e.target.checked)} />
        no follow
      </label>
    </Header>
  )
}
