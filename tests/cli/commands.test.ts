// Every `ums` command as a child process against a sandbox stack: its JSON on stdout (stdout is not
// a terminal, so json is the default), its progress lines on stderr, and the exit codes: 0 done,
// 1 an API error or a job that ended with failures, 2 a usage error. A child process takes about
// half a second to start: the tests that run many get a longer timeout.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { freePort } from '../../src/sandbox/stack.js'
import { baseEnv } from '../helpers/processes.js'
import { useStack } from '../helpers/stack.js'
import { runUms, stdoutJson, umsExecutable, type CliRun } from './run.js'

const PASSWORD = 'Secret-Pass1'
const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '50', AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '40', RECONCILE_RECENT_WINDOW_MS: '0' } })
const ums = (...args: string[]) => runUms(args, { url: stack.current.url })

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ums-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A run that succeeded silently on stderr; its JSON. */
function ok(run: CliRun): any {
  expect(run.stderr, run.stderr).toBe('')
  expect(run.code, run.stderr).toBe(0)
  return stdoutJson(run)
}

/** A CRUD-only customer (no auth user yet): its _id. */
function seedCrudUser(name: string, fields: Record<string, unknown> = {}): string {
  const [id] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name, surname: 'Neri', email: `${name.toLowerCase()}@example.com`, username: name.toLowerCase(), ...fields }])
  return id!
}

describe('ums users', { timeout: 60_000 }, () => {
  it('create, get, list, count, patch, state and delete print the documented bodies', async () => {
    const created = ok(await ums('users', 'create', '--group', 'customer', '--set', 'name=Anna', '--set', 'surname=Bianchi', '--set', 'email=anna@example.com', '--set', 'username=anna', '--set', 'age=42', '--set', 'tags=["a"]'))
    expect(created).toEqual({ _id: expect.stringMatching(/^[0-9a-f]{24}$/) })
    const anna: string = created._id
    await writeFile(join(dir, 'carlo.json'), JSON.stringify({ name: 'Carlo', surname: 'Verdi', email: 'carlo@example.com', username: 'carlo', age: 1 }))
    const carlo: string = ok(await ums('users', 'create', '--group', 'customer', '--file', join(dir, 'carlo.json'), '--set', 'age=50', '--postpone-auth'))._id

    expect(ok(await ums('users', 'get', anna))).toMatchObject({ _id: anna, name: 'Anna', age: 42, tags: ['a'], authUserId: expect.any(String) })
    expect(ok(await ums('users', 'get', carlo))).toMatchObject({ name: 'Carlo', age: 50 })
    expect(ok(await ums('users', 'get', carlo))).not.toHaveProperty('authUserId')

    expect(ok(await ums('users', 'count'))).toBe(2)
    expect(ok(await ums('users', 'count', '--query', '{"age":{"$gt":45}}'))).toBe(1)
    expect(ok(await ums('users', 'list', '--query', '{"name":"Carlo"}', '--fields', 'name,age'))).toEqual([{ _id: carlo, name: 'Carlo', age: 50 }])
    expect(ok(await ums('users', 'list', '--sort', '-name', '--limit', '1', '--fields', 'name'))).toEqual([{ _id: carlo, name: 'Carlo' }])
    expect(ok(await ums('users', 'list', '--sort', 'name', '--skip', '1', '--fields', 'name'))).toEqual([{ _id: carlo, name: 'Carlo' }])

    const patched = ok(await ums('users', 'patch', anna, '--set', 'surname=Rossi', '--unset', 'age', '--push', 'tags="b"'))
    expect(patched).toMatchObject({ _id: anna, surname: 'Rossi', tags: ['a', 'b'] })
    expect(patched).not.toHaveProperty('age')

    expect(ok(await ums('users', 'state', '--to', 'TRASH', '--id', anna, '--id', carlo))).toBe(2)
    expect(ok(await ums('users', 'list', '--state', 'TRASH', '--fields', 'name')).map((user: any) => user.name).sort()).toEqual(['Anna', 'Carlo'])
    expect(ok(await ums('users', 'state', '--to', 'DRAFT', '--query', '{"name":"Carlo"}'))).toBe(1)
    expect(ok(await ums('users', 'list', '--state', 'DRAFT', '--fields', 'name'))).toEqual([{ _id: carlo, name: 'Carlo' }])

    expect(ok(await ums('users', 'delete', carlo))).toEqual({ _id: carlo, deleted: true })
    expect(ok(await ums('users', 'count', '--query', '{}'))).toBe(0)
  })

  it('import prints the result, its upload progress going to stderr', async () => {
    const csv = join(dir, 'users.csv')
    await writeFile(csv, 'userGroup;name;surname;email;age;tags\ncustomer;Elena;Galli;elena@example.com;34;[x, y]\ncustomer;Gina;;gina@example.com;;\n')
    const run = await ums('users', 'import', csv, '--delimiter', ';', '--encoding', 'utf8', '--escape', '"')
    expect(run.code, run.stderr).toBe(0)
    expect(stdoutJson(run)).toEqual({ updated: [], inserted: [expect.any(String)], invalid: [{ row: 2, error: 'Skipping record: invalid json schema, missing required field surname' }] })
    // Off a terminal: lines, the last one at the whole body.
    const lines = run.stderr.trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(1)
    for (const line of lines) expect(line).toMatch(/^upload: \d+ B\/\d+ B \(\d+%\), .+\/s, ETA \S+$/)
    expect(lines.at(-1)).toMatch(/^upload: (\d+ B)\/\1 \(100%\)/)
    expect(ok(await ums('users', 'list', '--query', '{"name":"Elena"}', '--fields', 'tags'))).toEqual([{ _id: expect.any(String), tags: ['x', 'y'] }])
  })
})

