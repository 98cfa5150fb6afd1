// Real processes for the browser tests: the local Kubernetes control plane (e2e/), a
// redis-server, `bin/yard serve` with dev login, and Debian's Chromium through playwright-core.
// Each start function fails with the exact command to run when something is missing.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium'

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.on('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => res(p))
    })
  })
}

async function until<T>(f: () => T | Promise<T>, what: string, ms: number): Promise<NonNullable<T>> {
  const end = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v) return v as NonNullable<T>
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

class Proc {
  readonly out: string[] = []
  exited = false
  constructor(
    readonly name: string,
    readonly p: ChildProcess,
  ) {
    const keep = (d: Buffer) => {
      this.out.push(d.toString())
      if (this.out.length > 400) this.out.splice(0, 100)
    }
    p.stdout?.on('data', keep)
    p.stderr?.on('data', keep)
    p.on('exit', () => (this.exited = true))
  }
  tail(): string {
    return this.out.join('').slice(-3000)
  }
  async stop(): Promise<void> {
    if (this.exited) return
    const done = new Promise((r) => this.p.once('exit', r))
    this.p.kill('SIGTERM')
    const t = setTimeout(() => this.p.kill('SIGKILL'), 15_000)
    await done
    clearTimeout(t)
  }
}

export interface Cluster {
  dir: string
  kubeconfig: string
  /** Appends a line to a container's log file, as the kubelet would (CRI format). */
  appendLog(namespace: string, pod: string, container: string, text: string): void
  stop(): Promise<void>
}

/**
 * The local control plane with the demo content (users alice, bob, carol; namespaces demo,
 * team-a). YARD_E2E_CLUSTER_DIR reuses one already running (`make cluster`: .yard/cluster),
 * which saves its start-up time when iterating; it is then left running.
 */
