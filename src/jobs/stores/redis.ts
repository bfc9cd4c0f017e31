// The Redis job store: a hash per job record, a list per checkpoint journal and a key per lease,
// all under the JOBS_COLLECTION_NAME prefix, on one client that Agenda's backend shares. Finished
// records expire by themselves (PEXPIRE), so there is nothing to purge.
import { Redis } from 'ioredis'
import { RedisBackend } from '@agendajs/redis-backend'
import {
  isExpired,
  type DurableJobStore,
  type DropJobStoreOptions,
  type DurableJobStoreOptions,
  type JobEnd,
  type JobKind,
  type JobProgress,
  type JobRecord,
  type JobStatus,
  type JobStore,
  type NewJob,
} from '../store.js'
import { listen } from '../listeners.js'
import { STORE_BACKENDS, storeUnreachable } from './errors.js'

const { name: BACKEND_NAME, defaultPort: DEFAULT_PORT } = STORE_BACKENDS.redis

// Each script reads the record's status and writes in one step, so a job that finished meanwhile is
// never written to again. KEYS[1] is the record, KEYS[2] the journal.
const SET_PROGRESS = `
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1`

// Pushes in slices: Lua's unpack cannot spread thousands of arguments at once.
const APPEND_CHECKPOINTS = `
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
for i = 1, #ARGV, 500 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
return 1`

// ARGV: status, finishedAt, result JSON ('' when there is none), TTL in ms.
const FINISH = `
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finishedAt', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[3]) end
redis.call('HDEL', KEYS[1], 'progress', 'input')
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`

