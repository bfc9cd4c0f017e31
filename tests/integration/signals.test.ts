// SIGINT and SIGTERM sent to the pid of `npm run sandbox` or `npm start`, the one a process
// manager signals: every server the process started stops and every process under npm exits.
// `npm start` runs the real build (tsc -p tsconfig.build.json) in a temporary directory holding
// package.json and a link to node_modules, so the repository's dist/ is left alone.
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AUTH_CONNECTION, UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { baseEnv, consecutiveFreePorts, isListening, killAll, processTree, running, start, type Started } from '../helpers/processes.js'
import { sleep } from '../helpers/wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

/** The processes each test started, taken while npm is their parent: orphans are killed too. */
const trees: number[][] = []
afterEach(async () => {
  for (const tree of trees.splice(0)) await killAll(tree)
})

/** Waits for `ready` on npm's output, then records the processes under it. */
async function started(npm: Started, ready: string): Promise<number[]> {
  trees.push([npm.pid])
  await npm.waitForOutput(ready)
  const tree = await processTree(npm.pid)
  trees.push(tree)
  // npm, the node it runs, and whatever that started (tsx's esbuild service in the sandbox).
  expect(tree.length).toBeGreaterThanOrEqual(2)
  return tree
}

/** Signals npm's pid only, then checks npm exited, the ports closed and no process is left. */
async function signalAndCheck(npm: Started, tree: number[], signal: NodeJS.Signals, ports: number[]): Promise<void> {
  for (const port of ports) expect(await isListening(port), `port ${port} before ${signal}`).toBe(true)
  process.kill(npm.pid, signal)
  const exit = await Promise.race([npm.exited, sleep(10_000).then(() => 'timeout' as const)])
  expect(exit, `npm after ${signal}:\n${npm.stdout()}\n${npm.stderr()}`).toEqual({ code: 0, signal: null })
  for (const port of ports) expect(await isListening(port), `port ${port} after ${signal}`).toBe(false)
  // The processes under npm are reaped by npm or, once orphaned, by init: give it a moment.
  const deadline = Date.now() + 5_000
  while ((await running(tree)).length > 0 && Date.now() < deadline) await sleep(100)
  expect(await running(tree)).toEqual([])
}

describe('npm run sandbox', () => {
  it.each(SIGNALS)('stops every server it started on %s to the npm pid', { timeout: 60_000 }, async (signal) => {
    const port = await consecutiveFreePorts(5)
    const npm = start('npm', ['run', 'sandbox'], { cwd: ROOT, env: baseEnv({ HTTP_PORT: String(port) }) })
    const tree = await started(npm, 'Ctrl-C stops everything.')
    await signalAndCheck(npm, tree, signal, [port, port + 1, port + 2, port + 3, port + 4])
    expect(npm.stdout()).toContain(`"msg":"${signal} received: closing after the wait"`)
  })
})

describe('npm start', () => {
  let build = ''
  beforeAll(async () => {
    build = await mkdtemp(join(tmpdir(), 'ums-build-'))
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(build, 'dist')])
    await copyFile(join(ROOT, 'package.json'), join(build, 'package.json'))
    await symlink(join(ROOT, 'node_modules'), join(build, 'node_modules'))
  }, 120_000)
  afterAll(async () => {
    await rm(build, { recursive: true, force: true })
  })

  it.each(SIGNALS)('closes gracefully on %s to the npm pid', { timeout: 60_000 }, async (signal) => {
    const port = await consecutiveFreePorts(1)
    const npm = start('npm', ['start'], {
      cwd: build,
      env: baseEnv({
        AUTH_SERVICE: 'auth0-client',
        AUTH_CONNECTION,
        USERS_CRUD_ENDPOINT: USERS_ENDPOINT,
        UMS_CONFIG_CRUD_ENDPOINT: UMS_CONFIG_ENDPOINT,
        HTTP_PORT: String(port),
        WAIT_BEFORE_SERVER_CLOSE_SEC: '0.3',
      }),
    })
    const tree = await started(npm, 'Server listening')
    await signalAndCheck(npm, tree, signal, [port])
    expect(npm.stdout()).toContain(`"signal":"${signal}","waitMs":300,"msg":"${signal} received: closing after the wait"`)
    expect(npm.stdout()).toContain('"msg":"server closed"')
  })
})
