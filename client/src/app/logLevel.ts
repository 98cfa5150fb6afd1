// Log lines are colourised by level. Containers log in many formats, so the level is found by
// looking at the usual places in order: a structured field, a klog prefix, then a level word.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'plain'

const JSON_LEVEL = /"(?:level|lvl|severity)"\s*:\s*"([a-z]+)"/i
const LOGFMT_LEVEL = /\b(?:level|lvl|severity)=([a-z]+)/i
// klog/glog: "E1125 07:43:17.123456 ..." (Error, Warning, Info, Fatal).
const KLOG = /^([EWIF])\d{4} \d{2}:\d{2}:\d{2}/
const WORD = /\b(FATAL|PANIC|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b/i

function fromWord(w: string): LogLevel {
  switch (w.toLowerCase()) {
    case 'fatal': case 'panic': case 'critical': case 'crit': case 'error': case 'err': case 'e': case 'f':
      return 'error'
    case 'warning': case 'warn': case 'w':
      return 'warn'
    case 'info': case 'notice': case 'i':
      return 'info'
    case 'debug': case 'trace':
      return 'debug'
    default:
      return 'plain'
  }
}

export function classify(line: string): LogLevel {
  let m = JSON_LEVEL.exec(line) ?? LOGFMT_LEVEL.exec(line)
  if (m) {
    const l = fromWord(m[1]!)
    if (l !== 'plain') return l
  }
  m = KLOG.exec(line)
  if (m) return fromWord(m[1]!)
  m = WORD.exec(line)
  return m ? fromWord(m[1]!) : 'plain'
}

/** Case-insensitive substring search; an empty query matches everything. */
export function matches(line: string, query: string): boolean {
  if (query === '') return true
  return line.toLowerCase().includes(query.toLowerCase())
}

/** Splits text around every case-insensitive occurrence of query, for highlighting. */
export function splitMatches(text: string, query: string): { text: string; hit: boolean }[] {
  if (query === '') return [{ text, hit: false }]
  const out: { text: string; hit: boolean }[] = []
  const lower = text.toLowerCase()
  const q = query.toLowerCase()
  let i = 0
  for (;;) {
    const j = lower.indexOf(q, i)
    if (j < 0) break
    if (j > i) out.push({ text: text.slice(i, j), hit: false })
    out.push({ text: text.slice(j, j + q.length), hit: true })
    i = j + q.length
  }
  if (i < text.length) out.push({ text: text.slice(i), hit: false })
  return out
}

/**
 * Whether a scroll container is at (or within slack pixels of) its bottom: new lines keep it
 * pinned there, while a reader who scrolled up is left alone.
 */
export function atBottom(scrollTop: number, scrollHeight: number, clientHeight: number, slack = 24): boolean {
  return scrollHeight - scrollTop - clientHeight <= slack
}
