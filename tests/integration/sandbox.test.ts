// The sandbox as people use it: `src/sandbox/index.ts` through `node --import tsx` (what
// `npm run sandbox` runs) on free ports, README's walkthrough run by bash twice in a row against
// it with UMS naming those ports, every curl call recorded with its status; the walkthrough's
// helper and blocks failing clearly; and the settings the sandbox takes from the environment.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { baseEnv, consecutiveFreePorts, killAll, processTree, start, type Started } from '../helpers/processes.js'
import { sleep } from '../helpers/wait.js'
import { isolatedRedis } from '../helpers/job-stores.js'
import { bundled } from '../helpers/bundle.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BANNER_END = 'Ctrl-C stops everything.'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Starts the sandbox on `port` (emulators on the next four) and waits for its banner. */
async function startSandbox(port: number, env: Record<string, string> = {}): Promise<Started> {
  const sandbox = start(process.execPath, [bundled('src/sandbox/index.ts')], {
    cwd: ROOT,
    env: baseEnv({ ...env, HTTP_PORT: String(port) }),
  })
  cleanups.push(async () => {
    const tree = await processTree(sandbox.pid)
    sandbox.child.kill('SIGTERM')
    await Promise.race([sandbox.exited, sleep(5_000)])
    await killAll(tree)
  })
  await sandbox.waitForOutput(BANNER_END)
  return sandbox
}

/** The shell blocks of README's walkthrough section and its subsections, in order. */
async function walkthroughBlocks(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('## Walkthrough (sandbox)')
  const end = readme.indexOf('\n## ', start + 1)
  expect(start).toBeGreaterThanOrEqual(0)
  const section = readme.slice(start, end === -1 ? undefined : end)
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')
  expect(blocks.length).toBeGreaterThanOrEqual(4)
  return blocks
}

/**
 * The blocks as one bash script, each failing the script when it stops: a block is one `&&` list,
 * whose failure bash's errexit lets pass.
 */
function asScript(blocks: string[], dir: string): string {
  return blocks
    .map((block, index) => `{\n${block}\n} || { echo "block ${index + 1} stopped" >&2; exit 1; }`)
    .join('\n')
    .replaceAll('/tmp/users.csv', join(dir, 'users.csv'))
}

/** Where the walkthrough sends ums's calls: `UMS` in its shell. */
const umsAt = (port: number) => ({ UMS: `http://127.0.0.1:${port}` })

function findOnPath(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command)
  }
  throw new Error(`${command} is not on PATH: the walkthrough needs it`)
}

/**
 * A `curl` that runs the real one (each call bounded in time) and records its arguments, its
 * output as the terminal would get it and its response headers, for the HTTP status.
 */
function recordingCurl(realCurl: string): string {
  return `#!/usr/bin/env bash
n=$(( $(cat "$CURL_LOG/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$CURL_LOG/count"
printf '%s\\0' "$@" > "$CURL_LOG/$n.args"
'${realCurl}' --max-time 20 -D "$CURL_LOG/$n.headers" "$@" > "$CURL_LOG/$n.out"
rc=$?
cat "$CURL_LOG/$n.out"
exit $rc
`
}

