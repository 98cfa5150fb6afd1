// The deploy review panel: the room's newest deploy (everyone sees it open when one is
// proposed), its plan row by row with diffs and errors, approvals, the policy, the actions the
// server would accept now (disabled with the reason otherwise), live per-node status, and the
// history with Rollback.
import { Fragment, useEffect, useEffectEvent, useRef, useState } from 'react'
import { can, WRITES_DISABLED } from '../access.ts'
import { useAccess } from '../hooks.ts'
import { deployActions, parsePolicy, rollbackAction, type Deploy, type Enabled, type Policy, type Viewer } from './deployModel.ts'
import { errorText as errText, wfApi } from './api.ts'
import { useWorkflow } from './editor.tsx'
import { workflowMap } from './model.ts'

/**
 * Whether the user may change objects in the namespace (RBAC, from /api/access; while loading or
 * unknown the server decides), and whether the server takes cluster writes at all.
 */
function useCanWrite(cluster: string, namespace: string): { rbac: Enabled; writes: Enabled } {
  const access = useAccess(cluster, namespace)
  const ok = { ok: true, reason: '' }
  if (!access || access === 'unknown') return { rbac: ok, writes: ok }
  const writes = access.writeEnabled === false ? { ok: false, reason: WRITES_DISABLED } : ok
  // RBAC alone (the write switch is the apply's business): patch and create Deployments.
  const denied = [can(access, 'patch', 'deployments'), can(access, 'create', 'deployments')].find((d) => !d.allowed)
  const rbac = denied ? { ok: false, reason: denied.reason.replace(/ here$/, ` in ${namespace}`) } : ok
  return { rbac, writes }
}

