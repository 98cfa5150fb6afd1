// The server says what is degraded in the UI: a banner polling /api/readyz names Redis while
// redis-server is frozen (SIGSTOP: connections hang, as when it is unreachable) and disappears
// when it resumes. Only an admin reads why a check fails: the reason can name hosts.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, signIn, startRedis, startYard, type Redis, type Yard } from './harness.ts'

// No cluster: only Redis (and the recordings directory) is checked, whatever this machine's
// kubeconfig says.
process.env.KUBECONFIG = join(tmpdir(), 'yard-degraded-test-no-kubeconfig')

describe('degraded banner', { timeout: 180_000 }, () => {
  let redis: Redis
  let yard: Yard
  let browser: Browser
  let page: Page
  let admin: Page

  before(async () => {
    redis = await startRedis()
    yard = await startYard({ redisUrl: redis.url })
    browser = await launchBrowser()
    ;({ page } = await signIn(browser, yard.url, 'alice'))
    ;({ page: admin } = await signIn(browser, yard.url, 'root', 'yard-admins'))
  })

  after(async () => {
    await browser?.close()
    await yard?.stop()
    await redis?.stop()
  })

  test('names redis while it is unreachable, and goes away after', async () => {
    const banner = page.getByTestId('degraded')
    // All ready: the first poll answered and showed nothing.
    const ready = await page.evaluate(async () => (await fetch('/api/readyz')).status)
    assert.equal(ready, 200)
    assert.equal(await banner.count(), 0)

    redis.signal('SIGSTOP')
    const stoppedAt = Date.now()
    try {
      await page.locator('[data-testid="degraded"][data-checks~="redis"]').waitFor({ timeout: 30_000 })
      const shownAfter = Date.now() - stoppedAt
      assert.match((await banner.innerText()) ?? '', /redis/)
      // Only redis is degraded.
      assert.equal(await banner.getAttribute('data-checks'), 'redis')
      // alice is told what, not why; the admin is told why.
      assert.equal(await page.locator('[data-check="redis"] .muted').count(), 0)
      const reason = admin.locator('[data-testid="degraded"] [data-check="redis"] .muted')
      await reason.waitFor({ timeout: 30_000 })
      assert.match(await reason.innerText(), /\(.+\)/)
      console.log(`banner named redis ${shownAfter} ms after SIGSTOP`)
    } finally {
      redis.signal('SIGCONT')
    }
    const resumedAt = Date.now()
    await banner.waitFor({ state: 'detached', timeout: 30_000 })
    console.log(`banner gone ${Date.now() - resumedAt} ms after SIGCONT`)
  })
})
