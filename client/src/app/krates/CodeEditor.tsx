import { useEffect, useEffectEvent, useRef } from 'react'
import { EditorState } from '@codemirror/state'
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers } from '@codemirror/view'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { bracketMatching, foldGutter, foldKeymap, HighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language'
import { yaml } from '@codemirror/lang-yaml'
import { tags as t } from '@lezer/highlight'

// CodeMirror 6 is a separate chunk (about as large as the rest of a room page): only a person
// who opens Edit YAML loads it.

const theme = EditorView.theme(
  {
    '&': { height: '100%', backgroundColor: '#0d1117', color: '#c9d1d9', fontSize: '12px' },
    '.cm-scroller': { fontFamily: "'IBM Plex Mono', ui-monospace, Menlo, monospace", lineHeight: '1.45' },
    '.cm-gutters': { backgroundColor: '#0d1117', color: '#6e7781', border: 'none' },
    '.cm-activeLine': { backgroundColor: '#161b22' },
    '.cm-activeLineGutter': { backgroundColor: '#161b22' },
    '&.cm-focused .cm-cursor': { borderLeftColor: '#4f8cff' },
    '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: '#264f78' },
  },
  { dark: true },
)

const colours = HighlightStyle.define([
  { tag: [t.propertyName, t.definition(t.propertyName)], color: '#79c0ff' },
  { tag: [t.string, t.special(t.string), t.content], color: '#a5d6ff' },
  { tag: [t.number, t.bool, t.null, t.atom], color: '#ffa657' },
  { tag: [t.comment, t.lineComment], color: '#8b949e', fontStyle: 'italic' },
  { tag: [t.keyword, t.typeName, t.labelName, t.meta], color: '#ff7b72' },
  { tag: [t.punctuation, t.separator, t.squareBracket, t.brace], color: '#8b949e' },
])

export interface CodeEditorProps {
  /** The text to show; a new value replaces what is in the editor (Reload). */
  value: string
  onChange: (text: string) => void
  readOnly?: boolean
}

/** A YAML editor (syntax colours, line numbers, folding, undo). */
export default function CodeEditor({ value, onChange, readOnly = false }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const change = useEffectEvent(onChange)
  // The text the editor starts with; later values are applied by the effect below.
  const initial = useEffectEvent(() => value)

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: initial(),
        extensions: [
          lineNumbers(),
          foldGutter(),
          highlightSpecialChars(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          highlightActiveLineGutter(),
          keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...foldKeymap]),
          yaml(),
          syntaxHighlighting(colours),
          theme,
          EditorState.readOnly.of(readOnly),
          // The test id sits on the editable element itself, so tests can click, type into and fill it.
          EditorView.contentAttributes.of({ 'data-testid': 'yaml-editor', 'aria-label': 'YAML' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) change(u.state.doc.toString())
          }),
        ],
      }),
    })
    view.current = v
    return () => {
      v.destroy()
      view.current = null
    }
  }, [readOnly])

  useEffect(() => {
    const v = view.current
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } })
  }, [value])

  return <div className="code-editor" ref={host} />
}