/** The status of the last answer in a header dump (an upload's `100 Continue` comes first). */
function lastStatus(headers: string): number {
  const statuses = [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((match) => Number(match[1]))
  return statuses[statuses.length - 1] ?? 0
}

interface Call {
  method: string
  port: number
  /** Path and query, as sent. */
  path: string
  status: number
  /** What curl printed: headers first with -i. */
  out: string
}

const json = (call: Call | undefined): any => JSON.parse(call?.out ?? 'null')

async function readCalls(log: string): Promise<Call[]> {
  const count = Number(await readFile(join(log, 'count'), 'utf8'))
  const calls: Call[] = []
  for (let n = 1; n <= count; n += 1) {
    const args = (await readFile(join(log, `${n}.args`), 'utf8')).split('\0').slice(0, -1)
    const url = args.find((arg) => /^(http:\/\/)?127\.0\.0\.1:\d+/.test(arg))
    const target = /^(?:http:\/\/)?127\.0\.0\.1:(\d+)(.*)$/.exec(url ?? '')
    if (!target) throw new Error(`curl call without a loopback URL: ${args.join(' ')}`)
    const explicit = args.indexOf('-X')
    const method = explicit >= 0 ? (args[explicit + 1] ?? '') : args.some((arg) => arg === '-d' || arg === '-F') ? 'POST' : 'GET'
    calls.push({
      method,
      port: Number(target[1]),
      path: target[2] === '' ? '/' : (target[2] ?? '/'),
      status: lastStatus(await readFile(join(log, `${n}.headers`), 'utf8').catch(() => '')),
      out: await readFile(join(log, `${n}.out`), 'utf8'),
    })
  }
  return calls
}

/** A directory with the recording curl, removed after the test. */
async function curlDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ums-walkthrough-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'bin'))
  await writeFile(join(dir, 'bin', 'curl'), recordingCurl(findOnPath('curl')))
  await chmod(join(dir, 'bin', 'curl'), 0o755)
  return dir
}

/** Runs `script` once with bash (errexit, nounset, pipefail) and `env`; its exit code, output and curl calls. */
async function runScript(script: string, dir: string, run: number, extraEnv: Record<string, string>): Promise<{ code: number | null; calls: Call[]; stdout: string; stderr: string }> {
  const log = join(dir, `run-${run}`)
  await mkdir(log)
  await writeFile(join(dir, `run-${run}.sh`), script)
  const env = baseEnv({ CURL_LOG: log, ...extraEnv })
  // The recording curl first.
  env.PATH = `${join(dir, 'bin')}${delimiter}${env.PATH}`
  const bash = start('bash', ['-euo', 'pipefail', join(dir, `run-${run}.sh`)], { cwd: dir, env })
  cleanups.push(async () => killAll(await processTree(bash.pid)))
  const { code } = await bash.exited
  const calls = existsSync(join(log, 'count')) ? await readCalls(log) : []
  return { code, calls, stdout: bash.stdout(), stderr: bash.stderr() }
}

/** Runs the walkthrough once and returns its curl calls; fails on any failing step. */
async function runWalkthrough(script: string, dir: string, run: number, port: number): Promise<{ calls: Call[]; stdout: string }> {
  const result = await runScript(script, dir, run, umsAt(port))
  if (result.code !== 0) throw new Error(`the walkthrough failed (run ${run}, exit ${result.code}):\n${result.stdout}\n${result.stderr}\n${script}`)
  return result
}

