// Changing the cluster from the browser, against a real `yard serve --write-enabled` (Redis, the
// local control plane) in headless Chromium: bob edits a Deployment's replicas in the YAML
// editor, reviews the server's dry-run diff and applies it; alice, in the same room, sees the
// activity entry and the pods change. bob scales, restarts and deletes; carol (view only) finds
// Edit and Delete disabled with the reason.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { cspViolations, launchBrowser, openRoom, SCREENSHOTS, signIn, startCluster, startRedis, startYard, until, type Cluster, type Redis, type Yard } from './harness.ts'

let cluster: Cluster
let redis: Redis
let yard: Yard
let browser: Browser
const room = `writes-${Date.now().toString(36)}`
let alice: Page
let bob: Page

const krateIds = (page: Page) => page.getByTestId('krate').evaluateAll((els) => els.map((e) => e.getAttribute('data-krate-id')!))

/** Opens a krate through the spotlight and returns its id. */
async function open(page: Page, query: string, sel: string, action: string): Promise<string> {
  const before = await krateIds(page)
  await page.keyboard.press('Control+k')
  await page.getByTestId('spotlight-input').fill(query)
  const button = page.locator(`${sel} [data-testid="spotlight-action"][data-action="${action}"]`).first()
  await button.waitFor({ timeout: 15_000 })
  await until(async () => !(await button.isDisabled()), `${action} to be enabled`, 10_000)
  await button.click()
  return until(async () => (await krateIds(page)).find((i) => !before.includes(i)), 'a new krate', 10_000)
}

/** Pods of a workload a resource list krate shows, without those on their way out. */
async function livePods(page: Page, krate: string, namespace: string, prefix: string): Promise<number> {
  return page
    .locator(`[data-krate-id="${krate}"] [data-testid="resource-row"][data-namespace="${namespace}"][data-name^="${prefix}"]`)
    .evaluateAll((rows) => rows.filter((r) => !/Terminating/.test(r.textContent ?? '')).length)
}

/** A write control once the permission answer is in (its title is no longer "checking…"). */
async function settled(page: Page, krate: string, testid: string) {
  const b = page.locator(`[data-krate-id="${krate}"] [data-testid="${testid}"]`)
  await until(async () => !/checking|loading/.test((await b.getAttribute('title')) ?? 'checking'), `${testid}'s permission answer`, 15_000)
  return b
}

