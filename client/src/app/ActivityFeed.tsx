import { useCallback, useRef, useState, useSyncExternalStore } from 'react'
import type * as Y from 'yjs'
import { activityArray, describeActivity, listActivity, type ActivityEntry } from './activity.ts'
import { age } from './resources.ts'
import { colorFor } from './colors.ts'

const COLLAPSED_KEY = 'yard.activityCollapsed'

function useActivity(doc: Y.Doc): ActivityEntry[] {
  const ref = useRef<ActivityEntry[]>([])
  const subscribe = useCallback(
    (cb: () => void) => {
      const arr = activityArray(doc)
      const on = () => {
        ref.current = listActivity(arr)
        cb()
      }
      arr.observe(on)
      ref.current = listActivity(arr)
      return () => arr.unobserve(on)
    },
    [doc],
  )
  return useSyncExternalStore(subscribe, () => ref.current)
}

/** The room's writes to the cluster, newest first, live from the room document. */
export function ActivityFeed({ doc }: { doc: Y.Doc }) {
  const entries = useActivity(doc)
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem(COLLAPSED_KEY) === '1')
  const toggle = () => {
    localStorage.setItem(COLLAPSED_KEY, collapsed ? '0' : '1')
    setCollapsed(!collapsed)
  }
  return (
    <aside className={`activity${collapsed ? ' collapsed' : ''}`} data-testid="activity-feed" data-count={entries.length}>
      <button className="activity-head" onClick={toggle} title={collapsed ? 'Show what was changed from this room' : 'Hide'}>
        Activity{entries.length ? ` (${entries.length})` : ''} <span className="muted">{collapsed ? '▴' : '▾'}</span>
      </button>
      {!collapsed && (
        <ol className="activity-list">
          {entries.length === 0 && <li className="muted">Changes made to the cluster from this room show up here.</li>}
          {entries.map((e, i) => (
            <li
              key={`${e.at}/${e.user}/${e.verb}/${e.kind}/${e.namespace}/${e.name}/${i}`}
              className={`activity-item result-${e.result}`}
              data-testid="activity-item"
              data-user={e.user}
              data-verb={e.verb}
              data-kind={e.kind}
              data-namespace={e.namespace}
              data-name={e.name}
              data-result={e.result}
              title={e.at}
            >
              <span className="dot" style={{ background: colorFor(e.user) }} />
              <span className="grow">{describeActivity(e)}</span>
              <span className="muted">{age(e.at)}</span>
            </li>
          ))}
        </ol>
      )}
    </aside>
  )
}