// ARGV: holder, TTL in ms. The lease key expires with the lease, on the server's clock.
const ACQUIRE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`

/** The server refused the URL's database. */
class DatabaseRefused extends Error {
  override name = 'DatabaseRefused'
}

/** PX and PEXPIRE take a positive whole number of milliseconds. */
function milliseconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms)))
}

/** The key prefixes of a store: ums's records, journals and leases, and Agenda's keys. */
function keyPrefixes(name: string): { ums: string; agenda: string } {
  return { ums: `${name}:ums:`, agenda: `${name}:agenda:` }
}

export function openRedisJobStore(options: DurableJobStoreOptions): DurableJobStore {
  const now = options.now ?? Date.now
  const prefixes = keyPrefixes(options.name)
  const recordKey = (jobId: string) => `${prefixes.ums}record:${jobId}`
  const checkpointsKey = (jobId: string) => `${prefixes.ums}checkpoints:${jobId}`
  const leaseKey = (name: string) => `${prefixes.ums}lease:${name}`
  const client = new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  })
  // While the server is away, commands fail with "Connection is closed" or "max retries reached":
  // the reason worth reporting is the connection's own error, which the client only emits.
  let connectionError: Error | undefined
  // The client retries every 2 s at most, and Agenda's notification channel more often: each
  // error is reported once until the connection is back.
  const reported = new Set<string>()
  function report(error: Error): void {
    if (!reported.has(error.message)) options.onBackgroundError?.(error)
    reported.add(error.message)
  }
  listen(
    client,
    'redis client',
    'error',
    (error: Error) => {
      connectionError = error
      report(error)
    },
    options.onListenerFailure,
  )
  listen(
    client,
    'redis client',
    'ready',
    () => {
      connectionError = undefined
      reported.clear()
    },
    options.onListenerFailure,
  )
  // Agenda's notification channel subscribes on a duplicate of this client and, each time it
  // reconnects, makes a new one without ending the one whose subscription failed: left alone,
  // that one would reconnect forever and keep the process alive. Only the newest is the channel's.
  const duplicates: Redis[] = []
  const duplicate = client.duplicate.bind(client)
  client.duplicate = (override) => {
    for (const abandoned of duplicates.splice(0)) abandoned.disconnect()
    const copy = duplicate(override)
    duplicates.push(copy)
    return copy
  }
  const agendaBackend = new RedisBackend({ redis: client, keyPrefix: prefixes.agenda, channelName: `${prefixes.agenda}jobs` })
  // Agenda listens to no error of its notification channel, whose subscriber fails with the
  // server: unheard, such an error would be thrown at the process.
  listen(agendaBackend.notificationChannel, 'redis notification channel', 'error', report, options.onListenerFailure)

  function failure(error: unknown): Error {
    // The server's refusal of the database is the reason, whatever the connection reported before.
    return storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error instanceof DatabaseRefused ? error : (connectionError ?? error))
  }

  // ioredis selects the URL's database on each connection but only emits the server's refusal
  // (a number beyond its `databases`), and then sends every command to database 0. Selecting it
  // here, on connect and on each health check, makes that refusal an unreachable store.
  const database = client.options.db ?? 0
  async function selectDatabase(): Promise<void> {
    try {
      await client.select(database)
    } catch (error) {
      // A reply is the server's answer; anything else is the connection's failure.
      if (error instanceof Error && error.name === 'ReplyError') throw new DatabaseRefused(`database ${database} refused: ${error.message}`)
      throw error
    }
  }

  const store: JobStore = {
    backendName: BACKEND_NAME,

    async connect() {
      try {
        if (client.status === 'wait') await client.connect()
        await selectDatabase()
        await agendaBackend.connect()
      } catch (error) {
        throw failure(error)
      }
    },

    async ping() {
      try {
        await selectDatabase()
      } catch (error) {
        throw failure(error)
      }
    },

    async close() {
      // A reconnection the notification channel scheduled before the close (its subscriber lost
      // with the server, or cut by the close itself) would open a new subscriber after it, which
      // would reconnect forever: a closed store's channel does not connect again.
      agendaBackend.notificationChannel.connect = async () => {}
      for (const copy of duplicates.splice(0)) copy.disconnect()
      // QUIT on a client that never connected would connect it first; one that is reconnecting
      // has nothing to flush, so it is simply dropped.
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else if (client.status !== 'end') client.disconnect()
    },

    async create(job: NewJob) {
      const fields: Record<string, string> = {
        kind: job.kind,
        status: 'pending',
        jobCreatedAt: job.jobCreatedAt,
        progress: JSON.stringify(job.progress),
      }
      if (job.input !== undefined) fields.input = JSON.stringify(job.input)
      await client.hset(recordKey(job.jobId), fields)
    },

    async get(jobId: string) {
      // Not the input: it can weigh hundreds of KB, and jobs are polled often.
      const [kind, status, jobCreatedAt, progress, result, finished] = await client.hmget(
        recordKey(jobId),
        'kind',
        'status',
        'jobCreatedAt',
        'progress',
        'result',
        'finishedAt',
      )
      if (status == null) return undefined
      const finishedAt = finished == null ? undefined : Number(finished)
      if (isExpired(finishedAt, options.ttlMs, now())) return undefined
      const record: JobRecord = { jobId, kind: kind as JobKind, status: status as JobStatus, jobCreatedAt: jobCreatedAt ?? '' }
      if (progress != null) record.progress = JSON.parse(progress) as JobProgress
      if (result != null) record.result = JSON.parse(result)
      if (finishedAt !== undefined) record.finishedAt = finishedAt
      return record
    },

    async getInput(jobId: string) {
      const [status, input] = await client.hmget(recordKey(jobId), 'status', 'input')
      return status === 'pending' && input != null ? JSON.parse(input) : undefined
    },

    async setProgress(jobId: string, progress: JobProgress) {
      await client.eval(SET_PROGRESS, 1, recordKey(jobId), JSON.stringify(progress))
    },

    async finish(jobId: string, end: JobEnd) {
      const result = end.status === 'completed' ? (JSON.stringify(end.result) ?? '') : ''
      await client.eval(FINISH, 2, recordKey(jobId), checkpointsKey(jobId), end.status, String(now()), result, milliseconds(options.ttlMs))
    },

    async appendCheckpoints(jobId: string, entries: readonly unknown[]) {
      if (entries.length === 0) return
      await client.eval(APPEND_CHECKPOINTS, 2, recordKey(jobId), checkpointsKey(jobId), ...entries.map((entry) => JSON.stringify(entry) ?? 'null'))
    },

    async readCheckpoints(jobId: string) {
      const entries = await client.lrange(checkpointsKey(jobId), 0, -1)
      return entries.map((entry) => JSON.parse(entry) as unknown)
    },

    async acquireLease(name: string, holder: string, ttlMs: number) {
      return (await client.eval(ACQUIRE_LEASE, 1, leaseKey(name), holder, milliseconds(ttlMs))) === 1
    },

    async releaseLease(name: string, holder: string) {
      await client.eval(RELEASE_LEASE, 1, leaseKey(name), holder)
    },

    async purgeExpired() {},
  }

  return { store, agendaBackend }
}

/**
 * Removes every key of a store of this name from the URL's database: ums's (`<name>:ums:*`) and
 * Agenda's (`<name>:agenda:*`). Answers what it removed.
 */
export async function dropRedisJobStore(options: DropJobStoreOptions): Promise<string[]> {
  const client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000, retryStrategy: () => null })
  // A failed connection also rejects the command under way, which reports it.
  client.on('error', () => {})
  try {
    await client.connect()
    // Selected here as well: a refused database would otherwise leave the keys of database 0 to be deleted.
    await client.select(client.options.db ?? 0)
  } catch (error) {
    client.disconnect()
    throw storeUnreachable(BACKEND_NAME, options.url, DEFAULT_PORT, error)
  }
  try {
    const removed: string[] = []
    for (const prefix of Object.values(keyPrefixes(options.name))) {
      let count = 0
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        if (keys.length > 0) count += await client.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
      if (count > 0) removed.push(`${count} key${count === 1 ? '' : 's'} ${prefix}*`)
    }
    return removed
  } finally {
    await client.quit()
  }
}