describe('ums jobs', { timeout: 60_000 }, () => {
  it('activate answers the 202 body; jobs get --wait prints the ended job', async () => {
    const ids = ['Dario', 'Elisa'].map((name) => seedCrudUser(name))
    const accepted = ok(await ums('jobs', 'activate', '--id', ids[0]!, '--id', ids[1]!))
    expect(accepted).toEqual({ jobId: expect.any(String), status: 'pending', jobCreatedAt: expect.any(String) })
    const run = await ums('jobs', 'get', 'bulk-activation', accepted.jobId, '--wait')
    expect(run.code, run.stderr).toBe(0)
    expect(stdoutJson(run)).toMatchObject({ jobId: accepted.jobId, status: 'completed', summary: { inserted: 2, failed: 0 }, failures: [] })
    expect(ok(await ums('jobs', 'get', 'bulk-activation', accepted.jobId))).toEqual(stdoutJson(run))
  })

  it('activate --ids-file and --query --wait; a job with failed users exits 1', async () => {
    const fromFile = ['Fabio', 'Gaia'].map((name) => seedCrudUser(name))
    await writeFile(join(dir, 'ids.txt'), `# users to activate\n${fromFile.join('\n')}\n\n`)
    const run = await ums('jobs', 'activate', '--ids-file', join(dir, 'ids.txt'), '--wait')
    expect(run.code, run.stderr).toBe(0)
    expect(stdoutJson(run)).toMatchObject({ status: 'completed', summary: { inserted: 2, failed: 0 } })
    expect(run.stderr).toMatch(/^bulk-activation: \d+\/2 /m)

    seedCrudUser('Hana', { tags: ['batch'] })
    seedCrudUser('Ivo', { tags: ['batch'] })
    // An auth user with Ivo's email already: with --no-upsert, Ivo fails.
    stack.current.auth0.seedUser({ email: 'ivo@example.com', username: 'ivo-elsewhere', password: PASSWORD })
    const failing = await ums('jobs', 'activate', '--query', '{"tags":"batch"}', '--no-upsert', '--wait')
    expect(failing.code, failing.stderr).toBe(1)
    expect(stdoutJson(failing)).toMatchObject({ status: 'completed', summary: { inserted: 1, failed: 1 }, failures: [{ userId: expect.any(String), errors: [expect.objectContaining({ code: expect.any(String) })] }] })
  })

  it('change-password --wait prints the ended job, with progress lines on stderr', async () => {
    const ids = Array.from({ length: 12 }, (_, index) => stack.current.auth0.seedUser({ email: `p${index}@example.com`, username: `p${index}`, password: PASSWORD }).user_id)
    await writeFile(join(dir, 'auth-ids.txt'), ids.slice(2).join('\n'))
    const one = ok(await ums('jobs', 'change-password', '--id', ids[0]!, '--id', ids[1]!))
    expect(one).toEqual({ jobId: expect.any(String), status: 'pending', jobCreatedAt: expect.any(String) })

    const run = await ums('jobs', 'change-password', '--ids-file', join(dir, 'auth-ids.txt'), '--wait')
    expect(run.code, run.stderr).toBe(0)
    expect(stdoutJson(run)).toMatchObject({ status: 'completed', summary: { completed: 10, failed: 0, total: 10 } })
    expect(run.stderr).toMatch(/^change-password: 10\/10 \(100%\), [\d.]+\/s, ETA 0s$/m)
  })

  it('reconcile: a dry run, then --repair --delete-orphan-auth-users', async () => {
    stack.current.auth0.seedUser({ email: 'orphan@example.com', username: 'orphan', password: PASSWORD })
    const accepted = ok(await ums('jobs', 'reconcile'))
    expect(accepted.status).toBe('pending')
    const dry = ok(await ums('jobs', 'get', 'reconcile', accepted.jobId, '--wait').then((run) => ({ ...run, stderr: '' })))
    expect(dry).toMatchObject({ status: 'completed', dryRun: true, summary: { found: { 'orphan-auth-user': 1 } }, findings: [{ check: 'orphan-auth-user', action: 'reported' }] })

    const repair = await ums('jobs', 'reconcile', '--repair', '--delete-orphan-auth-users', '--wait')
    expect(repair.code, repair.stderr).toBe(0)
    expect(stdoutJson(repair)).toMatchObject({ dryRun: false, summary: { repaired: 1, repairFailed: 0 }, findings: [{ check: 'orphan-auth-user', action: 'repaired' }] })
  })
})

