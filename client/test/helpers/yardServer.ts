// Starts a real `bin/yard serve --dev-auth` on a free loopback port for Node tests, building the
// binary first when it is missing, and signs users in through the real HTTP API.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

export interface YardServer {
  /** http://127.0.0.1:PORT */
  url: string
  proc: ChildProcess
  /** Everything the server logged so far. */
  log: () => string
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop: () => Promise<number | null>
}

export async function startYard(extraArgs: string[] = []): Promise<YardServer> {
  const bin = path.join(root, 'bin', 'yard')
  if (!existsSync(bin)) {
    try {
      execFileSync('go', ['build', '-o', bin, './server/cmd/yard'], { cwd: root, stdio: 'inherit' })
    } catch (e) {
      throw new Error(`bin/yard is missing and building it failed; run: make build (${String(e)})`)
    }
  }
  const proc = spawn(bin, ['serve', '--dev-auth', '--listen', '127.0.0.1:0', ...extraArgs], {
    cwd: root,
    env: { ...process.env, KUBECONFIG: path.join(root, '.no-kubeconfig') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`yard did not report listening within 20s:\n${out}`)), 20000)
    const onData = (b: Buffer) => {
      out += b.toString()
      const m = /msg=listening url=(http:\/\/[^\s]+)/.exec(out) ?? /"msg":"listening","url":"(http:[^"]+)"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    exited.then((code) => reject(new Error(`yard exited with ${code} before listening:\n${out}`)))
  })
  return {
    url,
    proc,
    log: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM')
      return exited
    },
  }
}

async function postJSON<T>(url: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** Dev login: returns a bearer token for name. */
export async function devLogin(base: string, name: string): Promise<string> {
  return (await postJSON<{ token: string }>(`${base}/api/auth/dev-login`, { name })).token
}

/** A single-use WebSocket ticket for token. */
export async function wsTicket(base: string, token: string): Promise<string> {
  return (await postJSON<{ ticket: string }>(`${base}/api/ws-ticket`, {}, token)).ticket
}
