// The browser app against a real `yard serve` (Redis, the local control plane) in headless
// Chromium: two people in one room, logs, a shared shell, the admin panel, permissions, reload.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { cspViolations, launchBrowser, openRoom, SCREENSHOTS, signIn, startCluster, startRedis, startYard, terminalText, until, type Cluster, type Redis, type Yard } from './harness.ts'

let cluster: Cluster
let redis: Redis
let yard: Yard
let browser: Browser
const room = `e2e-${Date.now().toString(36)}`
let alice: Page
let bob: Page

/** Opens the spotlight, searches, and clicks an action on the first matching result. */
async function spotlight(page: Page, query: string, match: { kind: string; namespace?: string; name?: string; namePrefix?: string }, action: string) {
  await page.keyboard.press('Control+k')
  await page.getByTestId('spotlight-input').fill(query)
  let sel = `[data-testid="spotlight-result"][data-kind="${match.kind}"]`
  if (match.namespace) sel += `[data-namespace="${match.namespace}"]`
  if (match.name) sel += `[data-name="${match.name}"]`
  if (match.namePrefix) sel += `[data-name^="${match.namePrefix}"]`
  const result = page.locator(sel).first()
  await result.waitFor({ timeout: 15_000 })
  const name = (await result.getAttribute('data-name'))!
  const button = result.locator(`[data-testid="spotlight-action"][data-action="${action}"]`)
  return { name, button }
}

async function newKrateId(page: Page, before: string[]): Promise<string> {
  return until(async () => {
    const ids = await page.getByTestId('krate').evaluateAll((els) => els.map((e) => e.getAttribute('data-krate-id')!))
    return ids.find((i) => !before.includes(i))
  }, 'a new krate', 10_000)
}

const krateIds = (page: Page) => page.getByTestId('krate').evaluateAll((els) => els.map((e) => e.getAttribute('data-krate-id')!))

