// The deploy review in the browser, on two replicas with writes on: alice proposes, everyone in
// the room sees the plan; under four-eyes alice cannot approve her own deploy, carol (who may
// only view) sees Approve and Apply disabled with the reason, bob approves and applies, and
// everyone sees every node turn ready; an edit invalidates an open plan and it is replanned; the
// changed image is deployed, and Rollback in the history deploys the first image again.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { openRoom, SCREENSHOTS, signIn, startReplicas, until, type Replicas } from './harness.ts'

describe('the deploy review on two replicas', { timeout: 1_200_000 }, () => {
  let r: Replicas
  let alice: Page
  let bob: Page
  let carol: Page
  const room = `dr-${Date.now().toString(36)}`
  // A name of its own: the demo content has a Deployment "web" in team-a already.
  const app = `shop${Date.now().toString(36)}`
  const state = (p: Page) => p.getByTestId('deploy-state')

  before(async () => {
    r = await startReplicas(['--write-enabled', '--deploy-timeout', '3m'])
    const { a, b, browser } = r
    // The room's policy is an admin's to set: one approval, not the proposer's.
    const login = await fetch(`${a.url}/api/auth/dev-login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'root', groups: [], admin: true }) })
    const { token } = (await login.json()) as { token: string }
    const put = await fetch(`${a.url}/api/rooms/${room}/deploy-policy`, { method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: '{"approvals":1,"fourEyes":true}' })
    assert.equal(put.status, 200, await put.text())
    ;({ page: alice } = await signIn(browser, a.url, 'alice'))
    ;({ page: bob } = await signIn(browser, b.url, 'bob'))
    ;({ page: carol } = await signIn(browser, a.url, 'carol'))
    for (const p of [alice, bob, carol]) await openRoom(p, room)
  })

  after(async () => {
    await r?.stop()
  })

  test('alice proposes and everyone sees the plan', async () => {
    await alice.mouse.move(300, 200)
    await alice.mouse.move(305, 205)
    await alice.getByTestId('template-name').fill(app)
    await alice.locator('[data-testid="template-insert"][data-template="web-app"]').click()
    await until(async () => (await bob.getByTestId('wf-node').count()) === 4, 'the template on bob\'s replica', 15_000)
    await alice.getByTestId('wf-namespace').fill('team-a')
    await alice.mouse.click(700, 800)
    await until(async () => (await bob.getByTestId('wf-namespace').inputValue()) === 'team-a', 'the namespace on bob\'s replica', 15_000)

    await alice.getByTestId('deploy-open').click()
    for (const p of [alice, bob, carol]) {
      await p.getByTestId('deploy-panel').waitFor({ timeout: 30_000 })
      await p.locator('[data-testid="deploy-state"][data-state="planned"]').waitFor({ timeout: 30_000 })
      await until(async () => (await p.locator('[data-testid="plan-row"][data-action="create"]').count()) === 4, 'four rows to create', 15_000)
    }
    await alice.locator('[data-testid="plan-row"]').first().getByRole('button', { name: 'diff' }).click()
    await alice.getByTestId('plan-diff').first().waitFor()
    if (SCREENSHOTS) await alice.screenshot({ path: join(SCREENSHOTS, 'deploy-plan.png') })
  })

  test('four-eyes: alice cannot approve her own deploy; carol may only look', async () => {
    assert.equal(await alice.getByTestId('deploy-approve').isDisabled(), true)
    assert.match(await alice.getByTestId('deploy-approve-reason').innerText(), /four-eyes/)
    assert.equal(await alice.getByTestId('deploy-apply').isDisabled(), true)
    assert.match(await alice.getByTestId('deploy-apply-reason').innerText(), /1 more approval/)
    await until(async () => (await carol.getByTestId('deploy-approve').isDisabled()) && (await carol.getByTestId('deploy-apply').isDisabled()), "carol's buttons disabled", 15_000)
    assert.match(await carol.getByTestId('deploy-approve-reason').innerText(), /RBAC does not let you patch deployments in namespace team-a/)
    assert.equal(await bob.getByTestId('deploy-approve').isEnabled(), true)
  })

  test('bob approves and applies; everyone sees every node turn ready', async () => {
    await bob.getByTestId('deploy-approve').click()
    for (const p of [alice, bob, carol]) await p.locator('[data-testid="deploy-state"][data-state="approved"]').waitFor({ timeout: 15_000 })
    await until(async () => bob.getByTestId('deploy-apply').isEnabled(), 'apply enabled for bob', 15_000)
    assert.equal(await carol.getByTestId('deploy-apply').isDisabled(), true)
    await bob.getByTestId('deploy-apply').click()
    for (const p of [alice, bob]) {
      await p.locator('[data-testid="deploy-state"][data-state="succeeded"]').waitFor({ timeout: 200_000 })
      await until(async () => (await p.locator('[data-testid="wf-node"][data-status="ready"]').count()) === 4, 'every node ready', 30_000)
    }
    assert.equal(await state(alice).getAttribute('data-state'), 'succeeded')
    await alice.getByTestId('deploy-history').waitFor()
  })

  test('an edit invalidates an open plan, which says why and is replanned', async () => {
    await bob.getByTestId('deploy-propose').click()
    for (const p of [alice, bob]) await p.locator('[data-testid="deploy-state"][data-state="planned"]').waitFor({ timeout: 30_000 })
    await alice.locator('[data-testid="wf-node"][data-kind="Deployment"]').click({ position: { x: 100, y: 40 } })
    await alice.locator('[data-testid="wf-field"][data-field="image"] input[data-part="tag"]').fill('1.28')
    for (const p of [alice, bob]) await p.locator('[data-testid="deploy-state"][data-state="invalidated"]').waitFor({ timeout: 30_000 })
    await bob.getByTestId('deploy-invalidated').waitFor()
    await bob.getByTestId('deploy-replan').click()
    await alice.locator('[data-testid="deploy-state"][data-state="planned"]').waitFor({ timeout: 30_000 })
    await alice.locator('[data-testid="plan-row"][data-action="update"]').waitFor({ timeout: 15_000 })
  })

  test('the changed image is deployed; Rollback deploys the first image again', async () => {
    // The image the cluster runs, read through the server as alice (her own RBAC).
    const image = async () => {
      const token = await alice.evaluate(() => localStorage.getItem('yard.token'))
      const res = await fetch(`${r.a.url}/api/resource/deployments/${app}?namespace=team-a`, { headers: { Authorization: `Bearer ${token}` } })
      assert.equal(res.status, 200, await res.clone().text())
      const d = (await res.json()) as { spec: { template: { spec: { containers: { image: string }[] } } } }
      return d.spec.template.spec.containers[0]!.image
    }
    const newestId = (p: Page) => p.locator('[data-testid="deploy-history"] tr[data-deploy-id]').first().getAttribute('data-deploy-id')
    /** The newest deploy, proposed by bob, approved by alice (four-eyes), applied by bob. */
    const approveAndApply = async (id: string) => {
      await until(async () => (await newestId(alice)) === id && alice.getByTestId('deploy-approve').isEnabled(), `alice may approve ${id}`, 30_000)
      await alice.getByTestId('deploy-approve').click()
      await until(async () => bob.getByTestId('deploy-apply').isEnabled(), `apply of ${id} enabled for bob`, 15_000)
      await bob.getByTestId('deploy-apply').click()
      for (const p of [alice, bob]) {
        await until(async () => (await newestId(p)) === id && (await state(p).getAttribute('data-state')) === 'succeeded', `${id} to succeed`, 200_000)
      }
    }
    assert.equal(await image(), 'nginx:1.27')

    const changed = (await newestId(alice))!
    await approveAndApply(changed)
    assert.equal(await image(), 'nginx:1.28')

    await bob.getByTestId('deploy-history').locator('summary').click()
    const rollback = bob.locator(`[data-testid="deploy-rollback"][data-deploy-id="${changed}"]`)
    await until(async () => rollback.isEnabled(), `Rollback of ${changed} enabled`, 15_000)
    // The first deploy cannot be rolled back: nothing succeeded before it.
    const first = bob.locator('[data-testid="deploy-history"] tr[data-state="succeeded"]').last()
    assert.notEqual(await first.getAttribute('data-deploy-id'), changed)
    assert.equal(await first.getByTestId('deploy-rollback').isDisabled(), true)
    await rollback.click()
    // A new deploy (bob's, waiting for an approval under the room's policy) that re-applies the first.
    const back = await until(async () => {
      const id = await newestId(alice)
      return id !== changed ? id : null
    }, 'the rollback deploy', 30_000)
    await alice.locator('[data-testid="plan-row"][data-action="update"]').waitFor({ timeout: 15_000 })
    await approveAndApply(back)
    for (const p of [alice, bob]) {
      await p.locator(`[data-testid="deploy-history"] tr[data-deploy-id="${changed}"][data-state="rolled-back"]`).waitFor({ state: 'attached', timeout: 15_000 })
    }
    assert.equal(await image(), 'nginx:1.27')
  })
})