export function DeployPanel({ open, setOpen, proposals }: { open: boolean; setOpen: (o: boolean) => void; proposals: number }) {
  const wf = useWorkflow()
  const { room, deploys, user, cluster, doc } = wf
  const newest = deploys[0] ?? null
  const [policy, setPolicy] = useState<Policy>({ approvals: 0, fourEyes: false })
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  const [expanded, setExpanded] = useState<Set<string>>(new Set())
  const ns = String(workflowMap(doc).get('namespace') ?? '') || 'default'
  const { rbac: canWrite, writes } = useCanWrite(newest?.cluster || cluster, ns)
  const viewer: Viewer = { user: user.id, canWrite, writes }

  // A deploy proposed by anyone opens the panel for everyone in the room.
  const seen = useRef<string | null | undefined>(undefined)
  const newestId = newest?.id ?? null
  const newestState = newest?.state
  useEffect(() => {
    if (seen.current !== undefined && newestId && newestId !== seen.current && (newestState === 'planned' || newestState === 'applying')) setOpen(true)
    seen.current = newestId
  }, [newestId, newestState, setOpen])

  useEffect(() => {
    if (!open) return
    wfApi.policy(room).then((b) => setPolicy(parsePolicy(b)), () => {})
  }, [open, room, newest?.id])

  const run = async (f: () => Promise<unknown>) => {
    setBusy(true)
    setErr('')
    try {
      await f()
    } catch (e) {
      setErr(errText(e))
    } finally {
      setBusy(false)
    }
  }
  const propose = () => run(() => wfApi.propose(room, cluster))

  // The Deploy button proposes a new deploy unless one is under review already.
  const proposeUnlessOpen = useEffectEvent(() => {
    if (!newest || !['planned', 'approved', 'applying'].includes(newest.state)) void propose()
  })
  const lastProposal = useRef(proposals)
  useEffect(() => {
    if (proposals === lastProposal.current) return
    lastProposal.current = proposals
    proposeUnlessOpen()
  }, [proposals])

  if (!open) return null
  const acts = newest ? deployActions(newest, policy, viewer, busy) : null
  const openDeploy = newest && ['planned', 'approved', 'applying'].includes(newest.state)
  return (
    <section className="wf-deploy" data-testid="deploy-panel" onPointerDown={(e) => e.stopPropagation()}>
      <div className="wf-deploy-head">
        <strong>Deploy</strong>
        {newest ? (
          <>
            <span className="wf-state" data-testid="deploy-state" data-state={newest.state}>{newest.state}</span>
            <span className="muted">
              {newest.id} by {newest.proposer || 'someone'} {newest.cluster && `to ${newest.cluster}`} {newest.createdAt && `· ${newest.createdAt}`}
            </span>
          </>
        ) : (
          <span className="muted">No deploy yet in this room</span>
        )}
        <span className="spacer" />
        {!openDeploy && (
          <button data-testid="deploy-propose" disabled={busy || !canWrite.ok} title={canWrite.ok ? 'Plan a deploy of the current workflow' : canWrite.reason} onClick={() => void propose()}>
            Plan deploy
          </button>
        )}
        <button className="icon" title="Close" onClick={() => setOpen(false)}>×</button>
      </div>
      <div className="wf-deploy-body">
        {err && <div className="error" data-testid="deploy-error">{err}</div>}
        {newest && acts && (
          <>
            {newest.state === 'invalidated' && (
              <div className="notice" data-testid="deploy-invalidated">
                This plan is out of date: {newest.reason || 'the workflow changed after it was planned'}.{' '}
                <Act testid="deploy-replan" label="Replan" e={acts.replan} onClick={() => void propose()} />
              </div>
            )}
            <table className="wf-plan">
              <tbody>
                {newest.plan.map((r) => {
                  const st = newest.nodes.get(r.nodeId)
                  const key = newest.id + r.nodeId
                  return (
                    <Fragment key={r.nodeId}>
                      <tr data-testid="plan-row" data-node-id={r.nodeId} data-action={r.action} data-status={st?.status ?? ''}>
                        <td className={`wf-action-${r.action}`}>{r.action}</td>
                        <td>{r.kind}</td>
                        <td>{r.namespace}/{r.name}</td>
                        <td className={`status-${st?.status ?? ''}`} title={st?.message}>{st ? st.status : ''}</td>
                        <td>
                          {r.diff && (
                            <button className="small" onClick={() => setExpanded((s) => { const n = new Set(s); if (n.has(key)) n.delete(key); else n.add(key); return n })}>
                              {expanded.has(key) ? 'hide diff' : 'diff'}
                            </button>
                          )}
                        </td>
                      </tr>
                      {r.error && (
                        <tr><td colSpan={5} className="error" data-testid="plan-error" data-node-id={r.nodeId}>{r.error}</td></tr>
                      )}
                      {expanded.has(key) && r.diff && (
                        <tr><td colSpan={5}><pre className="wf-diff" data-testid="plan-diff" data-node-id={r.nodeId}>
                          {r.diff.split('\n').map((l, i) => (
                            <div key={i} className={l.startsWith('+') && !l.startsWith('+++') ? 'diff-add' : l.startsWith('-') && !l.startsWith('---') ? 'diff-del' : undefined}>{l}</div>
                          ))}
                        </pre></td></tr>
                      )}
                    </Fragment>
                  )
                })}
              </tbody>
            </table>
            <div className="muted" data-testid="deploy-approvals">
              Approvals {acts.counted}/{acts.required}
              {policy.fourEyes && ' · four-eyes (the proposer\'s own approval does not count)'}
              {newest.approvals.map((a) => (
                <span key={a.user} className="chip" data-testid="deploy-approval" data-user={a.user}>{a.user} {a.at}</span>
              ))}
            </div>
            <div className="wf-actions">
              <Act testid="deploy-approve" label="Approve" e={acts.approve} onClick={() => void run(() => wfApi.act(room, newest.id, 'approve'))} />
              <Act testid="deploy-reject" label="Reject" e={acts.reject} onClick={() => void run(() => wfApi.act(room, newest.id, 'reject'))} />
              <Act testid="deploy-apply" label="Apply" e={acts.apply} onClick={() => void run(() => wfApi.act(room, newest.id, 'apply'))} />
              <Act testid="deploy-cancel" label="Cancel" e={acts.cancel} onClick={() => void run(() => wfApi.act(room, newest.id, 'cancel'))} />
            </div>
          </>
        )}
        {deploys.length > 0 && <History deploys={deploys} viewer={viewer} busy={busy} onRollback={(d) => void run(() => wfApi.act(room, d.id, 'rollback'))} />}
      </div>
    </section>
  )
}

function Act({ testid, label, e, onClick }: { testid: string; label: string; e: Enabled; onClick: () => void }) {
  return (
    <span className="wf-act">
      <button data-testid={testid} disabled={!e.ok} title={e.ok ? label : e.reason} onClick={onClick}>{label}</button>
      {!e.ok && e.reason && <span className="wf-reason" data-testid={`${testid}-reason`}> {e.reason}</span>}
    </span>
  )
}

function History({ deploys, viewer, busy, onRollback }: { deploys: Deploy[]; viewer: Viewer; busy: boolean; onRollback: (d: Deploy) => void }) {
  return (
    <details data-testid="deploy-history">
      <summary>History ({deploys.length})</summary>
      <table className="wf-plan">
        <tbody>
          {deploys.map((d) => {
            const rb = rollbackAction(d, deploys, viewer, busy)
            return (
              <tr key={d.id} data-deploy-id={d.id} data-state={d.state}>
                <td>{d.id}</td>
                <td>{d.state}</td>
                <td>{d.proposer}</td>
                <td>{d.finishedAt || d.createdAt}</td>
                <td>
                  <button className="small" data-testid="deploy-rollback" data-deploy-id={d.id} disabled={!rb.ok} title={rb.ok ? 'Roll back to this deploy' : rb.reason} onClick={() => onRollback(d)}>
                    Rollback
                  </button>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </details>
  )
}
