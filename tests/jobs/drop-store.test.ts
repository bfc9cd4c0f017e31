// `npm run jobs:drop-store` on each store the machine runs: after a job has run on an isolated
// store, the command asks first (any answer but yes removes nothing), then removes everything the
// store's name created, Agenda's and ums's alike, until nothing of it is left; `--yes` skips the
// question. MongoDB (no server here) is checked for the one line it gives when unreachable.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Client } from 'pg'
import { freePort, startStack } from '../../src/sandbox/stack.js'
import { call, isolatedJobStore, jobStoreEnv } from '../helpers/stack.js'
import { inspectRedis, type IsolatedStore } from '../helpers/job-stores.js'
import { seedAuthUsers } from '../helpers/job-users.js'
import { baseEnv } from '../helpers/processes.js'
import { waitUntil } from '../helpers/wait.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs the npm script with `env`, `args` and `input` on stdin; its exit code and output. */
function dropStore(env: Record<string, string>, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'jobs:drop-store', '--', ...args], { cwd: ROOT, env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

/**
 * A store left with a job in the middle (the stack closed while it ran: it is handed over, for a
 * replica that never comes): its record, journal and Agenda's job are all there.
 */
async function usedStore(kind: 'postgres' | 'redis'): Promise<IsolatedStore> {
  const store = (await isolatedJobStore(kind))!
  cleanups.push(() => store.cleanup())
  const stack = await startStack({ env: { ...jobStoreEnv(store), AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '5' } })
  try {
    const created = await call(stack.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: seedAuthUsers(stack, 50, 'drop') } })
    expect(created.status).toBe(202)
    await waitUntil(() => stack.auth0.outbox.length >= 2, 'the first emails')
  } finally {
    await stack.close()
  }
  return store
}

/** What the isolated schema holds: relations (tables, indexes, sequences) and functions. */
async function postgresObjects(store: IsolatedStore): Promise<string[]> {
  const client = new Client({ connectionString: store.url })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = current_schema()::regnamespace
       UNION ALL SELECT proname || '()' FROM pg_proc WHERE pronamespace = current_schema()::regnamespace ORDER BY 1`,
    )
    return rows.map((row) => row.name)
  } finally {
    await client.end()
  }
}

async function redisKeys(store: IsolatedStore): Promise<string[]> {
  return inspectRedis(async (client) => (await client.keys(`${store.name}:*`)).sort())
}

describe('npm run jobs:drop-store', () => {
  it('on PostgreSQL: asks first, then drops every table and the function the store created', { timeout: 60_000 }, async () => {
    const store = await usedStore('postgres')
    const name = store.name
    const lower = name.toLowerCase()
    const before = await postgresObjects(store)
    expect(before).toEqual(expect.arrayContaining([name, `${name}_logs`, `${name}_records`, `${name}_checkpoints`, `${name}_leases`, `update_${lower}_updated_at()`]))
    const env = jobStoreEnv(store)

    const declined = await dropStore(env, [], 'no\n')
    expect(declined.code).toBe(1)
    expect(declined.stderr).toContain(`Remove every job, journal and lease of PostgreSQL at 127.0.0.1:5432, store ${name} (from JOBS_STORE_URL)?`)
    expect(declined.stderr).toContain('Nothing removed.')
    expect(await postgresObjects(store)).toEqual(before)

    const confirmed = await dropStore(env, [], 'yes\n')
    expect(confirmed.code).toBe(0)
    expect(confirmed.stdout).toBe(
      [
        `Removed from PostgreSQL at 127.0.0.1:5432, store ${name} (from JOBS_STORE_URL):`,
        `  table "${name}"`,
        `  table "${name}_logs"`,
        `  table "${name}_records"`,
        `  table "${name}_checkpoints"`,
        `  table "${name}_leases"`,
        `  function update_${lower}_updated_at()`,
        '',
      ].join('\n'),
    )
    expect(await postgresObjects(store)).toEqual([])

    const again = await dropStore(env, ['--yes'])
    expect(again).toMatchObject({ code: 0, stdout: `PostgreSQL at 127.0.0.1:5432, store ${name} (from JOBS_STORE_URL) held nothing: nothing removed.\n` })
  })

  it('on Redis: --yes removes every key of the store, Agenda`s and ums`s, and no other', { timeout: 60_000 }, async () => {
    const store = await usedStore('redis')
    const neighbour = `${store.name}x:ums:record:1`
    await inspectRedis((client) => client.set(neighbour, 'kept'))
    cleanups.push(() => inspectRedis((client) => client.del(neighbour)).then(() => undefined))
    const keys = await redisKeys(store)
    expect(keys.some((key) => key.startsWith(`${store.name}:agenda:`))).toBe(true)
    expect(keys.some((key) => key.startsWith(`${store.name}:ums:`))).toBe(true)

    const dropped = await dropStore(jobStoreEnv(store), ['--yes'])
    expect(dropped.code).toBe(0)
    expect(dropped.stdout).toMatch(new RegExp(`^Removed from Redis at 127\\.0\\.0\\.1:6379, store ${store.name} \\(from JOBS_STORE_URL\\):\\n  \\d+ keys? ${store.name}:ums:\\*\\n  \\d+ keys? ${store.name}:agenda:\\*\\n$`))
    expect(await redisKeys(store)).toEqual([])
    expect(await inspectRedis((client) => client.get(neighbour))).toBe('kept')
  })

  it('says in one line when there is no store, or the store cannot be reached', { timeout: 60_000 }, async () => {
    const memory = await dropStore({}, ['--yes'])
    expect(memory).toMatchObject({ code: 1, stderr: 'jobs:drop-store: JOBS_STORE_URL and MONGODB_URL are unset: the jobs are kept in memory, and there is no store to drop\n' })
    const port = await freePort()
    const mongo = await dropStore({ MONGODB_URL: `mongodb://ums:s3cret@127.0.0.1:${port}/ums` }, ['--yes'])
    expect(mongo.code).toBe(1)
    expect(mongo.stderr).toMatch(new RegExp(`^jobs:drop-store: MongoDB job store unreachable at 127\\.0\\.0\\.1:${port}: .*\\n$`))
    expect(mongo.stderr).not.toContain('s3cret')
    const unknownOption = await dropStore({ JOBS_STORE_URL: 'redis://127.0.0.1:6379' }, ['--force'])
    expect(unknownOption).toMatchObject({ code: 1, stderr: 'jobs:drop-store: usage: npm run jobs:drop-store [-- --yes]\n' })
  })
})