describe('exit codes', { timeout: 60_000 }, () => {
  it('1 on an API error, printed as code: message on stderr with nothing on stdout', async () => {
    const missing = await ums('users', 'get', '5f1c0ffee0ddba11ab1e0001')
    expect(missing).toMatchObject({ code: 1, stdout: '' })
    expect(missing.stderr).toBe('UMS_USER_NOT_FOUND: User 5f1c0ffee0ddba11ab1e0001 not found\n')

    const invalid = await ums('users', 'create', '--group', 'customer', '--set', 'name=Solo')
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toMatch(/^UMS_GROUP_SCHEMA_MISMATCH: .*surname/)

    const job = await ums('jobs', 'get', 'change-password', 'a5b0c0de-0000-4000-8000-000000000000')
    expect(job.code).toBe(1)
    expect(job.stderr).toMatch(/^UMS_JOB_NOT_FOUND: /)

    const noMatch = await ums('jobs', 'activate', '--query', '{"name":"Nobody"}')
    expect(noMatch).toMatchObject({ code: 1, stdout: '', stderr: 'UMS_CLI_NO_MATCH: no user matches --query: nothing to activate\n' })

    const nowhere = await runUms(['users', 'count'], { url: `http://127.0.0.1:${await freePort()}` })
    expect(nowhere.code).toBe(1)
    expect(nowhere.stderr).toBe('UMS_CLIENT_UNREACHABLE: ums could not be reached: ECONNREFUSED\n')
  })

  it.each([
    ['no command', []],
    ['an unknown command', ['users', 'rename']],
    ['an unknown option', ['users', 'list', '--colour']],
    ['a missing required option', ['users', 'create', '--set', 'name=x']],
    ['a missing argument', ['users', 'get']],
    ['an extra argument', ['users', 'get', 'a', 'b']],
    ['a --query that is not JSON', ['users', 'list', '--query', '{name:1}']],
    ['a --query that is not an object', ['users', 'count', '--query', '[1]']],
    ['a --limit that is not a number', ['users', 'list', '--limit', 'ten']],
    ['a --set without =', ['users', 'patch', 'x', '--set', 'name']],
    ['a patch without operators', ['users', 'patch', 'x']],
    ['an unknown state', ['users', 'state', '--to', 'GONE', '--id', 'x']],
    ['neither --id nor --query', ['users', 'state', '--to', 'TRASH']],
    ['both --id and --query', ['users', 'state', '--to', 'TRASH', '--id', 'x', '--query', '{}']],
    ['an unknown job kind', ['jobs', 'get', 'export', 'x']],
    ['an ids file that does not exist', ['jobs', 'change-password', '--ids-file', '/nonexistent/ids.txt']],
    ['an --output mode that does not exist', ['--output', 'xml', 'users', 'count']],
    ['a --header without a colon', ['--header', 'miauserid', 'users', 'count']],
    ['a CSV file that does not exist', ['users', 'import', '/nonexistent/users.csv']],
  ])('2 on a usage error: %s, told on stderr before any call', async (_case, args) => {
    const before = stack.current.crud.requestsTo('GET', /.*/).length
    const run = await ums(...args)
    expect(run.code, run.stderr).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(/error|Usage: ums/)
    expect(stack.current.crud.requestsTo('GET', /.*/).length).toBe(before)
  })

  it('0 with --help, the exit codes documented in it', async () => {
    const help = await ums('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: ums [options] [command]')
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+an API error/)
    expect(help.stdout).toMatch(/\n\s+2\s+a usage error/)
    const jobsHelp = await ums('jobs', 'activate', '--help')
    expect(jobsHelp.code).toBe(0)
    expect(jobsHelp.stdout).toContain('--no-upsert')
  })
})

