// Two `yard serve` replicas sharing one Redis: people connected to different replicas share a
// room (cursors, krate moves) and the admin panel on either replica lists everyone.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, signIn, startCluster, startRedis, startYard, until, type Cluster, type Redis, type Yard } from './harness.ts'

describe('two replicas', { timeout: 1_200_000 }, () => {
  let cluster: Cluster
  let redis: Redis
  let a: Yard
  let b: Yard
  let browser: Browser
  let alice: Page
  let bob: Page
  const room = `replicas-${Date.now().toString(36)}`

  before(async () => {
    cluster = await startCluster()
    redis = await startRedis()
    a = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url, extra: ['--replica-id', 'replica-a'] })
    b = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url, extra: ['--replica-id', 'replica-b'] })
    browser = await launchBrowser()
    ;({ page: alice } = await signIn(browser, a.url, 'alice', 'yard-admins'))
    ;({ page: bob } = await signIn(browser, b.url, 'bob'))
  })

  after(async () => {
    await browser?.close()
    await a?.stop()
    await b?.stop()
    await redis?.stop()
    await cluster?.stop()
  })

  test('people on different replicas share one room', async () => {
    for (const p of [alice, bob]) {
      await p.goto(`/r/${room}`)
      await p.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
    }
    await alice.locator('[data-testid="avatar"][data-user="bob"]').waitFor({ timeout: 15_000 })
    await alice.mouse.move(200, 700)
    await alice.mouse.move(210, 705)
    await bob.locator('[data-testid="remote-cursor"][data-user="alice"]').waitFor({ timeout: 15_000 })

    await alice.keyboard.press('Control+k')
    await alice.getByTestId('spotlight-input').fill('pods')
    await alice.locator('[data-testid="spotlight-kind"][data-resource="pods"] [data-action="list"]').click()
    const krate = bob.getByTestId('krate').first()
    await krate.waitFor({ timeout: 15_000 })
    const id = (await krate.getAttribute('data-krate-id'))!
    const b0 = (await krate.boundingBox())!
    const bar = (await alice.locator(`[data-krate-id="${id}"] [data-testid="krate-titlebar"]`).boundingBox())!
    await alice.mouse.move(bar.x + 50, bar.y + 10)
    await alice.mouse.down()
    await alice.mouse.move(bar.x + 50 - 150, bar.y + 10 + 90, { steps: 6 })
    await alice.mouse.up()
    await until(async () => {
      const b1 = (await krate.boundingBox())!
      return Math.abs(b1.x - b0.x + 150) < 3 && Math.abs(b1.y - b0.y - 90) < 3
    }, "the move to reach bob's replica", 15_000)
  })

  test('the admin panel on one replica lists users of both', async () => {
    const admin = await alice.context().newPage()
    await admin.goto('/admin')
    const rowB = admin.locator(`[data-testid="admin-user-row"][data-user="bob"][data-room="${room}"]`).first()
    await rowB.waitFor({ timeout: 15_000 })
    const rowA = admin.locator(`[data-testid="admin-user-row"][data-user="alice"][data-room="${room}"]`).first()
    await rowA.waitFor({ timeout: 15_000 })
    assert.notEqual(await rowA.getAttribute('data-replica'), await rowB.getAttribute('data-replica'))
    await admin.close()
  })
})