export async function startCluster(): Promise<Cluster> {
  const reuse = process.env.YARD_E2E_CLUSTER_DIR
  if (reuse) {
    const dir = resolve(reuse)
    if (!existsSync(join(dir, 'ready'))) throw new Error(`${dir} holds no running local cluster: run make cluster`)
    return { dir, kubeconfig: join(dir, 'kubeconfig'), appendLog: (ns, pod, c, text) => appendCRI(dir, ns, pod, c, text), stop: async () => {} }
  }
  const bin = join(homedir(), '.cache', 'yard', 'ui-e2e', 'localcluster')
  try {
    execFileSync('go', ['build', '-o', bin, './e2e/cmd/localcluster'], { cwd: ROOT, stdio: 'pipe' })
  } catch (e) {
    throw new Error(`cannot build the local control plane launcher (go build ./e2e/cmd/localcluster): ${String((e as { stderr?: Buffer }).stderr ?? e)}`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'yard-ui-cluster-'))
  const proc = new Proc('cluster', spawn(bin, ['run', '-dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
  try {
    await until(() => {
      if (proc.exited) throw new Error(`the control plane exited:\n${proc.tail()}\n(missing binaries? run: make cluster-bins)`)
      return existsSync(join(dir, 'ready'))
    }, 'the local control plane (make cluster-bins builds its binaries)', 600_000)
  } catch (e) {
    await proc.stop()
    throw e
  }
  return {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    appendLog: (ns, pod, c, text) => appendCRI(dir, ns, pod, c, text),
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function appendCRI(dir: string, ns: string, pod: string, container: string, text: string) {
  const d = join(dir, 'pods', ns, pod)
  mkdirSync(d, { recursive: true })
  appendFileSync(join(d, `${container}.log`), `${new Date().toISOString()} stdout F ${text}\n`)
}

export interface Redis {
  url: string
  /** Signals redis-server: SIGSTOP freezes it (connections hang, as when it is unreachable), SIGCONT resumes it. */
  signal(sig: NodeJS.Signals): void
  stop(): Promise<void>
}

export async function startRedis(): Promise<Redis> {
  if (!existsSync('/usr/bin/redis-server')) throw new Error('redis-server is missing: run apt-get install -y redis-server')
  const dir = mkdtempSync(join(tmpdir(), 'yard-ui-redis-'))
  const port = await freePort()
  const proc = new Proc('redis', spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  await until(() => {
    if (proc.exited) throw new Error(`redis-server exited:\n${proc.tail()}`)
    return proc.out.join('').includes('Ready to accept connections')
  }, 'redis-server', 15_000)
  return {
    url: `redis://127.0.0.1:${port}/0`,
    signal: (sig) => void proc.p.kill(sig),
    async stop() {
      if (!proc.exited) proc.p.kill('SIGCONT')
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface Yard {
  url: string
  proc: Proc
  stop(): Promise<void>
}

/** `bin/yard serve` with dev login, serving client/dist, on a free loopback port. */
export async function startYard(opts: { kubeconfig?: string; redisUrl?: string; extra?: string[] } = {}): Promise<Yard> {
  const bin = process.env.YARD_BIN ?? join(ROOT, 'bin', 'yard')
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run make build`)
  const dist = join(ROOT, 'client', 'dist')
  if (!existsSync(join(dist, 'index.html'))) throw new Error('client/dist is not built: run npm run build')
  const port = await freePort()
  const args = ['serve', '--dev-auth', '--listen', `127.0.0.1:${port}`, '--static-dir', dist, '--log-level', 'warn']
  if (opts.kubeconfig) args.push('--kubeconfig', opts.kubeconfig)
  if (opts.redisUrl) args.push('--redis-url', opts.redisUrl)
  args.push(...(opts.extra ?? []))
  const proc = new Proc('yard', spawn(bin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, YARD_JWT_SECRET: 'e2e-secret-e2e-secret-e2e-secret-0123' } }))
  const url = `http://127.0.0.1:${port}`
  try {
    await until(async () => {
      if (proc.exited) throw new Error(`yard exited:\n${proc.tail()}`)
      const r = await fetch(`${url}/api/healthz`)
      return r.ok
    }, 'yard serve', 30_000)
  } catch (e) {
    await proc.stop()
    throw e
  }
  return { url, proc, stop: () => proc.stop() }
}

export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run apt-get install -y chromium`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  })
}

/** A fresh browser context (own storage) signed in through the dev login form. */
/** Content-Security-Policy violations Chromium reported on any signed-in page. */
export const cspViolations: string[] = []

export async function signIn(browser: Browser, yardURL: string, name: string, groups = ''): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ baseURL: yardURL, viewport: { width: 1400, height: 900 } })
  ctx.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text())
  })
  const page = await ctx.newPage()
  await page.goto('/')
  await page.getByTestId('login-name').fill(name)
  if (groups) await page.getByTestId('login-groups').fill(groups)
  await page.getByTestId('login-submit').click()
  await page.getByTestId('room-list').waitFor()
  return { ctx, page }
}

/** Opens a room and waits until its document is synced. */
export async function openRoom(page: Page, room: string): Promise<void> {
  await page.goto(`/r/${room}`)
  await page.locator('[data-testid="sync-state"][data-synced="true"]').waitFor({ timeout: 15_000 })
}

/** Reads the text a terminal shows (xterm's DOM renderer rows). */
export async function terminalText(page: Page, krate: string): Promise<string> {
  return page.locator(`[data-krate-id="${krate}"] [data-testid="terminal"] .xterm-rows`).innerText()
}

export { until }

/** Where screenshots for the README go (only when YARD_SCREENSHOTS=1, to keep test runs clean). */
export const SCREENSHOTS = process.env.YARD_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'img') : null

export function readJSON(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'))
}

/** Two `yard serve` replicas sharing one Redis and the local control plane, and a browser. */
export interface Replicas {
  cluster: Cluster
  redis: Redis
  a: Yard
  b: Yard
  browser: Browser
  stop(): Promise<void>
}

export async function startReplicas(extra: string[] = []): Promise<Replicas> {
  const cluster = await startCluster()
  const redis = await startRedis()
  const a = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url, extra: [...extra, '--replica-id', 'replica-a'] })
  const b = await startYard({ kubeconfig: cluster.kubeconfig, redisUrl: redis.url, extra: [...extra, '--replica-id', 'replica-b'] })
  const browser = await launchBrowser()
  return {
    cluster, redis, a, b, browser,
    async stop() {
      await browser.close()
      await a.stop()
      await b.stop()
      await redis.stop()
      await cluster.stop()
    },
  }
}
