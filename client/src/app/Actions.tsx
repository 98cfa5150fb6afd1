import { useRoom } from './roomContext.ts'
import { useAccess } from './hooks.ts'
import { actionDecision } from './access.ts'
import { kindInfo } from './resources.ts'

export type Action = 'details' | 'logs' | 'shell'

/**
 * The actions on one object. An action the user may not take (per /api/access) is disabled
 * and says why in its tooltip, instead of failing after the click.
 */
export function ActionButtons(props: {
  cluster: string
  resource: string
  namespace: string
  name: string
  compact?: boolean
  testid: string
  onDone?: () => void
}) {
  const { openKrate } = useRoom()
  const access = useAccess(props.cluster, props.namespace)
  const info = kindInfo(props.resource)
  const actions: Action[] = ['details']
  if (info.logs) actions.push('logs')
  if (info.shell) actions.push('shell')
  return (
    <>
      {actions.map((a) => {
        let allowed = true
        let reason = ''
        if (access === null && a !== 'details') {
          allowed = false
          reason = 'checking permissions…'
        } else if (access && access !== 'unknown') {
          const d = actionDecision(access, a, info.resource)
          allowed = d.allowed
          reason = d.reason
        }
        const label = a === 'details' ? 'details' : a
        return (
          <button
            key={a}
            className={props.compact ? 'small' : ''}
            data-testid={props.testid}
            data-action={a}
            disabled={!allowed}
            title={allowed ? `${label}: ${props.namespace ? props.namespace + '/' : ''}${props.name}` : reason}
            data-reason={allowed ? undefined : reason}
            onClick={(e) => {
              e.stopPropagation()
              const kind = a === 'details' ? 'detail' : a
              openKrate(kind, { kind: info.resource, namespace: props.namespace, name: props.name })
              props.onDone?.()
            }}
          >
            {label}
          </button>
        )
      })}
    </>
  )
}
