import { useEffect, useEffectEvent } from 'react'

export interface Shortcuts {
  /** Ctrl+K (Cmd+K): open or close the spotlight. */
  toggleSpotlight: () => void
  /** Escape. */
  closeSpotlight: () => void
}

/**
 * The room page's keyboard shortcuts, on the whole window. (The workflow editor's Delete and
 * undo/redo keys are the editor's: workflow/editor.tsx.)
 */
export function useShortcuts(s: Shortcuts): void {
  const onKey = useEffectEvent((e: KeyboardEvent) => {
    // Inside a terminal Ctrl+K belongs to the shell (kill to end of line).
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k' && !(e.target as HTMLElement | null)?.closest?.('.xterm')) {
      e.preventDefault()
      s.toggleSpotlight()
    } else if (e.key === 'Escape') s.closeSpotlight()
  })
  useEffect(() => {
    const on = (e: KeyboardEvent) => onKey(e)
    addEventListener('keydown', on)
    return () => removeEventListener('keydown', on)
  }, [])
}
