// The command line in this process (runCli with its streams and Ctrl-C in the test's hands) against
// a sandbox stack: Ctrl-C while waiting, the output mode a terminal gets, and the tables of jobs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type CliIO } from '../../sdk/src/cli/program.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { call, useStack } from '../helpers/stack.js'
import { waitUntil } from '../helpers/wait.js'

const PASSWORD = 'Secret-Pass1'
const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '50', AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '40', RECONCILE_RECENT_WINDOW_MS: '0' } })

interface Captured {
  io: CliIO
  stdout: () => string
  stderr: () => string
  /** Presses Ctrl-C: runs the handler the program registered, if one is. */
  interrupt: () => boolean
}

function captured(options: { tty?: boolean; onStderr?: (text: string) => void } = {}): Captured {
  let stdout = ''
  let stderr = ''
  const handlers = new Set<() => void>()
  const io: CliIO = {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty === true },
    stderr: {
      write: (text: string) => {
        stderr += text
        options.onStderr?.(text)
      },
      isTTY: false,
    },
    env: { UMS_URL: stack.current.url },
    onInterrupt(handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    pollIntervalMs: 20,
  }
  return {
    io,
    stdout: () => stdout,
    stderr: () => stderr,
    interrupt: () => {
      for (const handler of handlers) handler()
      return handlers.size > 0
    },
  }
}

function authUsers(count: number): string[] {
  return Array.from({ length: count }, (_, index) => stack.current.auth0.seedUser({ email: `u${index}@example.com`, username: `u${index}`, password: PASSWORD }).user_id)
}

describe('Ctrl-C while waiting', () => {
  it('stops watching, leaves the job running, prints the command that resumes, and exits 130', async () => {
    const ids = authUsers(40)
    let pressed = false
    const terminal: Captured = captured({
      // Ctrl-C at the first progress line: the job has started and is far from done.
      onStderr: (text) => {
        if (!pressed && text.startsWith('change-password: ')) pressed = terminal.interrupt()
      },
    })
    const code = await runCli(['jobs', 'change-password', ...ids.flatMap((id) => ['--id', id]), '--wait'], terminal.io)

    expect(pressed).toBe(true)
    expect(code).toBe(130)
    expect(terminal.stdout()).toBe('')
    const resume = /Resume with:\n {2}(ums jobs get change-password ([0-9a-f-]{36}) --wait)\n$/.exec(terminal.stderr())
    expect(resume, terminal.stderr()).not.toBeNull()

    // The job went on: the printed command watches it to its end.
    const resumed = captured()
    expect(await runCli(resume![1]!.split(' ').slice(1), resumed.io)).toBe(0)
    expect(JSON.parse(resumed.stdout())).toMatchObject({ jobId: resume![2], status: 'completed', summary: { completed: 40, failed: 0 } })
    expect(stack.current.auth0.outbox).toHaveLength(40)
  })

  it('repeats --url in the resume command when it was given, never the headers', async () => {
    const ids = authUsers(30)
    let pressed = false
    const terminal: Captured = captured({
      onStderr: (text) => {
        if (!pressed && text.startsWith('change-password: ')) pressed = terminal.interrupt()
      },
    })
    const code = await runCli(['--url', stack.current.url, '--header', 'authorization: Bearer secret', 'jobs', 'change-password', ...ids.flatMap((id) => ['--id', id]), '--wait'], terminal.io)
    expect(code).toBe(130)
    expect(terminal.stderr()).toMatch(new RegExp(`\n {2}ums --url ${stack.current.url} jobs get change-password [0-9a-f-]{36} --wait \\(with your --header options\\)\n$`))
    expect(terminal.stderr()).not.toContain('secret')
  })

  it('is not listened to outside a wait', async () => {
    const terminal = captured()
    expect(await runCli(['users', 'count'], terminal.io)).toBe(0)
    expect(terminal.interrupt()).toBe(false)
  })
})

