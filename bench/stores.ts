// The job stores a scenario can run ums on, and the isolation of each run on the machine's shared
// servers: a PostgreSQL schema created for the run (put first in the search path through the
// URL) and dropped afterwards, or a Redis key prefix (JOBS_COLLECTION_NAME) whose keys are deleted
// afterwards. `memory` is ums without JOBS_STORE_URL. Both servers are on loopback.
import { randomBytes } from 'node:crypto'
import { Client } from 'pg'
import { Redis } from 'ioredis'

export type StoreKind = 'memory' | 'postgres' | 'redis'

export const STORE_LABELS: Record<StoreKind, string> = { memory: 'in-memory', postgres: 'PostgreSQL', redis: 'Redis' }

/** Every durable store, in the order scenarios run and report them. */
export const DURABLE_STORES: Array<Exclude<StoreKind, 'memory'>> = ['postgres', 'redis']

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = 'redis://127.0.0.1:6379'
const CONNECT_TIMEOUT_MS = 2_000

export interface IsolatedStore {
  kind: StoreKind
  /** ums's environment for this store (empty for memory). */
  env: Record<string, string>
  /** Removes what the run stored; safe to call when nothing was. */
  cleanup(): Promise<void>
}

function tag(): string {
  return `ums_bench_${randomBytes(5).toString('hex')}`
}

async function withPostgres<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  // An error of the idle connection after the work is done must not end the harness.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at 127.0.0.1:5432 (database test, user postgres): ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function withRedis<T>(work: (client: Redis) => Promise<T>): Promise<T> {
  // No retries: an absent server fails the first command at once instead of stalling the run.
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    client.disconnect()
    throw new Error(`Redis is not reachable at 127.0.0.1:6379: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    return await work(client)
  } finally {
    await client.quit()
  }
}

async function isolatedPostgres(): Promise<IsolatedStore> {
  const schema = tag()
  await withPostgres((client) => client.query(`CREATE SCHEMA "${schema}"`))
  return {
    kind: 'postgres',
    env: { JOBS_STORE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, JOBS_COLLECTION_NAME: 'userManagerJobs' },
    cleanup: () => withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(() => undefined),
  }
}

async function isolatedRedis(): Promise<IsolatedStore> {
  const prefix = tag()
  await withRedis((client) => client.ping())
  return {
    kind: 'redis',
    env: { JOBS_STORE_URL: REDIS_URL, JOBS_COLLECTION_NAME: prefix },
    cleanup: () =>
      withRedis(async (client) => {
        let cursor = '0'
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500)
          if (keys.length > 0) await client.del(...keys)
          cursor = next
        } while (cursor !== '0')
      }),
  }
}

/** A store of its own for one run; call `cleanup()` once ums is stopped. */
export function isolatedStore(kind: StoreKind): Promise<IsolatedStore> {
  if (kind === 'postgres') return isolatedPostgres()
  if (kind === 'redis') return isolatedRedis()
  return Promise.resolve({ kind, env: {}, cleanup: async () => {} })
}
