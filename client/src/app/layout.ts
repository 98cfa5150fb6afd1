// Canvas geometry: the camera maps world coordinates (where krates live, shared by everyone in
// the room) to screen pixels (local to each browser). Pure functions so they can be unit tested.

export interface Camera {
  /** World coordinate shown at the screen's left/top edge. */
  x: number
  y: number
  /** Screen pixels per world unit. */
  zoom: number
}

/** The part of the world a user sees; published in awareness so others can follow it. */
export interface Viewport {
  x: number
  y: number
  w: number
  h: number
  zoom: number
}

export const MIN_ZOOM = 0.2
export const MAX_ZOOM = 3
export const MIN_KRATE_W = 240
export const MIN_KRATE_H = 120
export const TITLEBAR_H = 30

export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v))

export function worldToScreen(c: Camera, wx: number, wy: number): { x: number; y: number } {
  return { x: (wx - c.x) * c.zoom, y: (wy - c.y) * c.zoom }
}

export function screenToWorld(c: Camera, sx: number, sy: number): { x: number; y: number } {
  return { x: sx / c.zoom + c.x, y: sy / c.zoom + c.y }
}

/** Moves the camera by a screen-space drag of (dx, dy): the world follows the pointer. */
export function pan(c: Camera, dx: number, dy: number): Camera {
  return { x: c.x - dx / c.zoom, y: c.y - dy / c.zoom, zoom: c.zoom }
}

/** Zooms by factor around the screen point (sx, sy), which keeps showing the same world point. */
export function zoomAt(c: Camera, sx: number, sy: number, factor: number): Camera {
  const zoom = clamp(c.zoom * factor, MIN_ZOOM, MAX_ZOOM)
  const w = screenToWorld(c, sx, sy)
  return { x: w.x - sx / zoom, y: w.y - sy / zoom, zoom }
}

/** Converts a wheel delta to a zoom factor; trackpads send many small deltas, mice few large. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-clamp(deltaY, -100, 100) * 0.0015)
}

export function viewportOf(c: Camera, screenW: number, screenH: number): Viewport {
  return { x: c.x, y: c.y, w: screenW / c.zoom, h: screenH / c.zoom, zoom: c.zoom }
}

/**
 * The camera that shows the centre of someone else's viewport in the middle of our screen at
 * their zoom, so following works between screens of different sizes.
 */
export function cameraFollowing(v: Viewport, screenW: number, screenH: number): Camera {
  const zoom = clamp(v.zoom, MIN_ZOOM, MAX_ZOOM)
  const cx = v.x + v.w / 2
  const cy = v.y + v.h / 2
  return { x: cx - screenW / 2 / zoom, y: cy - screenH / 2 / zoom, zoom }
}

/** New world position of a krate dragged by a screen-space delta. */
export function dragTo(start: { wx: number; wy: number }, dx: number, dy: number, zoom: number): { wx: number; wy: number } {
  return { wx: Math.round(start.wx + dx / zoom), wy: Math.round(start.wy + dy / zoom) }
}

/** New size of a krate resized from its bottom-right corner, never below the minimum. */
export function resizeTo(start: { w: number; h: number }, dx: number, dy: number, zoom: number): { w: number; h: number } {
  return {
    w: Math.round(Math.max(MIN_KRATE_W, start.w + dx / zoom)),
    h: Math.round(Math.max(MIN_KRATE_H, start.h + dy / zoom)),
  }
}

/**
 * Where to drop a new krate: the centre of the viewport, stepped diagonally while another krate's
 * corner is (nearly) there, so new windows do not hide each other.
 */
export function placeNew(v: Viewport, size: { w: number; h: number }, existing: { wx: number; wy: number }[]): { wx: number; wy: number } {
  let wx = Math.round(v.x + v.w / 2 - size.w / 2)
  let wy = Math.round(v.y + v.h / 2 - size.h / 2)
  // Near enough to another krate's corner to hide it: step on.
  const taken = (x: number, y: number) => existing.some((k) => Math.abs(k.wx - x) < 24 && Math.abs(k.wy - y) < 24)
  for (let i = 0; i < 50 && taken(wx, wy); i++) {
    wx += 28
    wy += 28
  }
  return { wx, wy }
}

/** Whether a world rectangle intersects the viewport (used to skip work for off-screen krates). */
export function intersects(v: Viewport, r: { wx: number; wy: number; w: number; h: number }): boolean {
  return r.wx < v.x + v.w && r.wx + r.w > v.x && r.wy < v.y + v.h && r.wy + r.h > v.y
}