describe('output', () => {
  it('is a table when stdout is a terminal, JSON otherwise', async () => {
    expect(await runCli(['users', 'create', '--group', 'customer', '--set', 'name=Anna', '--set', 'surname=Bianchi', '--postpone-auth'], captured().io)).toBe(0)
    const terminal = captured({ tty: true })
    expect(await runCli(['users', 'list', '--fields', 'name'], terminal.io)).toBe(0)
    expect(terminal.stdout()).toMatch(/^┌─+┬─+┐\n│ _id\s+│ name\s+│\n├─+┼─+┤\n│ [0-9a-f]{24} │ Anna\s+│\n└─+┴─+┘\n$/)
    const pipe = captured({ tty: false })
    expect(await runCli(['users', 'list', '--fields', 'name'], pipe.io)).toBe(0)
    expect(JSON.parse(pipe.stdout())).toEqual([{ _id: expect.any(String), name: 'Anna' }])
  })

  it('shows a started job with the command that follows it', async () => {
    const terminal = captured({ tty: true })
    expect(await runCli(['jobs', 'reconcile'], terminal.io)).toBe(0)
    expect(terminal.stdout()).toMatch(/│ jobId\s+│ [0-9a-f-]{36}\s+│/)
    expect(terminal.stdout()).toMatch(/Follow it: ums jobs get reconcile [0-9a-f-]{36} --wait\n$/)
  })

  it('shows the findings of a reconciliation per check, then each finding', async () => {
    authUsers(2)
    const terminal = captured({ tty: true })
    expect(await runCli(['jobs', 'reconcile', '--wait'], terminal.io)).toBe(0)
    const text = terminal.stdout()
    expect(text).toMatch(/│ status\s+│ completed\s+│/)
    expect(text).toMatch(/│ dryRun\s+│ true\s+│/)
    expect(text).toMatch(/│ check\s+│ found │ repaired │ repair failed │ skipped \(recent\) │/)
    expect(text).toMatch(/│ orphan-auth-user\s+│ 2\s+│ 0\s+│ 0\s+│ 0\s+│/)
    expect(text).toMatch(/│ auth-user-missing\s+│ 0\s+│/)
    expect(text.match(/│ orphan-auth-user\s+│\s+│ auth0\|[0-9a-f]+ │\s+│ reported │/g)).toHaveLength(2)
  })

  it("shows a pending reconciliation's pages read and findings so far, and its --wait progress lines too", async () => {
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Carla', surname: 'Verdi', email: 'carla@example.com', username: 'carla' }])
    authUsers(1)
    // The auth users' pages come slowly: the job is read while it waits for one.
    stack.current.auth0.injectFault({ method: 'GET', path: '/users', match: (request) => '_sk' in (request.query as object), delayMs: 1_500, times: 1 })
    const started = captured()
    expect(await runCli(['jobs', 'reconcile'], started.io)).toBe(0)
    const { jobId } = JSON.parse(started.stdout()) as { jobId: string }
    await waitUntil(async () => (await call(stack.current.url, 'GET', `/jobs/reconcile/${jobId}`)).body.progress?.pagesRead === 1, 'the CRUD page to be read')
    const terminal = captured({ tty: true })
    expect(await runCli(['jobs', 'get', 'reconcile', jobId], terminal.io)).toBe(0)
    expect(terminal.stdout()).toMatch(/│ status\s+│ pending\s+│/)
    expect(terminal.stdout()).toMatch(/│ progress\s+│ 1\/\d+, pages 1, findings 0\s+│/)

    const waited = captured()
    expect(await runCli(['jobs', 'get', 'reconcile', jobId, '--wait'], waited.io)).toBe(0)
    expect(waited.stderr()).toMatch(/^reconcile \(users and auth users checked\): 1\/\d+ \(\d+%\), [\d.]+\/s, ETA \S+, pages 1, findings 0$/m)
  })

  it('shows the failures of an activation and exits 1 for them, waited for or read', async () => {
    const [userId] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Ivo', surname: 'Neri', email: 'ivo@example.com', username: 'ivo' }])
    stack.current.auth0.seedUser({ email: 'ivo@example.com', username: 'ivo-elsewhere', password: PASSWORD })
    const terminal = captured({ tty: true })
    expect(await runCli(['jobs', 'activate', '--id', userId!, '--no-upsert', '--wait'], terminal.io)).toBe(1)
    expect(terminal.stdout()).toMatch(/│ failed\s+│ 1\s+│/)
    expect(terminal.stdout()).toMatch(new RegExp(`│ userId\\s+│ code\\s+│ message\\s+│\\n├[─┼]+┤\\n│ ${userId} │ \\S+`))
    const jobId = /│ job\s+│ bulk-activation ([0-9a-f-]{36})/.exec(terminal.stdout())![1]!
    const read = captured()
    expect(await runCli(['jobs', 'get', 'bulk-activation', jobId], read.io)).toBe(1)
    expect(JSON.parse(read.stdout())).toMatchObject({ status: 'completed', summary: { failed: 1 } })
  })

  it('shows the invalid rows of an import with their reasons', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ums-cli-'))
    try {
      await writeFile(join(dir, 'users.csv'), 'userGroup,name,surname\ncustomer,Elena,Galli\ncustomer,Gina,\nnobody,Franco,Riva\n')
      const terminal = captured({ tty: true })
      expect(await runCli(['users', 'import', join(dir, 'users.csv')], terminal.io)).toBe(0)
      expect(terminal.stdout()).toMatch(/│ inserted │ updated │ invalid │\n├[─┼]+┤\n│ 1\s+│ 0\s+│ 2\s+│/)
      expect(terminal.stdout()).toMatch(/│ 2\s+│ Skipping record: invalid json schema, missing required field surname │/)
      expect(terminal.stdout()).toMatch(/│ 3\s+│ .*userGroup.*│/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
