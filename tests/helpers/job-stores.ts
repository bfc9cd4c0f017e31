// Isolation for tests of the durable job stores: each caller gets its own PostgreSQL schema or
// Redis key prefix on the machine's shared servers, and removes it afterwards. When a server is
// down, the error says how to start it, in one line.
import { randomBytes } from 'node:crypto'
import { Client } from 'pg'
import { Redis } from 'ioredis'

export interface IsolatedStore {
  /** The URL to open the store with. */
  url: string
  /** The store's name (JOBS_COLLECTION_NAME). */
  name: string
  /** Drops everything stored under this isolation. */
  cleanup(): Promise<void>
}

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test'
const POSTGRES_DOWN =
  'PostgreSQL is not reachable at 127.0.0.1:5432: start it with pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
const REDIS_URL = 'redis://127.0.0.1:6379'
const REDIS_DOWN =
  'Redis is not reachable at 127.0.0.1:6379: start it with redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
const CONNECT_TIMEOUT_MS = 2_000

function hex(): string {
  return randomBytes(6).toString('hex')
}

async function withPostgres<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  // A connection lost after the work is done must not fail the test run.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch {
    throw new Error(POSTGRES_DOWN)
  }
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** A fresh schema in database `test`: the URL puts it first in the search path. */
export async function isolatedPostgres(): Promise<IsolatedStore> {
  const schema = `ums_test_${hex()}`
  await withPostgres((client) => client.query(`CREATE SCHEMA "${schema}"`))
  return {
    url: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    name: `jobs_${hex()}`,
    cleanup: async () => {
      await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
    },
  }
}

async function withRedis<T>(work: (client: Redis) => Promise<T>): Promise<T> {
  // No retries: an absent server fails the first command at once.
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch {
    client.disconnect()
    throw new Error(REDIS_DOWN)
  }
  try {
    return await work(client)
  } finally {
    await client.quit()
  }
}

/** A fresh key prefix on the shared Redis. */
export async function isolatedRedis(): Promise<IsolatedStore> {
  const name = `ums_test_${hex()}`
  await withRedis((client) => client.ping())
  return {
    url: REDIS_URL,
    name,
    cleanup: async () => {
      await withRedis(async (client) => {
        let cursor = '0'
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${name}:*`, 'COUNT', 500)
          if (keys.length > 0) await client.del(...keys)
          cursor = next
        } while (cursor !== '0')
      })
    },
  }
}

/** Runs `work` with a Redis client on the shared server, to look at keys directly. */
export function inspectRedis<T>(work: (client: Redis) => Promise<T>): Promise<T> {
  return withRedis(work)
}