describe('global options and output', { timeout: 60_000 }, () => {
  it('--url wins over UMS_URL, and --header is sent on every call', async () => {
    const run = await runUms(['--url', stack.current.url, '--header', 'x-request-id: cli-test', '--header', 'miauserid:admin', 'users', 'count'], {
      url: `http://127.0.0.1:${await freePort()}`,
    })
    expect(ok(run)).toBe(0)
    const [sent] = stack.current.crud.requestsTo('GET', /^\/users\/count/)
    expect(sent?.headers).toMatchObject({ 'x-request-id': 'cli-test', miauserid: 'admin' })
  })

  it('--output table prints tables for people', async () => {
    seedCrudUser('Luca', { age: 30 })
    const list = await ums('--output', 'table', 'users', 'list', '--fields', 'name,age')
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/│ _id\s+│ name\s+│ age\s+│/)
    expect(list.stdout).toMatch(/│ [0-9a-f]{24} │ Luca\s+│ 30\s+│/)
    const count = await ums('users', 'count', '--output', 'table')
    expect(count.stdout).toBe('1\n')
  })

  it('the json output parses in a pipe: ums … --output json | node -e', async () => {
    seedCrudUser('Mara', { age: 28 })
    seedCrudUser('Nico', { age: 35 })
    // Enough output to fill a pipe's buffer: what `head` leaves unread.
    stack.current.crud.seed(USERS_ENDPOINT, Array.from({ length: 150 }, (_, index) => ({ userGroup: 'customer', name: `Filler${index}`, surname: 'x'.repeat(2_000), __STATE__: 'DRAFT' })))
    const bin = await mkdtemp(join(dir, 'bin-'))
    await umsExecutable(bin)
    const script = `set -euo pipefail
ums --output json users list --fields name,age | node -e '
  const users = JSON.parse(require("fs").readFileSync(0, "utf8"))
  console.log(users.map((user) => user.name + "=" + user.age).sort().join(","))'
ums --output json users count --query '{"age":{"$gt":30}}' | node -e 'console.log("older: " + JSON.parse(require("fs").readFileSync(0, "utf8")))'
# A reader that stops early closes the pipe: ums ends quietly with 0 (pipefail would tell otherwise).
ums --output json users list --state DRAFT --limit 200 | head -c 16 > /dev/null
`
    const env = baseEnv({ UMS_URL: stack.current.url })
    env.PATH = `${bin}${delimiter}${env.PATH}`
    const bash = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    bash.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise((resolve) => bash.once('close', resolve))
    expect(code, stderr).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toBe('Mara=28,Nico=35\nolder: 1\n')
  })
})