describe('changing the cluster in the browser', { timeout: 1_200_000 }, () => {
  before(async () => {
    cluster = await startCluster()
    redis = await startRedis()
    yard = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url, extra: ['--write-enabled'] })
    browser = await launchBrowser()
    ;({ page: alice } = await signIn(browser, yard.url, 'alice', 'yard-admins'))
    ;({ page: bob } = await signIn(browser, yard.url, 'bob'))
    await openRoom(alice, room)
    await openRoom(bob, room)
  })

  after(async () => {
    await browser?.close()
    await yard?.stop()
    await redis?.stop()
    await cluster?.stop()
  })

  let pods = ''
  let detail = ''
  let replicas = 0

  test('bob edits replicas in the YAML editor, reviews the diff and applies; alice sees the entry and the pods', async () => {
    // alice watches the pods; bob opens the Deployment team-a/web (he may edit in team-a).
    pods = await open(alice, 'pods', '[data-testid="spotlight-kind"][data-resource="pods"]', 'list')
    detail = await open(bob, 'team-a web', '[data-testid="spotlight-result"][data-kind="deployments"][data-namespace="team-a"][data-name="web"]', 'details')
    await alice.locator(`[data-krate-id="${detail}"]`).waitFor({ timeout: 10_000 })

    const edit = await settled(bob, detail, 'yaml-edit')
    assert.equal(await edit.isDisabled(), false, `Edit YAML disabled for bob: ${await edit.getAttribute('title')}`)
    await edit.click()
    const editor = bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-editor"]`)
    await editor.waitFor({ timeout: 15_000 })
    const text = await editor.innerText()
    assert.match(text, /^apiVersion: apps\/v1\nkind: Deployment\n/)
    assert.doesNotMatch(text, /managedFields|resourceVersion|status:/)
    replicas = Number(/\n {2}replicas: (\d+)\n/.exec(text)?.[1])
    assert.ok(replicas >= 1, `spec.replicas in:\n${text}`)
    const want = replicas + 1
    await until(async () => (await livePods(alice, pods, 'team-a', 'web-')) === replicas, `alice to see ${replicas} web pods in team-a`, 30_000)

    // Edit the one line as a person would: click it, go to its end, replace the number.
    const line = editor.locator('.cm-line').filter({ hasText: new RegExp(`^\\s*replicas: ${replicas}$`) }).first()
    await line.click()
    await bob.keyboard.press('End')
    for (let i = 0; i < String(replicas).length; i++) await bob.keyboard.press('Backspace')
    await bob.keyboard.type(String(want))

    await bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-review"]`).click()
    const diff = bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-diff"]`)
    const conflict = bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-conflict"]`)
    await until(async () => (await diff.count()) + (await conflict.count()) > 0, 'the review', 15_000)
    // In a fresh cluster spec.replicas belongs to the field manager that created the Deployment
    // (the launcher): the review is a conflict naming it, and bob takes the field over. A reused
    // cluster may have had it taken over by an earlier run already.
    if (!process.env.YARD_E2E_CLUSTER_DIR) assert.equal(await conflict.count(), 1, 'a conflict over spec.replicas')
    if ((await conflict.count()) > 0) {
      assert.ok(await conflict.first().getAttribute('data-manager'))
      assert.match(await conflict.first().innerText(), /\.spec\.replicas/)
      await bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-takeover"]`).click()
      await diff.waitFor({ timeout: 15_000 })
    }
    await diff.locator('.diff-add').filter({ hasText: `replicas: ${want}` }).waitFor({ timeout: 5_000 })
    await diff.locator('.diff-del').filter({ hasText: `replicas: ${replicas}` }).waitFor({ timeout: 5_000 })
    // A review changes nothing.
    assert.equal(await livePods(alice, pods, 'team-a', 'web-'), replicas)
    if (SCREENSHOTS) await bob.screenshot({ path: join(SCREENSHOTS, 'yaml-editor.png') })

    await bob.locator(`[data-krate-id="${detail}"] [data-testid="yaml-apply"]`).click()
    const result = bob.locator(`[data-krate-id="${detail}"] [data-testid="write-result"]`)
    await result.waitFor({ timeout: 15_000 })
    assert.equal(await result.getAttribute('data-result'), 'ok', await result.innerText())

    const item = alice.locator('[data-testid="activity-feed"] [data-testid="activity-item"][data-user="bob"][data-verb="apply"][data-name="web"]')
    await item.waitFor({ timeout: 15_000 })
    assert.equal(await item.getAttribute('data-result'), 'ok')
    assert.equal(await item.getAttribute('data-namespace'), 'team-a')
    await until(async () => (await livePods(alice, pods, 'team-a', 'web-')) === want, `alice to see ${want} web pods in team-a`, 60_000)
    replicas = want
  })

  test('bob scales, restarts and deletes; each shows up in the activity feed, newest first', async () => {
    const at = (t: string) => bob.locator(`[data-krate-id="${detail}"] [data-testid="${t}"]`)
    await (await settled(bob, detail, 'action-scale')).click()
    await at('scale-input').fill('1')
    await at('scale-submit').click()
    await bob.locator(`[data-krate-id="${detail}"] [data-testid="write-result"][data-result="ok"]`).waitFor({ timeout: 15_000 })
    await alice.locator('[data-testid="activity-item"][data-verb="scale"][data-user="bob"][data-name="web"][data-result="ok"]').waitFor({ timeout: 15_000 })
    await until(async () => (await livePods(alice, pods, 'team-a', 'web-')) === 1, 'alice to see one web pod in team-a', 60_000)

    await (await settled(bob, detail, 'action-restart')).click()
    await alice.locator('[data-testid="activity-item"][data-verb="restart"][data-user="bob"][data-name="web"]').waitFor({ timeout: 15_000 })
    const first = alice.locator('[data-testid="activity-item"]').first()
    assert.equal(await first.getAttribute('data-verb'), 'restart')

    // Delete asks for the name first.
    const worker = await open(bob, 'team-a worker', '[data-testid="spotlight-result"][data-kind="deployments"][data-namespace="team-a"][data-name="worker"]', 'details')
    const del = bob.locator(`[data-krate-id="${worker}"]`)
    await (await settled(bob, worker, 'action-delete')).click()
    await del.getByTestId('delete-confirm-input').fill('worke')
    assert.equal(await del.getByTestId('delete-submit').isDisabled(), true)
    await del.getByTestId('delete-confirm-input').fill('worker')
    assert.equal(await del.getByTestId('delete-submit').isDisabled(), false)
    await del.getByTestId('delete-submit').click()
    await del.locator('[data-testid="write-result"][data-result="ok"]').waitFor({ timeout: 15_000 })
    await alice.locator('[data-testid="activity-item"][data-verb="delete"][data-user="bob"][data-name="worker"][data-result="ok"]').waitFor({ timeout: 15_000 })
    await until(async () => (await livePods(alice, pods, 'team-a', 'worker-')) === 0, "the worker's pods to go", 60_000)
  })

  test("carol (view only) finds Edit and Delete disabled with the reason", async () => {
    const { page: carol, ctx } = await signIn(browser, yard.url, 'carol')
    await openRoom(carol, room)
    const id = await open(carol, 'demo web', '[data-testid="spotlight-result"][data-kind="deployments"][data-namespace="demo"][data-name="web"]', 'details')
    const edit = await settled(carol, id, 'yaml-edit')
    assert.equal(await edit.isDisabled(), true)
    assert.equal(await edit.getAttribute('title'), 'you may not patch deployments in demo')
    const del = await settled(carol, id, 'action-delete')
    assert.equal(await del.isDisabled(), true)
    assert.equal(await del.getAttribute('title'), 'you may not delete deployments in demo')
    assert.equal(await (await settled(carol, id, 'action-scale')).isDisabled(), true)
    // carol still reads the object and sees the room's activity.
    await carol.locator(`[data-krate-id="${id}"] [data-testid="detail-yaml"]`).filter({ hasText: 'kind: Deployment' }).waitFor({ timeout: 15_000 })
    await carol.locator('[data-testid="activity-item"][data-verb="apply"][data-user="bob"]').waitFor({ timeout: 10_000 })
    await ctx.close()
  })

  test('the editor runs under the Content-Security-Policy', () => {
    assert.deepEqual(cspViolations, [], 'Chromium reported Content-Security-Policy violations')
  })
})