/** Checks the answers README states for each step of one run of the walkthrough. */
function checkRun(calls: Call[], port: number): void {
  const ums = calls.filter((call) => call.port === port)
  const to = (method: string, path: RegExp) => ums.filter((call) => call.method === method && path.test(call.path))
  const one = (method: string, path: RegExp) => {
    const found = to(method, path)
    expect(found, `${method} ${path}`).toHaveLength(1)
    return found[0]!
  }
  for (const call of calls) expect(call.status, `${call.method} :${call.port}${call.path}\n${call.out}`).toBeGreaterThanOrEqual(200)
  for (const call of calls) expect(call.status, `${call.method} :${call.port}${call.path}\n${call.out}`).toBeLessThan(500)
  // Every answer ends its line: the next prompt does not run onto it.
  for (const call of calls) expect(call.out, `${call.method} :${call.port}${call.path}`).toMatch(/\n$/)

  const [tokenLogin, websiteLogin] = to('POST', /^\/oauth\/token$/)
  expect(tokenLogin?.status).toBe(200)
  expect(Object.keys(json(tokenLogin)).sort()).toEqual(['accessToken', 'expireAt', 'idToken', 'refreshToken'])
  expect(websiteLogin?.status).toBe(200)
  expect(websiteLogin?.out).toMatch(/^set-cookie: sid=[^;]+;/m)
  expect(websiteLogin?.out).toMatch(/^content-length: 0\r?$/m)

  const [byBearer, byCookie] = to('GET', /^\/userinfo$/)
  expect(byBearer?.status).toBe(200)
  expect(json(byBearer)).toMatchObject({ sub: 'auth0|5f1c0ffee0ddba11ab1e0001', name: 'Mario', surname: 'Rossi', roles: ['customer-basic'] })
  expect(json(byBearer).permissions).toEqual(expect.arrayContaining(['orders.read', 'orders.create', 'profile.update']))
  expect(byCookie?.status).toBe(200)
  expect(json(byCookie)).toMatchObject({ sub: 'auth0|5f1c0ffee0ddba11ab1e0001' })

  const refresh = one('POST', /^\/refreshtoken$/)
  expect(refresh.status).toBe(200)
  expect(json(refresh).accessToken).not.toBe(json(tokenLogin).accessToken)

  expect(one('POST', /^\/users\/change-password$/).status).toBe(204)
  expect(one('GET', /^\/-\/check-up$/).status).toBe(200)
  expect(json(one('GET', /^\/documentation\/json$/)).openapi).toBe('3.0.3')

  const created = to('POST', /^\/users\/(\?.*)?$/)
  expect(created.map((call) => call.status)).toEqual([200, 200, 200])
  const [anna, carlo, dario] = created.map((call) => json(call)._id as string)
  expect(one('POST', /^\/users\/register/).status).toBe(204)
  expect(one('POST', /^\/users\/with-id$/).status).toBe(409)

  const [page, byQuery] = to('GET', /^\/users\/\?/)
  expect(page?.status).toBe(200)
  expect(json(page).map((user: any) => user._id)).toEqual(expect.arrayContaining([anna, carlo]))
  expect(json(byQuery).every((user: any) => user.userGroup === 'customer')).toBe(true)
  expect(typeof json(one('GET', /^\/users\/count$/))).toBe('number')

  const patched = one('PATCH', new RegExp(`^/users/${anna}$`))
  expect(patched.status).toBe(200)
  expect(json(patched)).toMatchObject({ roles: ['customer-premium'], tags: ['vip'], expirationDate: '2031-06-30T00:00:00.000Z' })
  const fired = calls.filter((call) => call.port === port + 4 && /^\/__emulator\/timers\/[^/]+\/fire$/.test(call.path))
  expect(fired.map((call) => call.status)).toEqual([200])
  const reads = to('GET', new RegExp(`^/users/${anna}$`))
  expect(reads).toHaveLength(3)
  expect(json(reads[2])).toMatchObject({ blocked: true })

  const moved = one('POST', /^\/users\/state$/)
  expect(moved.status).toBe(200)
  expect(json(moved)).toBe(1)
  expect(json(one('GET', new RegExp(`^/users/${anna}\\?_st=TRASH$`)))).toMatchObject({ __STATE__: 'TRASH' })

  expect(one('POST', /^\/jobs\/bulk-activation\?/).status).toBe(202)
  const activation = one('GET', /^\/jobs\/bulk-activation\/[^/]+$/)
  expect(json(activation)).toMatchObject({ status: 'completed', summary: { failed: 0, inserted: 1, skipped: 1 } })
  expect(dario).toMatch(/^[0-9a-f]{24}$/)
  expect(one('POST', /^\/jobs\/change-password\/bulk$/).status).toBe(202)
  expect(json(one('GET', /^\/jobs\/change-password\/bulk\/[^/]+$/))).toMatchObject({ status: 'completed', summary: { completed: 1, failed: 0, total: 1 } })

  expect(one('POST', new RegExp(`^/users/${carlo}/soft-delete$`)).status).toBe(204)
  expect(one('DELETE', new RegExp(`^/users/${anna}$`)).status).toBe(204)

  // Self-service and sign-ups.
  const [me, anonymous, afterLogout] = to('GET', /^\/users\/me$/)
  expect(me?.status).toBe(200)
  expect(json(me)).toMatchObject({ username: 'mario.rossi', groups: ['customers'], email_verified: false })
  expect([anonymous?.status, afterLogout?.status]).toEqual([401, 401])
  expect(json(anonymous).message).toBe('no credentials: send Authorization: Bearer <token> or the sid cookie')
  const selfEdits = to('PATCH', /^\/users\/me$/)
  expect(selfEdits.map((call) => call.status)).toEqual([200, 403])
  expect(json(selfEdits[0])).toMatchObject({ age: 41, tags: ['plumber'] })
  expect(json(selfEdits[1]).code).toBe('UMS_FIELD_NOT_SELF_EDITABLE')
  // Unanswered on the first run; the first run's answer on the second.
  expect(json(one('GET', /^\/users\/me\/consents$/))).toMatchObject([{ key: 'marketing', version: 1, required: false }])
  expect(json(one('PUT', /^\/users\/me\/consents\/marketing$/))).toMatchObject([{ key: 'marketing', granted: true }])
  expect(to('POST', /^\/users\/me\/change-password$/).map((call) => call.status)).toEqual([204, 403, 204])
  expect(one('POST', /^\/logout$/).status).toBe(204)
  const signUps = to('POST', /^\/users\/self-register$/)
  expect(signUps.map((call) => call.status)).toEqual([202, 403, 202])
  expect(json(signUps[0])).toEqual({ message: 'Check your e-mail to complete the registration' })
  expect(signUps[2]?.out).toBe(signUps[0]?.out)
  expect(json(signUps[1]).code).toBe('UMS_EMAIL_DOMAIN_NOT_ALLOWED')
  expect(one('POST', /^\/users\/[0-9a-f]{24}\/force-password-reset$/).status).toBe(204)

  const imported = one('PATCH', /^\/users\/import$/)
  expect(imported.status).toBe(200)
  expect(json(imported)).toMatchObject({
    updated: [],
    inserted: [expect.any(String), expect.any(String)],
    invalid: [{ row: 3, error: 'Skipping record: invalid json schema, missing required field surname' }],
  })

  /** The emulator's answer to `GET path`: the one such call, or the last one. */
  const inspect = (emulatorPort: number, path: string, calledMoreThanOnce = false) => {
    const found = calls.filter((call) => call.port === emulatorPort && call.method === 'GET' && call.path === path)
    if (calledMoreThanOnce) expect(found.length, `GET :${emulatorPort}${path}`).toBeGreaterThan(1)
    else expect(found, `GET :${emulatorPort}${path}`).toHaveLength(1)
    expect(found.at(-1)!.status).toBe(200)
    return json(found.at(-1))
  }
  expect(inspect(port + 1, '/users/?_st=PUBLIC,DRAFT,TRASH,DELETED').map((user: any) => user._id)).toEqual(expect.arrayContaining([carlo, dario]))
  expect(inspect(port + 2, '/users').some((user: any) => user.username === 'mario.rossi')).toBe(true)
  const outbox = inspect(port + 2, '/__emulator/outbox', true)
  expect(outbox.some((mail: any) => mail.email === 'mario.rossi@example.com')).toBe(true)
  // This run's Gina: verification and set-password at sign-up, change-password at the repeated
  // sign-up and at the forced reset.
  const gina = outbox.filter((mail: any) => mail.email.startsWith('gina.')).at(-1).email
  expect(outbox.filter((mail: any) => mail.email === gina).map((mail: any) => mail.kind)).toEqual(['verify-email', 'change-password', 'change-password', 'change-password'])
  expect(inspect(port + 3, '/__emulator/bindings')).toEqual(
    expect.arrayContaining([expect.objectContaining({ subjects: ['auth0|5f1c0ffee0ddba11ab1e0001'], roles: ['customer-basic'] })]),
  )
  expect(inspect(port + 4, '/__emulator/timers').length).toBeGreaterThan(0)
}

