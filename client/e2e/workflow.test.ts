// The workflow editor with two people on two `yard serve` replicas sharing one Redis: a template
// inserted by one appears for the other, concurrent edits of different fields and env entries
// of one node both survive, validation errors show on the field and the node, an edge is drawn
// port to port, undo removes one's own change only, a reload restores everything, and a compose
// file imports its services.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { openRoom, SCREENSHOTS, signIn, startReplicas, until, type Replicas } from './harness.ts'

const COMPOSE = `services:
  api:
    image: example/api:1.0
    build: .
    environment:
      MODE: prod
  worker:
    image: example/worker:1.0
    command: ["run", "--queue", "jobs"]
  cache:
    image: redis:7
    restart: always
`

describe('the workflow editor on two replicas', { timeout: 1_200_000 }, () => {
  let r: Replicas
  let alice: Page
  let bob: Page
  const room = `wf-${Date.now().toString(36)}`
  const nodes = (p: Page) => p.getByTestId('wf-node')
  const deployment = (p: Page) => p.locator('[data-testid="wf-node"][data-kind="Deployment"]').first()
  const field = (p: Page, f: string) => p.locator(`[data-testid="wf-inspector"] [data-testid="wf-field"][data-field="${f}"]`)

  before(async () => {
    r = await startReplicas()
    const { a, b, browser } = r
    ;({ page: alice } = await signIn(browser, a.url, 'alice'))
    ;({ page: bob } = await signIn(browser, b.url, 'bob'))
    for (const p of [alice, bob]) await openRoom(p, room)
  })

  after(async () => {
    await r?.stop()
  })

  test("a template inserted at alice's pointer appears on bob's replica", async () => {
    await alice.getByTestId('workflow-palette').waitFor()
    await alice.mouse.move(300, 220)
    await alice.mouse.move(305, 225)
    await alice.locator('[data-testid="template-insert"][data-template="web-app"]').click()
    await until(async () => (await nodes(bob).count()) === 4, "the web-app template's four nodes on bob's replica", 15_000)
    await until(async () => (await bob.getByTestId('wf-edge').count()) === 3, "the template's three edges on bob's replica", 15_000)
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'Ingress']) await bob.locator(`[data-testid="wf-node"][data-kind="${kind}"]`).waitFor()
    // Laid out from the pointer: the first node's top-left is where alice pointed.
    const first = (await alice.locator('[data-testid="wf-node"][data-kind="ConfigMap"]').boundingBox())!
    assert.ok(Math.abs(first.x - 305) < 4 && Math.abs(first.y - 225) < 4, `the ConfigMap is at ${first.x},${first.y}`)
    assert.equal(await deployment(bob).getAttribute('data-status'), 'pending')
  })

  test('concurrent edits of different fields and env entries of one node both survive', async () => {
    await deployment(alice).click({ position: { x: 100, y: 40 } })
    await deployment(bob).click({ position: { x: 100, y: 40 } })
    for (const p of [alice, bob]) await p.getByTestId('wf-inspector').waitFor()

    // A value the server's rules refuse shows on the field and as a badge on the node.
    await field(bob, 'replicas').locator('input').fill('5000')
    await field(bob, 'replicas').locator('[data-testid="wf-error"]').waitFor({ timeout: 15_000 })
    await alice.locator('[data-testid="wf-node"][data-kind="Deployment"] [data-testid="wf-error"]').waitFor({ timeout: 15_000 })
    // bob's focus shows on alice's view of the node and the field.
    await alice.locator('[data-testid="wf-node"][data-kind="Deployment"] [data-testid="wf-focus"][data-user="bob"]').waitFor({ timeout: 15_000 })
    await field(alice, 'replicas').locator('[data-testid="wf-field-focus"][data-user="bob"]').waitFor({ timeout: 15_000 })

    const aliceEdits = async () => {
      await field(alice, 'image').locator('input[data-part="tag"]').fill('1.28')
      await field(alice, 'env').locator('input[data-new="key"]').fill('FROM_ALICE')
      await field(alice, 'env').locator('input[data-new="value"]').fill('a')
      await field(alice, 'env').getByTestId('wf-entry-add').click()
    }
    const bobEdits = async () => {
      await field(bob, 'replicas').locator('input').fill('3')
      await field(bob, 'env').locator('input[data-new="key"]').fill('FROM_BOB')
      await field(bob, 'env').locator('input[data-new="value"]').fill('b')
      await field(bob, 'env').getByTestId('wf-entry-add').click()
    }
    await Promise.all([aliceEdits(), bobEdits()])
    for (const p of [alice, bob]) {
      await until(async () => {
        const card = await deployment(p).innerText()
        return card.includes('nginx:1.28') && /replicas\s*3/.test(card)
      }, 'image and replicas on the card', 15_000)
      await field(p, 'env').locator('[data-entry="FROM_ALICE"]').waitFor({ timeout: 15_000 })
      await field(p, 'env').locator('[data-entry="FROM_BOB"]').waitFor({ timeout: 15_000 })
    }
    await until(async () => (await alice.locator('[data-testid="wf-node"][data-kind="Deployment"] [data-testid="wf-error"]').count()) === 0, 'the error to clear', 15_000)
  })

  test('an edge is drawn by dragging port to port, only between kinds that relate', async () => {
    await alice.mouse.move(560, 520)
    await alice.mouse.move(565, 525)
    await alice.locator('[data-testid="palette-item"][data-kind="PersistentVolumeClaim"]').click()
    const pvc = alice.locator('[data-testid="wf-node"][data-kind="PersistentVolumeClaim"]')
    await pvc.waitFor()
    const pvcId = (await pvc.getAttribute('data-node-id'))!
    const depId = (await deployment(alice).getAttribute('data-node-id'))!
    await bob.locator(`[data-testid="wf-node"][data-node-id="${pvcId}"]`).waitFor({ timeout: 15_000 })

    const drag = async (fromSel: string, toSel: string) => {
      const from = (await alice.locator(fromSel).boundingBox())!
      const to = (await alice.locator(toSel).boundingBox())!
      await alice.mouse.move(from.x + from.width / 2, from.y + from.height / 2)
      await alice.mouse.down()
      await alice.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 })
      await alice.mouse.up()
    }
    // An Ingress cannot mount a claim: nothing is offered.
    const ing = (await alice.locator('[data-testid="wf-node"][data-kind="Ingress"]').getAttribute('data-node-id'))!
    await alice.waitForTimeout(600) // a separate undo step from the node
    await drag(`[data-node-id="${ing}"] [data-side="in"]`, `[data-node-id="${pvcId}"] [data-side="in"]`)
    assert.equal(await alice.locator(`[data-testid="wf-edge"][data-to="${pvcId}"]`).count(), 0)

    await drag(`[data-node-id="${depId}"] [data-side="out"]`, `[data-node-id="${pvcId}"] [data-side="in"]`)
    await bob.locator(`[data-testid="wf-edge"][data-from="${depId}"][data-to="${pvcId}"][data-kind="mounts"]`).waitFor({ timeout: 15_000 })
  })

  test("alice's undo removes her last change and not bob's; redo brings it back", async () => {
    const mounts = (p: Page) => p.locator('[data-testid="wf-edge"][data-kind="mounts"]')
    await alice.getByTestId('undo').click()
    await until(async () => (await mounts(bob).count()) === 0, "the undone edge to leave bob's view", 15_000)
    assert.match(await deployment(bob).innerText(), /replicas\s*3/)
    await alice.mouse.click(900, 820) // the canvas: keys go to the editor, not an input
    await alice.keyboard.press('Control+Shift+Z')
    await until(async () => (await mounts(bob).count()) === 1, 'the redone edge', 15_000)
    await alice.keyboard.press('Control+Z')
    await until(async () => (await mounts(bob).count()) === 0, 'the edge undone by key', 15_000)
    await alice.keyboard.press('Control+Shift+Z')
    await until(async () => (await mounts(bob).count()) === 1, 'the edge redone by key', 15_000)
    // bob's edits are all still there.
    await deployment(alice).click({ position: { x: 100, y: 40 } })
    await field(alice, 'env').locator('[data-entry="FROM_BOB"]').waitFor({ timeout: 15_000 })
  })

  test('a reload restores everything', async () => {
    const before = await nodes(alice).count()
    const edges = await alice.getByTestId('wf-edge').count()
    await bob.reload()
    await bob.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
    await until(async () => (await nodes(bob).count()) === before && (await bob.getByTestId('wf-edge').count()) === edges, 'the workflow after a reload', 15_000)
    assert.match(await deployment(bob).innerText(), /nginx:1\.28/)
    assert.match(await deployment(bob).innerText(), /replicas\s*3/)
    if (SCREENSHOTS) await alice.screenshot({ path: join(SCREENSHOTS, 'workflow.png') })
  })

  test("a compose file imports three services and says what it did not map", async () => {
    const before = await nodes(bob).count()
    await alice.mouse.move(320, 700)
    await alice.mouse.move(325, 705)
    await alice.getByTestId('compose-import').setInputFiles({ name: 'docker-compose.yaml', mimeType: 'application/yaml', buffer: Buffer.from(COMPOSE) })
    await until(async () => (await nodes(bob).count()) === before + 3, "three imported services on bob's replica", 15_000)
    const unmapped = await alice.getByTestId('compose-unmapped').innerText()
    assert.match(unmapped, /api.*build/)
    assert.match(unmapped, /cache.*restart/)
    for (const img of ['example/api:1.0', 'example/worker:1.0', 'redis:7']) {
      await bob.locator('[data-testid="wf-node"][data-kind="Deployment"]', { hasText: img }).waitFor({ timeout: 15_000 })
    }
  })

  test('a node dragged by alice moves for bob, and Delete removes the selected node for both', async () => {
    const card = alice.locator('[data-testid="wf-node"][data-kind="Deployment"]', { hasText: 'redis:7' })
    const id = (await card.getAttribute('data-node-id'))!
    const onBob = bob.locator(`[data-testid="wf-node"][data-node-id="${id}"]`)
    const b0 = (await onBob.boundingBox())!
    const a0 = (await card.boundingBox())!
    await alice.mouse.move(a0.x + 100, a0.y + 30)
    await alice.mouse.down()
    await alice.mouse.move(a0.x + 100 + 120, a0.y + 30 - 60, { steps: 6 })
    await alice.mouse.up()
    await until(async () => {
      const b1 = (await onBob.boundingBox())!
      return Math.abs(b1.x - b0.x - 120) < 3 && Math.abs(b1.y - b0.y + 60) < 3
    }, "the move to reach bob's replica", 15_000)
    const before = await nodes(bob).count()
    await alice.keyboard.press('Delete')
    await until(async () => (await onBob.count()) === 0 && (await nodes(bob).count()) === before - 1, 'the deleted node to leave bob\'s view', 15_000)
  })
})
