// The editor's panels over the canvas: the palette (nodes of every kind, templates, compose
// import), undo/redo, the inspector of the selected node, and the deploy panel.
import { useEffect, useMemo, useState, type ReactNode } from 'react'
import * as Y from 'yjs'
import { textOn, initials } from '../colors.ts'
import type { Peer } from '../presence.ts'
import {
  addNode, entriesOf, LOCAL, workflowMap, FIELDS, formatList, joinImage, NODE_KINDS, nodesMap, parseList, parseNumber, readNode, renameEntry, setEntry, setField, splitImage,
  type FieldSpec, type MapField, type WfNode,
} from './model.ts'
import { fieldErrors } from './validation.ts'
import { kindIcon, useNode } from './WorkflowLayer.tsx'
import { errorText as errText, unmappedOf, wfApi } from './api.ts'
import { useWorkflow } from './editor.tsx'
import { useLatest } from '../hooks.ts'
import { DeployPanel } from './DeployPanel.tsx'

const TEMPLATES = ['web-app', 'worker', 'cron-job'] as const
const DRAG_TYPE = 'application/x-yard-workflow'

export function WorkflowPanels({ peers }: { peers: Peer[] }) {
  const wf = useWorkflow()
  const single = wf.selection.nodes.size === 1 ? [...wf.selection.nodes][0]! : null
  const [deployOpen, setDeployOpen] = useState(false)
  const [proposals, setProposals] = useState(0)
  return (
    <>
      <Palette onDeploy={() => { setDeployOpen(true); setProposals((n) => n + 1) }} />
      {single && <Inspector key={single} id={single} peers={peers} />}
      <DeployPanel open={deployOpen} setOpen={setDeployOpen} proposals={proposals} />
    </>
  )
}

