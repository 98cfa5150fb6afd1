// Each person gets the same colour on every screen without coordination: the colour is a hash
// of their user id into a palette chosen to stay readable on the dark canvas.

export const PALETTE = [
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6',
  '#bcf60c', '#fabebe', '#008080', '#e6beff', '#9a6324', '#fffac8', '#aaffc3', '#ffd8b1',
]

/** FNV-1a, 32 bit: small, fast and well spread for short strings such as user names. */
export function hash32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export function colorFor(userId: string): string {
  return PALETTE[hash32(userId) % PALETTE.length]!
}

/** Black or white, whichever reads better on the given #rrggbb background. */
export function textOn(bg: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(bg)
  if (!m) return '#000'
  const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x!, 16))
  // Perceived luminance (ITU-R BT.601).
  return 0.299 * r! + 0.587 * g! + 0.114 * b! > 150 ? '#000' : '#fff'
}

export function initials(name: string): string {
  const parts = name.split(/[\s._@-]+/).filter(Boolean)
  if (parts.length === 0) return '?'
  if (parts.length === 1) return parts[0]!.slice(0, 2).toUpperCase()
  return (parts[0]![0]! + parts[1]![0]!).toUpperCase()
}
