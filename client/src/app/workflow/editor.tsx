// The workflow editor's shared state for one room: selection, the server's validation, deploy
// statuses, this person's undo manager, the last pointer position on the canvas, and the
// awareness focus. The canvas layer, palette, inspector and deploy panel read it from context.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import * as Y from 'yjs'
import type { SyncProvider } from '../syncProvider.ts'
import type { User } from '../api.ts'
import { listNodes, removeEdge, removeNodes, workflowMap } from './model.ts'
import { ownUndoManager } from './undo.ts'
import { EMPTY_VALIDATION, parseValidation, type Validation } from './validation.ts'
import { listDeploys, nodeStatuses, type Deploy } from './deployModel.ts'
import type { NodeStatus } from './model.ts'
import { wfApi } from './api.ts'
import { useLatest } from '../hooks.ts'

export interface Selection {
  nodes: ReadonlySet<string>
  edge: string | null
}

export interface WorkflowEditor {
  room: string
  doc: Y.Doc
  provider: SyncProvider
  user: User
  cluster: string
  selection: Selection
  select: (s: Partial<Selection>) => void
  /** Toggles a node in the selection (shift-click) or selects it alone. */
  pick: (id: string, add: boolean) => void
  clear: () => void
  deleteSelected: () => void
  validation: Validation
  statuses: Map<string, NodeStatus>
  deploys: Deploy[]
  undo: Y.UndoManager
  canUndo: boolean
  canRedo: boolean
  /** Where a new node goes: the last pointer position on the canvas, else the view's centre. */
  insertPoint: () => { x: number; y: number }
  toWorld: (clientX: number, clientY: number) => { x: number; y: number } | null
  focusField: (nodeId: string | null, field?: string) => void
  nodeCount: number
}

const Ctx = createContext<WorkflowEditor | null>(null)

export function useWorkflow(): WorkflowEditor {
  const v = useContext(Ctx)
  if (!v) throw new Error('useWorkflow outside WorkflowProvider')
  return v
}

/** The same, or null outside a provider (the canvas works without the editor). */
export const useWorkflowMaybe = (): WorkflowEditor | null => useContext(Ctx)

const VALIDATE_DEBOUNCE_MS = 400

export function isEditable(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null
  return !!el?.closest?.('input, textarea, select, [contenteditable="true"], .xterm')
}

interface Props {
  room: string
  doc: Y.Doc
  provider: SyncProvider
  user: User
  cluster: string
  toWorld: (clientX: number, clientY: number) => { x: number; y: number } | null
  viewCentre: () => { x: number; y: number }
  children: ReactNode
}