/** A free name for a template (its short name, numbered when taken). */
function templateName(doc: Y.Doc, template: string): string {
  const base = template === 'web-app' ? 'web' : template === 'cron-job' ? 'cron' : template
  const taken = new Set<string>()
  nodesMap(doc)?.forEach((m, id) => taken.add(readNode(id, m).name))
  if (!taken.has(base)) return base
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`
}

function Palette({ onDeploy }: { onDeploy: () => void }) {
  const wf = useWorkflow()
  const { doc, room } = wf
  const [msg, setMsg] = useState<{ text: string; bad: boolean } | null>(null)
  const [unmapped, setUnmapped] = useState<string[] | null>(null)
  const [busy, setBusy] = useState(false)
  const [tplName, setTplName] = useState('')

  const insertTemplate = async (t: string, at = wf.insertPoint()) => {
    setBusy(true)
    try {
      await wfApi.insertTemplate(room, t, tplName || templateName(doc, t), at.x, at.y)
      setMsg(null)
    } catch (e) {
      setMsg({ text: errText(e), bad: true })
    } finally {
      setBusy(false)
    }
  }
  const importCompose = async (file: File, at = wf.insertPoint()) => {
    setBusy(true)
    try {
      const body = await wfApi.importCompose(room, await file.text(), at.x, at.y)
      const nodes = (body as { nodes?: unknown[] } | null)?.nodes
      setMsg({ text: `Imported ${file.name}: ${Array.isArray(nodes) ? nodes.length : 0} nodes`, bad: false })
      setUnmapped(unmappedOf(body))
    } catch (e) {
      setMsg({ text: errText(e), bad: true })
      setUnmapped(null)
    } finally {
      setBusy(false)
    }
  }
  const add = (kind: string, at = wf.insertPoint()) => {
    const id = addNode(doc, kind, at.x, at.y)
    if (id) wf.select({ nodes: new Set([id]), edge: null })
    else setMsg({ text: 'The workflow in this room is malformed: nodes is not a map', bad: true })
  }

  // Palette items and compose files dropped on the canvas land where they are dropped.
  const handlers = useLatest({ add, insertTemplate, importCompose })
  const toWorld = wf.toWorld
  useEffect(() => {
    const el = document.querySelector<HTMLElement>('[data-testid="canvas"]')
    if (!el) return
    const over = (e: DragEvent) => {
      if (e.dataTransfer && (e.dataTransfer.types.includes(DRAG_TYPE) || e.dataTransfer.types.includes('Files'))) e.preventDefault()
    }
    const drop = (e: DragEvent) => {
      const dt = e.dataTransfer
      if (!dt) return
      const at = toWorld(e.clientX, e.clientY) ?? undefined
      const item = dt.getData(DRAG_TYPE)
      if (item) {
        e.preventDefault()
        const [what, name] = item.split(':', 2) as [string, string]
        if (what === 'kind') handlers.current.add(name, at)
        else handlers.current.insertTemplate(name, at)
      } else if (dt.files.length) {
        e.preventDefault()
        void handlers.current.importCompose(dt.files[0]!, at)
      }
    }
    el.addEventListener('dragover', over)
    el.addEventListener('drop', drop)
    return () => {
      el.removeEventListener('dragover', over)
      el.removeEventListener('drop', drop)
    }
  }, [toWorld, handlers])

  return (
    <aside className="wf-palette" data-testid="workflow-palette" onPointerDown={(e) => e.stopPropagation()}>
      <h3>Add</h3>
      <div className="wf-palette-list">
        {Object.keys(NODE_KINDS).sort(kindOrder).map((k) => {
          const icon = kindIcon(k)
          return (
            <button key={k} data-testid="palette-item" data-kind={k} draggable title={`Add a ${k} (or drag it onto the canvas)`}
              onDragStart={(e) => e.dataTransfer.setData(DRAG_TYPE, `kind:${k}`)} onClick={() => add(k)}>
              <span className="wf-kind" style={{ background: icon.color, color: textOn(icon.color) }}>{icon.label}</span>
              {k}
            </button>
          )
        })}
      </div>
      <h3>Namespace</h3>
      <div className="wf-import">
        <WorkflowNamespace />
      </div>
      <h3>Templates</h3>
      <div className="wf-import">
        <input data-testid="template-name" value={tplName} placeholder="name (default: web, worker, cron)" onChange={(e) => setTplName(e.target.value.trim())} />
      </div>
      <div className="wf-palette-list">
        {TEMPLATES.map((t) => (
          <button key={t} data-testid="template-insert" data-template={t} draggable disabled={busy} title={`Insert ${t} at the pointer (or drag it onto the canvas)`}
            onDragStart={(e) => e.dataTransfer.setData(DRAG_TYPE, `template:${t}`)} onClick={() => void insertTemplate(t)}>
            {t}
          </button>
        ))}
      </div>
      <h3>Import</h3>
      <div className="wf-import">
        <label className="wf-file button" title="Import a docker-compose.yaml (or drop it on the canvas)">
          <button tabIndex={-1} disabled={busy} style={{ width: '100%' }}>docker-compose.yaml…</button>
          <input type="file" data-testid="compose-import" accept=".yaml,.yml,text/yaml,application/yaml" disabled={busy}
            onChange={(e) => {
              const f = e.target.files?.[0]
              e.target.value = ''
              if (f) void importCompose(f)
            }} />
        </label>
        {msg && <div className={msg.bad ? 'error' : 'muted'} data-testid="palette-message">{msg.text}</div>}
        {unmapped && unmapped.length > 0 && (
          <>
            <span className="notice">Not mapped:</span>
            <ul className="wf-unmapped" data-testid="compose-unmapped">
              {unmapped.map((u, i) => <li key={i}>{u}</li>)}
            </ul>
          </>
        )}
      </div>
      <div className="wf-toolbar">
        <button data-testid="undo" disabled={!wf.canUndo} title="Undo your last change (Ctrl+Z)" onClick={() => wf.undo.undo()}>↶ Undo</button>
        <button data-testid="redo" disabled={!wf.canRedo} title="Redo (Ctrl+Shift+Z)" onClick={() => wf.undo.redo()}>↷ Redo</button>
      </div>
      <div className="wf-toolbar">
        <button data-testid="deploy-open" className="active" disabled={wf.nodeCount === 0} title={wf.nodeCount ? 'Plan a deploy of this workflow and review it together' : 'Add nodes first'} onClick={onDeploy}>Deploy…</button>
      </div>
    </aside>
  )
}

/** The workflow's default namespace (a plain field of the root: last writer wins, no nested map). */
function WorkflowNamespace() {
  const { doc, focusField } = useWorkflow()
  const [ns, setNs] = useState(() => String(workflowMap(doc).get('namespace') ?? ''))
  useEffect(() => {
    const wf = workflowMap(doc)
    const on = () => setNs(typeof wf.get('namespace') === 'string' ? (wf.get('namespace') as string) : '')
    wf.observe(on)
    on()
    return () => wf.unobserve(on)
  }, [doc])
  return (
    <Draft value={ns} placeholder="default" data-testid="wf-namespace" onFocus={() => focusField(null)}
      onChange={(t) => doc.transact(() => (t ? workflowMap(doc).set('namespace', t) : workflowMap(doc).delete('namespace')), LOCAL)} />
  )
}

const ORDER = ['Deployment', 'StatefulSet', 'Job', 'CronJob', 'Service', 'Ingress', 'ConfigMap', 'SecretRef', 'PersistentVolumeClaim']
const kindOrder = (a: string, b: string) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b)

function Inspector({ id, peers }: { id: string; peers: Peer[] }) {
  const wf = useWorkflow()
  const { doc, validation } = wf
  const n = useNode(doc, id)
  if (!n) return null
  const specs: FieldSpec[] = [{ field: 'name', type: 'string', required: true }, { field: 'namespace', type: 'string', placeholder: 'workflow default' }, ...(FIELDS[n.kind] ?? [])]
  const others = peers.filter((p) => p.wfFocus?.nodeId === id && p.wfFocus.field)
  const own = fieldErrors(validation, id, '').concat(fieldErrors(validation, id, 'kind'))
  const icon = kindIcon(n.kind)
  return (
    <aside className="wf-inspector" data-testid="wf-inspector" data-node-id={id} onPointerDown={(e) => e.stopPropagation()}>
      <h3>
        <span className="wf-kind" style={{ background: icon.color, color: textOn(icon.color) }}>{icon.label}</span> {n.kind || 'unknown kind'}
      </h3>
      <div className="wf-inspector-body">
        {own.map((e, i) => <div key={i} className="error" data-testid="wf-error" data-field="">{e.message}</div>)}
        {specs.map((s) => (
          <Field key={s.field} node={n} spec={s} peers={others.filter((p) => p.wfFocus!.field === s.field)} />
        ))}
        <button className="danger" data-testid="wf-node-delete" onClick={() => wf.deleteSelected()}>Delete node</button>
      </div>
    </aside>
  )
}

function Field({ node, spec, peers }: { node: WfNode; spec: FieldSpec; peers: Peer[] }) {
  const wf = useWorkflow()
  const errs = fieldErrors(wf.validation, node.id, spec.field)
  const color = peers[0]?.color
  const onFocus = () => wf.focusField(node.id, spec.field)
  const onBlur = () => wf.focusField(node.id, '')
  let input: ReactNode
  const v = node.fields[spec.field]
  const write = (value: unknown) => setField(wf.doc, node.id, spec.field, value)
  switch (spec.type) {
    case 'number':
      input = <Draft value={typeof v === 'number' ? String(v) : v === undefined ? '' : String(v)} inputMode="numeric" placeholder={spec.placeholder} onFocus={onFocus} onBlur={onBlur} onChange={(t) => write(parseNumber(t))} />
      break
    case 'select':
      input = (
        <select value={typeof v === 'string' ? v : ''} onFocus={onFocus} onBlur={onBlur} onChange={(e) => write(e.target.value || undefined)}>
          <option value="">{spec.options?.[0]} (default)</option>
          {spec.options?.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      )
      break
    case 'image': {
      const img = splitImage(typeof v === 'string' ? v : '')
      input = (
        <div className="wf-row">
          <Draft className="key" data-part="repo" value={img.repo} placeholder="image" onFocus={onFocus} onBlur={onBlur} onChange={(t) => write(joinImage(t, splitImage(String(node.fields.image ?? '')).tag) || undefined)} />
          <Draft className="val" data-part="tag" value={img.tag} placeholder="tag" onFocus={onFocus} onBlur={onBlur} onChange={(t) => write(joinImage(splitImage(String(node.fields.image ?? '')).repo, t) || undefined)} />
        </div>
      )
      break
    }
    case 'list':
      input = <Draft value={formatList(v)} placeholder={spec.placeholder ?? 'comma separated'} onFocus={onFocus} onBlur={onBlur} onChange={(t) => write(t.trim() ? parseList(spec.field, t) : undefined)} />
      break
    case 'map':
      input = <Entries node={node} field={spec.field as MapField} onFocus={onFocus} onBlur={onBlur} />
      break
    default:
      input = <Draft value={typeof v === 'string' ? v : v === undefined ? '' : String(v)} placeholder={spec.placeholder} onFocus={onFocus} onBlur={onBlur}
        onChange={(t) => write(spec.field === 'targetPort' ? (t === '' ? undefined : /^\d+$/.test(t) ? Number(t) : t) : t === '' && !spec.required ? undefined : t)} />
  }
  return (
    <div className={`wf-field${errs.length ? ' has-error' : ''}${color ? ' remote-focus' : ''}`} data-testid="wf-field" data-field={spec.field} style={color ? ({ '--focus-color': color } as React.CSSProperties) : undefined}>
      <span className="label">
        {spec.field}
        {spec.required && ' *'}
        {peers.map((p) => (
          <span key={p.clientId} className="wf-field-who" data-testid="wf-field-focus" data-user={p.userId} style={{ background: p.color, color: textOn(p.color) }} title={`${p.name} is editing this`}>
            {initials(p.name)}
          </span>
        ))}
      </span>
      {input}
      {errs.map((e, i) => (
        <span key={i} className="wf-err" data-testid="wf-error" data-node-id={node.id} data-field={spec.field} data-code={e.code}>{e.message}</span>
      ))}
    </div>
  )
}

/** Key/value entries, each written on its own (two people editing different entries both keep theirs). */
function Entries({ node, field, onFocus, onBlur }: { node: WfNode; field: MapField; onFocus: () => void; onBlur: () => void }) {
  const { doc } = useWorkflow()
  const rows = useMemo(() => entriesOf(node.fields[field]), [node.fields, field])
  const [k, setK] = useState('')
  const [v, setV] = useState('')
  const addRow = () => {
    if (!k.trim()) return
    setEntry(doc, node.id, field, k.trim(), v)
    setK('')
    setV('')
  }
  return (
    <div className="wf-entries">
      {rows.map(([key, val]) => (
        <div className="wf-row" key={key} data-entry={key}>
          <Draft className="key" data-key={key} data-part="key" value={key} onFocus={onFocus} onBlur={onBlur} commitOnBlur onChange={(t) => t.trim() && renameEntry(doc, node.id, field, key, t.trim())} />
          <Draft className="val" data-key={key} data-part="value" value={val} onFocus={onFocus} onBlur={onBlur} onChange={(t) => setEntry(doc, node.id, field, key, t)} />
          <button className="icon" title={`Remove ${key}`} data-testid="wf-entry-remove" onClick={() => setEntry(doc, node.id, field, key, null)}>×</button>
        </div>
      ))}
      <div className="wf-row">
        <input className="key" data-new="key" value={k} placeholder={field === 'resources' ? 'cpu' : 'KEY'} onFocus={onFocus} onBlur={onBlur} onChange={(e) => setK(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && addRow()} />
        <input className="val" data-new="value" value={v} placeholder="value" onFocus={onFocus} onBlur={onBlur} onChange={(e) => setV(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && addRow()} />
        <button className="icon" data-testid="wf-entry-add" title="Add" onClick={addRow}>+</button>
      </div>
    </div>
  )
}

type DraftProps = {
  value: string
  onChange: (t: string) => void
  onFocus?: () => void
  onBlur?: () => void
  /** Write once on blur (and Enter) instead of on every keystroke (renames). */
  commitOnBlur?: boolean
  placeholder?: string
  className?: string
  inputMode?: 'numeric'
  'data-key'?: string
  'data-part'?: string
  'data-testid'?: string
}

/**
 * A text input that shows the document's value until focused, then the person's own draft, so a
 * remote change never moves their caret; every keystroke is written (others see it live).
 */
function Draft({ value, onChange, onFocus, onBlur, commitOnBlur, ...rest }: DraftProps) {
  const [draft, setDraft] = useState<string | null>(null)
  const commit = () => {
    if (commitOnBlur && draft !== null && draft !== value) onChange(draft)
  }
  return (
    <input
      {...rest}
      value={draft ?? value}
      onFocus={() => {
        setDraft(value)
        onFocus?.()
      }}
      onBlur={() => {
        commit()
        setDraft(null)
        onBlur?.()
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit()
      }}
      onChange={(e) => {
        setDraft(e.target.value)
        if (!commitOnBlur) onChange(e.target.value)
      }}
    />
  )
}