describe('README walkthrough on the sandbox', () => {
  it('runs as written twice in a row on other ports than 3000, given UMS, every step answering what README says', { timeout: 90_000 }, async () => {
    const port = await consecutiveFreePorts(5)
    expect(port).not.toBe(3000)
    const sandbox = await startSandbox(port)
    const dir = await curlDir()
    const blocks = await walkthroughBlocks()
    // One place names the port: UMS's default. Every other address follows from UMS.
    expect(blocks.join('\n').match(/localhost|\b300[0-4]\b/g)).toEqual(['localhost', '3000'])
    expect(blocks[0]).toContain('UMS=${UMS:-http://localhost:3000}')
    expect(blocks.join('\n')).not.toMatch(/<[a-zA-Z]+>/)
    const script = asScript(blocks, dir)

    const first = await runWalkthrough(script, dir, 1, port)
    checkRun(first.calls, port)
    const second = await runWalkthrough(script, dir, 2, port)
    checkRun(second.calls, port)
    // The OpenAPI document is summed up, not poured into the terminal.
    expect(first.stdout).not.toContain('"paths"')
    expect(first.stdout).toContain('{"title":"ums"')

    // One info line per request of the walkthrough's (the status routes are silent by design).
    const logged = [...first.calls, ...second.calls].filter((call) => call.port === port && !call.path.startsWith('/-/'))
    const requestLines = sandbox
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"msg":"request completed"') && line.includes('"original":"curl/'))
    expect(requestLines).toHaveLength(logged.length)
  })
})

