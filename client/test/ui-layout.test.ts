import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  cameraFollowing, dragTo, intersects, MAX_ZOOM, MIN_KRATE_H, MIN_KRATE_W, MIN_ZOOM, pan, placeNew,
  resizeTo, screenToWorld, viewportOf, wheelFactor, worldToScreen, zoomAt,
} from '../src/app/layout.ts'

test('screen and world coordinates round-trip', () => {
  const c = { x: -120, y: 45, zoom: 1.7 }
  const s = worldToScreen(c, 300, -80)
  const w = screenToWorld(c, s.x, s.y)
  assert.ok(Math.abs(w.x - 300) < 1e-9 && Math.abs(w.y + 80) < 1e-9)
})

test('pan moves the world with the pointer at any zoom', () => {
  const c = { x: 0, y: 0, zoom: 2 }
  const before = worldToScreen(c, 10, 10)
  const after = worldToScreen(pan(c, 50, -20), 10, 10)
  assert.deepEqual({ x: after.x - before.x, y: after.y - before.y }, { x: 50, y: -20 })
})

test('zoomAt keeps the world point under the pointer fixed and clamps the zoom', () => {
  const c = { x: 100, y: 200, zoom: 1 }
  const under = screenToWorld(c, 400, 300)
  const z = zoomAt(c, 400, 300, 1.5)
  assert.equal(z.zoom, 1.5)
  const still = screenToWorld(z, 400, 300)
  assert.ok(Math.abs(still.x - under.x) < 1e-9 && Math.abs(still.y - under.y) < 1e-9)
  assert.equal(zoomAt(c, 0, 0, 1000).zoom, MAX_ZOOM)
  assert.equal(zoomAt(c, 0, 0, 0.0001).zoom, MIN_ZOOM)
})

test('wheel up zooms in, wheel down zooms out, huge deltas are bounded', () => {
  assert.ok(wheelFactor(-100) > 1)
  assert.ok(wheelFactor(100) < 1)
  assert.equal(wheelFactor(10_000), wheelFactor(100))
})

test('following shows the same world centre at the leader zoom on a different screen', () => {
  const leader = viewportOf({ x: 1000, y: 500, zoom: 0.5 }, 1600, 900)
  const cam = cameraFollowing(leader, 800, 600)
  const centre = screenToWorld(cam, 400, 300)
  assert.equal(cam.zoom, 0.5)
  assert.ok(Math.abs(centre.x - (leader.x + leader.w / 2)) < 1e-9)
  assert.ok(Math.abs(centre.y - (leader.y + leader.h / 2)) < 1e-9)
})

test('drag divides screen movement by zoom; resize never goes below the minimum', () => {
  assert.deepEqual(dragTo({ wx: 10, wy: 20 }, 100, -50, 2), { wx: 60, wy: -5 })
  assert.deepEqual(resizeTo({ w: 400, h: 300 }, 100, 100, 0.5), { w: 600, h: 500 })
  assert.deepEqual(resizeTo({ w: 400, h: 300 }, -5000, -5000, 1), { w: MIN_KRATE_W, h: MIN_KRATE_H })
})

test('placeNew centres a krate and steps off krates already there', () => {
  const v = { x: 0, y: 0, w: 1000, h: 800, zoom: 1 }
  const first = placeNew(v, { w: 200, h: 100 }, [])
  assert.deepEqual(first, { wx: 400, wy: 350 })
  const second = placeNew(v, { w: 200, h: 100 }, [first])
  assert.deepEqual(second, { wx: 428, wy: 378 })
  // A krate of another size lands near, not exactly on, the first corner: still stepped.
  assert.deepEqual(placeNew(v, { w: 200, h: 140 }, [first]), { wx: 428, wy: 358 })
  assert.deepEqual(placeNew(v, { w: 200, h: 100 }, [{ wx: 0, wy: 0 }]), first)
})

test('intersects finds krates in the viewport only', () => {
  const v = { x: 0, y: 0, w: 100, h: 100, zoom: 1 }
  assert.equal(intersects(v, { wx: 90, wy: 90, w: 50, h: 50 }), true)
  assert.equal(intersects(v, { wx: 100, wy: 0, w: 50, h: 50 }), false)
  assert.equal(intersects(v, { wx: -60, wy: -60, w: 50, h: 50 }), false)
})
