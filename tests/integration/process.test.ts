import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startStack } from '../../src/sandbox/stack.js'
import { AUTH_CONNECTION, UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { consecutiveFreePorts } from '../helpers/processes.js'
import { waitUntil } from '../helpers/wait.js'
import { bundled } from '../helpers/bundle.js'


interface Started {
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>
  kill: (signal: NodeJS.Signals) => void
  stdout: () => string
}

/** Runs src/index.ts in a clean environment and working directory (no stray .env). */
async function run(env: Record<string, string>): Promise<Started> {
  const cwd = await mkdtemp(join(tmpdir(), 'ums-process-'))
  const child = spawn(process.execPath, [bundled('src/index.ts')], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
  return { exit, kill: (signal) => child.kill(signal), stdout: () => stdout }
}

const REQUIRED = { AUTH_SERVICE: 'auth0-client', AUTH_CONNECTION, USERS_CRUD_ENDPOINT: USERS_ENDPOINT, UMS_CONFIG_CRUD_ENDPOINT: UMS_CONFIG_ENDPOINT }

describe('process start-up', () => {
  it('stops with one line naming a missing variable', async () => {
    const { AUTH_SERVICE: _missing, ...env } = REQUIRED
    const { code, stderr, stdout } = await (await run(env)).exit
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toContain("must have required property 'AUTH_SERVICE'")
  })

  it('stops with one line naming an invalid variable', async () => {
    const { code, stderr } = await (await run({ ...REQUIRED, RANDOM_PWD_LENGTH: '3' })).exit
    expect(code).toBe(1)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toContain('RANDOM_PWD_LENGTH')
  })

  it.each(['ums', '/UMS', '/ums_v1'])('stops with one clear line naming SERVICE_PREFIX when it is %j', async (prefix) => {
    const { code, stderr, stdout } = await (await run({ ...REQUIRED, SERVICE_PREFIX: prefix })).exit
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr.trim()).toBe(`invalid configuration: SERVICE_PREFIX must be / or lowercase a-z0-9- path segments such as /ums or /v1/users, got "${prefix}"`)
  })

  it('stops naming the known modules when AUTH_MODULE is unknown', async () => {
    const { code, stderr } = await (await run({ ...REQUIRED, AUTH_MODULE: 'keycloak' })).exit
    expect(code).toBe(1)
    expect(stderr.trim()).toBe('AUTH_MODULE "keycloak" is unknown; known modules: auth0Client')
  })
})

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('keeps serving during the wait after %s, finishes in-flight requests, then exits', async (signal) => {
    const stack = await startStack()
    try {
      const port = await consecutiveFreePorts(1)
      const child = await run({
        ...REQUIRED,
        AUTH_SERVICE: stack.auth0.url,
        CRUD_SERVICE: stack.crud.url,
        HTTP_PORT: String(port),
        WAIT_BEFORE_SERVER_CLOSE_SEC: '0.5',
      })
      await waitUntil(() => child.stdout().includes('Server listening'), 'the server to listen')
      const before = await request(`http://127.0.0.1:${port}/-/healthz`)
      await before.body.text()
      expect(before.headers.connection).not.toBe('close')
      stack.auth0.injectFault({ method: 'POST', path: '/oauth/token', delayMs: 1200, status: 403 })
      const inFlight = request(`http://127.0.0.1:${port}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'a', password: 'b' }),
      })
      await waitUntil(() => stack.auth0.requestsTo('POST', '/oauth/token').length === 1, 'the login')
      child.kill(signal)
      // Served, and told to close its connection: close() then finds no idle keep-alive
      // connection a request could be arriving on.
      await waitUntil(() => child.stdout().includes('closing after the wait'), 'the shutdown to start')
      const during = await request(`http://127.0.0.1:${port}/-/healthz`)
      expect(during.statusCode).toBe(200)
      expect(during.headers.connection).toBe('close')
      await during.body.text()
      const slow = await inFlight
      expect(slow.statusCode).toBe(403)
      await slow.body.text()
      const { code, stdout } = await child.exit
      expect(code).toBe(0)
      expect(stdout).toContain(`"msg":"${signal} received: closing after the wait"`)
      expect(stdout).toContain('server closed')
    } finally {
      await stack.close()
    }
  })
})