describe('README walkthrough failing', () => {
  /** README's `json` helper, on `input`, asked for `field`. */
  async function json(dir: string, run: number, input: string, field: string) {
    const [first] = await walkthroughBlocks()
    const helper = /^json\(\) \{[\s\S]*?^\}$/m.exec(first ?? '')?.[0]
    expect(helper).toBeDefined()
    await writeFile(join(dir, `input-${run}`), input)
    return runScript(`${helper}\njson ${field} < ${join(dir, `input-${run}`)}\n`, dir, run, {})
  }

  it('json prints the field it is asked for, and for an answer without it says what came instead and fails', { timeout: 30_000 }, async () => {
    const dir = await curlDir()
    expect(await json(dir, 1, '{"_id":"u1","roles":["a"]}\n', '._id')).toMatchObject({ code: 0, stdout: 'u1\n', stderr: '' })
    expect(await json(dir, 2, '{"a":{"b":[1,2]}}', '.a.b')).toMatchObject({ code: 0, stdout: '[1,2]\n' })
    const refused = '{"statusCode":401,"error":"Unauthorized","message":"no"}'
    expect(await json(dir, 3, `${refused}\n`, '.accessToken')).toMatchObject({ code: 1, stdout: '', stderr: `json: no .accessToken in the answer: ${refused}\n` })
    expect(await json(dir, 4, '', '._id')).toMatchObject({ code: 1, stdout: '', stderr: 'json: no ._id in the answer: (empty)\n' })
    expect(await json(dir, 5, '<html>busy</html>', '._id')).toMatchObject({ code: 1, stderr: 'json: no ._id in the answer: <html>busy</html>\n' })
  })

  it('stops a block at its first failing step, not running the next ones with empty ids', { timeout: 30_000 }, async () => {
    const dir = await curlDir()
    // Nothing listens there: the login, the block's first step, fails.
    const port = await consecutiveFreePorts(5)
    const [first] = await walkthroughBlocks()
    const stopped = await runScript(asScript([first!], dir), dir, 1, umsAt(port))
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toContain('block 1 stopped')
    expect(stopped.calls.map((call) => `${call.method} ${call.path}`)).toEqual(['POST /oauth/token'])
  })
})