export function WorkflowProvider({ room, doc, provider, user, cluster, toWorld, viewCentre, children }: Props) {
  const [selection, setSelection] = useState<Selection>({ nodes: new Set(), edge: null })
  const [validation, setValidation] = useState<Validation>(EMPTY_VALIDATION)
  const [deploys, setDeploys] = useState<Deploy[]>([])
  const [nodeCount, setNodeCount] = useState(0)
  const undo = useMemo(() => ownUndoManager(doc), [doc])
  const [stacks, setStacks] = useState({ u: 0, r: 0 })
  useEffect(() => {
    const on = () => setStacks({ u: undo.undoStack.length, r: undo.redoStack.length })
    undo.on('stack-item-added', on)
    undo.on('stack-item-popped', on)
    undo.on('stack-cleared', on)
    return () => undo.destroy()
  }, [undo])

  // The server's validation, refetched a moment after the workflow changes.
  useEffect(() => {
    const wf = workflowMap(doc)
    let timer: ReturnType<typeof setTimeout> | undefined
    let seq = 0
    let alive = true
    const fetchNow = () => {
      const mine = ++seq
      wfApi.validation(room).then(
        (b) => alive && mine === seq && setValidation(parseValidation(b)),
        () => {},
      )
    }
    const on = () => {
      setNodeCount(listNodes(doc).length)
      clearTimeout(timer)
      timer = setTimeout(fetchNow, VALIDATE_DEBOUNCE_MS)
    }
    wf.observeDeep(on)
    const offSynced = provider.onSynced(on)
    on()
    return () => {
      alive = false
      clearTimeout(timer)
      wf.unobserveDeep(on)
      offSynced()
    }
  }, [doc, room, provider])

  useEffect(() => {
    const m = doc.getMap('deploys')
    const on = () => setDeploys(listDeploys(doc))
    m.observeDeep(on)
    on()
    return () => m.unobserveDeep(on)
  }, [doc])
  const statuses = useMemo(() => nodeStatuses(deploys), [deploys])

  // The last pointer position over the canvas, for inserting "at the pointer".
  const pointer = useRef<{ x: number; y: number } | null>(null)
  const toWorldRef = useLatest(toWorld)
  const centreRef = useLatest(viewCentre)
  useEffect(() => {
    const el = document.querySelector<HTMLElement>('[data-testid="canvas"]')
    if (!el) return
    const on = (e: PointerEvent) => {
      pointer.current = toWorldRef.current(e.clientX, e.clientY)
    }
    el.addEventListener('pointermove', on)
    return () => el.removeEventListener('pointermove', on)
  }, [toWorldRef])
  const insertPoint = useCallback(() => pointer.current ?? centreRef.current(), [centreRef])
  const toWorldStable = useCallback((x: number, y: number) => toWorldRef.current(x, y), [toWorldRef])

  const focusField = useCallback(
    (nodeId: string | null, field = '') => {
      const cur = provider.awareness.getLocalState()?.wfFocus as { nodeId: string; field: string } | null | undefined
      const next = nodeId ? { nodeId, field } : null
      if (JSON.stringify(cur ?? null) === JSON.stringify(next)) return
      provider.awareness.setLocalStateField('wfFocus', next)
    },
    [provider],
  )

  const select = useCallback((s: Partial<Selection>) => setSelection((cur) => ({ ...cur, ...s })), [])
  const pick = useCallback((id: string, add: boolean) => {
    setSelection((cur) => {
      if (!add) return cur.nodes.size === 1 && cur.nodes.has(id) && !cur.edge ? cur : { nodes: new Set([id]), edge: null }
      const n = new Set(cur.nodes)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return { nodes: n, edge: null }
    })
  }, [])
  const clear = useCallback(() => setSelection((cur) => (cur.nodes.size === 0 && !cur.edge ? cur : { nodes: new Set(), edge: null })), [])
  const selRef = useLatest(selection)
  const deleteSelected = useCallback(() => {
    const s = selRef.current
    if (s.edge) removeEdge(doc, s.edge)
    if (s.nodes.size) removeNodes(doc, [...s.nodes])
    setSelection({ nodes: new Set(), edge: null })
  }, [doc, selRef])

  // The selected node is this person's focus (for others' awareness) until a field is focused.
  const single = selection.nodes.size === 1 ? [...selection.nodes][0]! : null
  useEffect(() => {
    const cur = provider.awareness.getLocalState()?.wfFocus as { nodeId: string } | null | undefined
    if ((cur?.nodeId ?? null) !== single) focusField(single)
  }, [single, provider, focusField])

  // Delete removes the selection; Ctrl+Z undoes and Ctrl+Shift+Z (or Ctrl+Y) redoes one's own changes.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isEditable(e.target)) return
      const mod = e.ctrlKey || e.metaKey
      if ((e.key === 'Delete' || e.key === 'Backspace') && !mod) {
        const s = selRef.current
        if (s.nodes.size || s.edge) {
          e.preventDefault()
          deleteSelected()
        }
      } else if (mod && e.key.toLowerCase() === 'z') {
        e.preventDefault()
        if (e.shiftKey) undo.redo()
        else undo.undo()
      } else if (mod && e.key.toLowerCase() === 'y') {
        e.preventDefault()
        undo.redo()
      }
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [undo, deleteSelected, selRef])

  const value = useMemo<WorkflowEditor>(
    () => ({
      room, doc, provider, user, cluster, selection, select, pick, clear, deleteSelected, validation, statuses, deploys, undo,
      canUndo: stacks.u > 0, canRedo: stacks.r > 0, insertPoint, toWorld: toWorldStable, focusField, nodeCount,
    }),
    [room, doc, provider, user, cluster, selection, select, pick, clear, deleteSelected, validation, statuses, deploys, undo, stacks, insertPoint, toWorldStable, focusField, nodeCount],
  )
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}