describe('the Yard in the browser', { timeout: 1_200_000 }, () => {
  before(async () => {
    cluster = await startCluster()
    redis = await startRedis()
    yard = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url })
    browser = await launchBrowser()
    ;({ page: alice } = await signIn(browser, yard.url, 'alice', 'yard-admins'))
    ;({ page: bob } = await signIn(browser, yard.url, 'bob'))
    if (SCREENSHOTS) {
      const p = await (await browser.newContext({ viewport: { width: 1000, height: 700 } })).newPage()
      await p.goto(yard.url)
      await p.getByTestId('login-name').waitFor()
      await p.screenshot({ path: join(SCREENSHOTS, 'login.png') })
    }
  })

  after(async () => {
    await browser?.close()
    await yard?.stop()
    await redis?.stop()
    await cluster?.stop()
  })

  test('new room from the room list; both users join it', async () => {
    await alice.getByTestId('new-room-name').fill(room)
    await alice.getByTestId('new-room').click()
    await alice.waitForURL(`**/r/${room}`)
    await alice.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
    await openRoom(bob, room)
    await bob.goto('/')
    await bob.locator(`[data-testid="room-list"] [data-room="${room}"]`).waitFor({ timeout: 10_000 })
    await openRoom(bob, room)
  })

  test('two users see each other and a krate dragged by one moves for the other', async () => {
    await alice.locator('[data-testid="avatar"][data-user="bob"]').waitFor({ timeout: 10_000 })
    await bob.locator('[data-testid="avatar"][data-user="alice"]').waitFor({ timeout: 10_000 })

    const before = await krateIds(alice)
    const { button } = await spotlight(alice, 'web', { kind: 'deployments', namespace: 'demo', name: 'web' }, 'details')
    await button.click()
    const id = await newKrateId(alice, before)
    const onBob = bob.locator(`[data-testid="krate"][data-krate-id="${id}"]`)
    await onBob.waitFor({ timeout: 10_000 })
    assert.equal(await onBob.getAttribute('data-kind'), 'detail')

    // Cursors, both ways.
    await alice.mouse.move(300, 700)
    await alice.mouse.move(320, 710)
    await bob.locator('[data-testid="remote-cursor"][data-user="alice"]').waitFor({ timeout: 10_000 })
    await bob.mouse.move(900, 650)
    await bob.mouse.move(910, 660)
    await alice.locator('[data-testid="remote-cursor"][data-user="bob"]').waitFor({ timeout: 10_000 })

    // Drag by the title bar on alice's screen; bob's copy follows by the same amount.
    const bar = alice.locator(`[data-krate-id="${id}"] [data-testid="krate-titlebar"]`)
    const a0 = (await alice.locator(`[data-krate-id="${id}"]`).boundingBox())!
    const b0 = (await onBob.boundingBox())!
    const tb = (await bar.boundingBox())!
    await alice.mouse.move(tb.x + 60, tb.y + tb.height / 2)
    await alice.mouse.down()
    for (let i = 1; i <= 10; i++) await alice.mouse.move(tb.x + 60 + i * 20, tb.y + tb.height / 2 + i * 12)
    await alice.mouse.up()
    const a1 = (await alice.locator(`[data-krate-id="${id}"]`).boundingBox())!
    assert.ok(Math.abs(a1.x - a0.x - 200) < 3 && Math.abs(a1.y - a0.y - 120) < 3, `alice's krate moved by ${a1.x - a0.x},${a1.y - a0.y}`)
    await until(async () => {
      const b1 = (await onBob.boundingBox())!
      return Math.abs(b1.x - b0.x - 200) < 3 && Math.abs(b1.y - b0.y - 120) < 3
    }, "bob's copy of the krate to move", 10_000)
    // The detail krate is live: the YAML of the Deployment arrives (for alice: bob may not read demo).
    await alice.locator(`[data-krate-id="${id}"] [data-testid="detail-yaml"]`).filter({ hasText: 'kind: Deployment' }).waitFor({ timeout: 15_000 })
    // This server runs without --write-enabled: the krate's writes are disabled and say why.
    for (const t of ['yaml-edit', 'action-scale', 'action-restart', 'action-delete']) {
      const b = alice.locator(`[data-krate-id="${id}"] [data-testid="${t}"]`)
      await until(async () => (await b.getAttribute('title')) === 'writes are disabled on this server', `${t} to say writes are off`, 10_000)
      assert.equal(await b.isDisabled(), true, t)
    }
  })

  test('watching badges, minimise and resize are shared; following a viewport and opting out', async () => {
    const id = (await krateIds(alice))[0]!
    // alice focuses the krate: bob sees her badge on it.
    await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-titlebar"]`).click({ position: { x: 40, y: 10 } })
    await bob.locator(`[data-krate-id="${id}"] [data-testid="watching"][data-user="alice"]`).waitFor({ timeout: 10_000 })
    // Resize from the corner, then minimise: both show up for bob.
    const onBob = bob.locator(`[data-krate-id="${id}"]`)
    const w0 = (await onBob.boundingBox())!.width
    const corner = (await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-resize"]`).boundingBox())!
    await alice.mouse.move(corner.x + 5, corner.y + 5)
    await alice.mouse.down()
    await alice.mouse.move(corner.x + 45, corner.y + 25, { steps: 4 })
    await alice.mouse.up()
    await until(async () => Math.abs((await onBob.boundingBox())!.width - w0 - 40) < 3, "bob's copy to widen by 40 px", 10_000)
    await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-minimize"]`).click()
    await bob.locator(`[data-krate-id="${id}"][data-minimized="true"]`).waitFor({ timeout: 10_000 })
    await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-minimize"]`).click()
    await bob.locator(`[data-krate-id="${id}"][data-minimized="false"]`).waitFor({ timeout: 10_000 })

    // bob follows alice; alice zooms and pans; bob's camera follows.
    await bob.locator('[data-testid="avatar"][data-user="alice"]').click()
    await bob.getByTestId('follow-banner').waitFor()
    const canvasA = alice.getByTestId('canvas')
    // Over empty canvas (a wheel over a krate's body scrolls the body instead).
    await alice.mouse.move(40, 860)
    await alice.mouse.wheel(0, -300)
    await until(async () => (await canvasA.getAttribute('data-zoom')) !== '1.000', 'alice to zoom', 5_000)
    const zoomA = await canvasA.getAttribute('data-zoom')
    await until(async () => (await bob.getByTestId('canvas').getAttribute('data-zoom')) === zoomA, 'bob to follow the zoom', 10_000)
    // alice opts out: bob stops following and cannot start again.
    await alice.getByTestId('follow-optout').check()
    await bob.getByTestId('follow-banner').waitFor({ state: 'detached', timeout: 10_000 })
    await until(async () => bob.locator('[data-testid="avatar"][data-user="alice"]').isDisabled(), "alice's avatar to be disabled for bob", 10_000)
    await alice.getByTestId('follow-optout').uncheck()
    // Back to the default camera for the screenshots and later steps.
    for (const p of [alice, bob]) {
      await p.evaluate(() => sessionStorage.clear())
      await p.reload()
      await p.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
    }
  })

  test('a resource list krate shows live objects with status colours', async () => {
    const before = await krateIds(alice)
    await alice.keyboard.press('Control+k')
    await alice.getByTestId('spotlight-input').fill('deployments')
    await alice.locator('[data-testid="spotlight-kind"][data-resource="deployments"] [data-testid="spotlight-action"][data-action="list"]').click()
    const id = await newKrateId(alice, before)
    const row = alice.locator(`[data-krate-id="${id}"] [data-testid="resource-row"][data-namespace="demo"][data-name="web"]`)
    await row.waitFor({ timeout: 15_000 })
    const tone = await row.getByTestId('resource-status').getAttribute('data-tone')
    assert.ok(['ok', 'warn', 'bad'].includes(tone!), `tone ${tone}`)
    // bob sees the same krate but only what he may list: team-a, not demo.
    await bob.locator(`[data-krate-id="${id}"] [data-testid="resource-row"][data-namespace="team-a"]`).first().waitFor({ timeout: 15_000 })
    assert.equal(await bob.locator(`[data-krate-id="${id}"] [data-testid="resource-row"][data-namespace="demo"]`).count(), 0)
    await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-close"]`).click()
    await bob.locator(`[data-krate-id="${id}"]`).waitFor({ state: 'detached', timeout: 10_000 })
  })

  test('a logs krate shows live lines', async () => {
    const before = await krateIds(alice)
    const { name: pod, button } = await spotlight(alice, 'demo web', { kind: 'pods', namespace: 'demo', namePrefix: 'web-' }, 'logs')
    await button.click()
    const id = await newKrateId(alice, before)
    const lines = alice.locator(`[data-krate-id="${id}"] [data-testid="log-line"]`)
    await lines.first().waitFor({ timeout: 20_000 })
    const marker = `ERROR e2e-marker-${Date.now()}`
    cluster.appendLog('demo', pod, 'nginx', marker)
    const line = lines.filter({ hasText: marker })
    await line.waitFor({ timeout: 20_000 })
    assert.equal(await line.getAttribute('data-level'), 'error')
    await alice.locator(`[data-krate-id="${id}"] [data-testid="connection-state"][data-state="open"]`).waitFor()
    if (SCREENSHOTS) await alice.screenshot({ path: join(SCREENSHOTS, 'canvas.png') })
  })

  test('a shell krate runs a command and a second user joins it as observer', async () => {
    const before = await krateIds(alice)
    const { button } = await spotlight(alice, 'team-a web', { kind: 'pods', namespace: 'team-a', namePrefix: 'web-' }, 'shell')
    await button.click()
    const id = await newKrateId(alice, before)
    const term = alice.locator(`[data-krate-id="${id}"] [data-testid="terminal"]`)
    await alice.locator(`[data-krate-id="${id}"] [data-testid="shell-role"][data-role="driver"]`).waitFor({ timeout: 20_000 })
    await term.click()
    const first = `first-${Date.now()}`
    await alice.keyboard.type(`echo ${first.toUpperCase()}-$((6*7))\n`)
    await until(async () => (await terminalText(alice, id)).includes(`${first.toUpperCase()}-42`), 'the command output in the terminal', 15_000)

    // bob (exec rights in team-a) joins as observer and sees what was there, then live output.
    const joinButton = bob.locator(`[data-krate-id="${id}"] [data-testid="shell-join"]`)
    await joinButton.waitFor({ timeout: 10_000 })
    // Enabled once the permission answer is in (bob may exec in team-a).
    await until(async () => !(await joinButton.isDisabled()), 'the join button to be enabled for bob', 10_000)
    await joinButton.click()
    await bob.locator(`[data-krate-id="${id}"] [data-testid="shell-role"][data-role="observer"]`).waitFor({ timeout: 15_000 })
    await until(async () => (await terminalText(bob, id)).includes(`${first.toUpperCase()}-42`), 'the replayed scrollback for the observer', 15_000)
    await bob.locator(`[data-krate-id="${id}"] [data-testid="shell-driver"][data-user="alice"]`).waitFor({ timeout: 10_000 })
    await term.click()
    await alice.keyboard.type(`echo LIVE-$((6*8))\n`)
    await until(async () => (await terminalText(bob, id)).includes('LIVE-48'), 'live output for the observer', 15_000)

    // Handoff: bob asks for the keyboard, alice grants it, bob types and alice sees it.
    await bob.locator(`[data-krate-id="${id}"] [data-testid="shell-request-driver"]`).click()
    await alice.locator(`[data-krate-id="${id}"] [data-testid="shell-grant"][data-user="bob"]`).click({ timeout: 15_000 })
    await bob.locator(`[data-krate-id="${id}"] [data-testid="shell-role"][data-role="driver"]`).waitFor({ timeout: 15_000 })
    await alice.locator(`[data-krate-id="${id}"] [data-testid="shell-driver"][data-user="bob"]`).waitFor({ timeout: 15_000 })
    await bob.locator(`[data-krate-id="${id}"] [data-testid="terminal"]`).click()
    await bob.keyboard.type(`echo BOB-$((5*5))\n`)
    await until(async () => (await terminalText(alice, id)).includes('BOB-25'), "bob's command in alice's terminal", 15_000)
    if (SCREENSHOTS) await bob.screenshot({ path: join(SCREENSHOTS, 'shared-shell.png') })
  })

  test('the admin panel lists both users', async () => {
    const admin = await alice.context().newPage()
    await admin.goto('/admin')
    await admin.locator(`[data-testid="admin-user-row"][data-user="alice"][data-room="${room}"]`).first().waitFor({ timeout: 10_000 })
    await admin.locator(`[data-testid="admin-user-row"][data-user="bob"][data-room="${room}"]`).first().waitFor({ timeout: 10_000 })
    // alice's shell session from the previous test is listed; an admin ends it and the krates say so.
    const shellRow = admin.locator('[data-testid="admin-user-row"][data-user="alice"] [data-testid="admin-end-shell"]').first()
    await shellRow.waitFor({ timeout: 10_000 })
    if (SCREENSHOTS) await admin.screenshot({ path: join(SCREENSHOTS, 'admin.png') })
    await shellRow.click()
    await alice.locator('[data-testid="krate"][data-kind="shell"] [data-testid="shell-start"]').waitFor({ timeout: 15_000 })
    await admin.locator('[data-testid="admin-session-row"]').first().waitFor({ state: 'detached', timeout: 15_000 })
    // alice's row shows her other channels (her logs krate's stream); the admin disconnects bob:
    // his connection closes with disconnected_by_admin, his room stops syncing and his row goes.
    const aliceRow = admin.locator(`[data-testid="admin-user-row"][data-user="alice"][data-room="${room}"]`).first()
    await until(async () => /logs demo\/web-/.test(await aliceRow.innerText()), "alice's logs stream in her row", 10_000)
    const bobRow = admin.locator(`[data-testid="admin-user-row"][data-user="bob"][data-room="${room}"]`).first()
    await bobRow.getByTestId('admin-disconnect').click()
    await bob.locator('[data-testid="sync-state"][data-state="error"]').waitFor({ timeout: 15_000 })
    await admin.locator('[data-testid="admin-user-row"][data-user="bob"]').first().waitFor({ state: 'detached', timeout: 15_000 })
    await admin.close()
    // Not an admin: no panel.
    await bob.goto('/admin')
    await bob.getByTestId('admin-forbidden').waitFor()
    await openRoom(bob, room)
  })

  test('a shell krate whose user an admin disconnected stays closed', async () => {
    // bob drives a shell of his own; an admin disconnects him: every stream of his page ends with
    // disconnected_by_admin, and the shell krate must not reconnect by itself.
    const before = await krateIds(bob)
    const { button } = await spotlight(bob, 'team-a web', { kind: 'pods', namespace: 'team-a', namePrefix: 'web-' }, 'shell')
    await until(async () => !(await button.isDisabled()), 'the shell action to be enabled for bob', 10_000)
    await button.click()
    const id = await newKrateId(bob, before)
    await bob.locator(`[data-krate-id="${id}"] [data-testid="shell-role"][data-role="driver"]`).waitFor({ timeout: 20_000 })
    const state = bob.locator(`[data-krate-id="${id}"] [data-testid="connection-state"]`)
    await until(async () => (await state.getAttribute('data-state')) === 'open', "bob's shell to be open", 10_000)

    const admin = await alice.context().newPage()
    await admin.goto('/admin')
    const bobRow = admin.locator(`[data-testid="admin-user-row"][data-user="bob"][data-room="${room}"]`).first()
    await bobRow.waitFor({ timeout: 10_000 })
    await bobRow.getByTestId('admin-disconnect').click()
    await until(async () => (await state.getAttribute('data-state')) === 'error', "bob's shell krate to stop with an error", 15_000)
    // Longer than the first reconnect backoffs (0.5-1 s, then 1-2 s): still stopped.
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) {
      seen.add((await state.getAttribute('data-state')) ?? '')
      await new Promise((r) => setTimeout(r, 250))
    }
    assert.deepEqual([...seen], ['error'], 'the shell krate changed state after the disconnect')
    await admin.close()
    await openRoom(bob, room)
  })

  test('a user without exec rights sees the shell action disabled with the reason', async () => {
    const { page: carol, ctx } = await signIn(browser, yard.url, 'carol')
    await openRoom(carol, room)
    const { button } = await spotlight(carol, 'demo web', { kind: 'pods', namespace: 'demo', namePrefix: 'web-' }, 'shell')
    await until(async () => (await button.getAttribute('title'))?.includes('shell'), 'the permission answer', 10_000)
    assert.equal(await button.isDisabled(), true)
    assert.match((await button.getAttribute('title'))!, /not let you open a shell/)
    // Logs are allowed for carol in demo.
    const logs = carol.locator('[data-testid="spotlight-result"][data-kind="pods"][data-namespace="demo"] [data-action="logs"]').first()
    assert.equal(await logs.isDisabled(), false)
    if (SCREENSHOTS) await carol.screenshot({ path: join(SCREENSHOTS, 'spotlight.png') })
    await ctx.close()
  })

  test('reloading the page keeps the canvas', async () => {
    const layout = (p: Page) =>
      p.getByTestId('krate').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-krate-id')} ${e.getAttribute('data-kind')} ${(e as HTMLElement).style.transform} ${(e as HTMLElement).style.width}`).sort())
    const before = await layout(bob)
    assert.ok(before.length >= 3, `krates before reload: ${before.length}`)
    await bob.reload()
    await bob.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
    await until(async () => (await layout(bob)).length === before.length, 'the krates after reload', 10_000)
    assert.deepEqual(await layout(bob), before)
  })

  test('the app runs under its Content-Security-Policy', async () => {
    const res = await bob.request.get('/r/demo')
    assert.match(res.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/)
    assert.deepEqual(cspViolations, [], 'Chromium reported Content-Security-Policy violations')
  })
})