describe('sandbox settings', () => {
  it('listens on 127.0.0.1 unless HOST says otherwise', { timeout: 60_000 }, async () => {
    const port = await consecutiveFreePorts(5)
    const sandbox = await startSandbox(port)
    // pino writes its lines asynchronously: the banner may come first.
    await sandbox.waitForOutput('"msg":"Server listening at')
    const listening = [...sandbox.stdout().matchAll(/"msg":"Server listening at ([^"]+)"/g)].map((match) => match[1])
    expect(listening).toEqual([`http://127.0.0.1:${port}`])
    expect(sandbox.stdout()).toContain(`(bound to 127.0.0.1)`)
    expect(sandbox.stdout()).toContain(`README has the whole walkthrough: run it with UMS=http://localhost:${port}`)
  })

  it('names the job store in its banner: memory by default, else the store, never its credentials', { timeout: 60_000 }, async () => {
    const inMemory = await startSandbox(await consecutiveFreePorts(5))
    expect(inMemory.stdout()).toMatch(/^jobs: in memory \(lost when the sandbox stops; JOBS_STORE_URL keeps them in PostgreSQL, Redis or MongoDB\)$/m)
    const store = await isolatedRedis()
    cleanups.push(() => store.cleanup())
    const inRedis = await startSandbox(await consecutiveFreePorts(5), { JOBS_STORE_URL: 'redis://:s3cret@127.0.0.1:6379/0', JOBS_COLLECTION_NAME: store.name })
    expect(inRedis.stdout()).toMatch(new RegExp(`^jobs: Redis at 127\\.0\\.0\\.1:6379, store ${store.name} \\(from JOBS_STORE_URL\\)$`, 'm'))
    expect(inRedis.stdout()).not.toContain('s3cret')
  })

  it('takes the configuration variables from the environment, ignoring with a warning those it wires itself', { timeout: 60_000 }, async () => {
    const port = await consecutiveFreePorts(5)
    const sandbox = await startSandbox(port, {
      USERINFO_ADDITIONAL_PROPERTIES: 'name',
      BULK_MAX_USERS: '1',
      LOG_LEVEL: 'warn',
      AUTH_SERVICE: 'http://127.0.0.1:9',
      UMS_SERVICE: 'http://127.0.0.1:9',
    })
    expect(sandbox.stderr()).toContain('ignoring AUTH_SERVICE, UMS_SERVICE from the environment')
    const base = `http://127.0.0.1:${port}`
    const login = await request(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mario.rossi', password: 'Sandbox-Pass1' }),
    })
    expect(login.statusCode).toBe(200)
    const { accessToken } = (await login.body.json()) as { accessToken: string }
    const userinfo = await request(`${base}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(userinfo.statusCode).toBe(200)
    const profile = (await userinfo.body.json()) as Record<string, unknown>
    expect(profile.name).toBe('Mario')
    expect(profile).not.toHaveProperty('surname')
    expect(profile).not.toHaveProperty('permissions')
    const bulk = await request(`${base}/jobs/change-password/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ authUsersIds: ['auth0|a', 'auth0|b'] }),
    })
    expect(bulk.statusCode).toBe(400)
    await bulk.body.text()
    expect(sandbox.stdout()).not.toContain('request completed')
  })

  it('stops with one line when HTTP_PORT leaves no room for the emulators', { timeout: 60_000 }, async () => {
    const sandbox = start(process.execPath, [bundled('src/sandbox/index.ts')], { cwd: ROOT, env: baseEnv({ HTTP_PORT: '65533' }) })
    const { code } = await sandbox.exited
    expect(code).toBe(1)
    expect(sandbox.stderr().trim()).toBe('HTTP_PORT must be a port from 1 to 65531 in the sandbox (the emulators take the next four), got "65533"')
  })
})
