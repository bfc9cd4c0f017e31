// The contract every job store keeps, run against the memory store and the durable stores on the
// machine's PostgreSQL and Redis; then how the durable stores fail and recover when their server
// goes away, and how the MongoDB store fails when there is no server at all.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { Agenda } from 'agenda'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryJobStore } from '../../src/jobs/memory-store.js'
import type { DurableJobStore, DurableJobStoreOptions, JobEnd, JobStore, JobStoreOptions, NewJob } from '../../src/jobs/store.js'
import { openMongoJobStore } from '../../src/jobs/stores/mongo.js'
import { openPostgresJobStore } from '../../src/jobs/stores/postgres.js'
import { openRedisJobStore } from '../../src/jobs/stores/redis.js'
import { inspectRedis, isolatedPostgres, isolatedRedis, type IsolatedStore } from '../helpers/job-stores.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { sleep } from '../helpers/wait.js'

const TTL_MS = 60_000

// Undone after each test, last first: a store closes before its schema or prefix is dropped.
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A clock that only moves when the test says so. */
function manualClock() {
  let now = Date.now()
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms
    },
  }
}

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    jobId: randomUUID(),
    kind: 'bulk-activation',
    jobCreatedAt: new Date().toISOString(),
    progress: { done: 0, total: 3 },
    input: { userIds: ['u1', 'u2', 'u3'], options: { notify: true } },
    ...overrides,
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function withPort(url: string, port: number): string {
  const parsed = new URL(url)
  parsed.port = String(port)
  return parsed.toString()
}

interface Durable {
  name: 'PostgreSQL' | 'Redis'
  server: { host: string; port: number }
  /** A URL with credentials, to a port nothing listens on. */
  credentialedUrl(port: number): string
  isolate(): Promise<IsolatedStore>
  open(options: DurableJobStoreOptions): DurableJobStore
}

const postgres: Durable = {
  name: 'PostgreSQL',
  server: { host: '127.0.0.1', port: 5432 },
  credentialedUrl: (port) => `postgres://user:secret@127.0.0.1:${port}/test`,
  isolate: isolatedPostgres,
  open: openPostgresJobStore,
}

const redis: Durable = {
  name: 'Redis',
  server: { host: '127.0.0.1', port: 6379 },
  credentialedUrl: (port) => `redis://user:secret@127.0.0.1:${port}`,
  isolate: isolatedRedis,
  open: openRedisJobStore,
}

interface Opened {
  store: JobStore
  /** The URL and name the store was opened with (durable stores). */
  url: string
  name: string
}

/**
 * Opens and connects a durable store in a fresh schema or key prefix, through `port` instead of the
 * server's when given; closed and dropped after the test.
 */
async function openDurable(
  durable: Durable,
  options: JobStoreOptions & { port?: number; onBackgroundError?: (error: Error) => void },
): Promise<Opened & Pick<DurableJobStore, 'agendaBackend'>> {
  const isolated = await durable.isolate()
  cleanups.push(isolated.cleanup)
  const url = options.port === undefined ? isolated.url : withPort(isolated.url, options.port)
  const { store, agendaBackend } = durable.open({ ...options, url, name: isolated.name })
  cleanups.push(() => store.close())
  await store.connect()
  return { store, agendaBackend, url, name: isolated.name }
}

interface Backend {
  name: string
  /** Leases expire on the server's clock, so they get short real TTLs instead of an injected clock. */
  serverClock: boolean
  /** Whether `purgeExpired` deletes: elsewhere the backend expires records by itself. */
  purges: boolean
  open(options: JobStoreOptions): Promise<Opened>
  /** The remaining lifetime of a job's record in the backend, in ms (-1: none). */
  recordTtl?(name: string, jobId: string): Promise<number>
}

const backends: Backend[] = [
  { name: 'memory', serverClock: false, purges: true, open: async (options) => ({ store: new MemoryJobStore(options), url: '', name: '' }) },
  { name: 'PostgreSQL', serverClock: false, purges: true, open: (options) => openDurable(postgres, options) },
  {
    name: 'Redis',
    serverClock: true,
    purges: false,
    open: (options) => openDurable(redis, options),
    recordTtl: (name, jobId) => inspectRedis((client) => client.pttl(`${name}:ums:record:${jobId}`)),
  },
]

describe.each(backends.map((backend) => [backend.name, backend] as const))('%s job store', (_name, backend) => {
  async function open() {
    const clock = manualClock()
    const opened = await backend.open({ ttlMs: TTL_MS, now: clock.now })
    return { ...opened, clock }
  }

  it('creates a pending job and reads it back, with its input', async () => {
    const { store } = await open()
    const job = newJob()
    await store.create(job)
    expect(await store.get(job.jobId)).toStrictEqual({
      jobId: job.jobId,
      kind: 'bulk-activation',
      status: 'pending',
      jobCreatedAt: job.jobCreatedAt,
      progress: { done: 0, total: 3 },
    })
    expect(await store.getInput(job.jobId)).toStrictEqual(job.input)
    expect(await store.readCheckpoints(job.jobId)).toStrictEqual([])
  })

  it('knows nothing of unknown job ids, and writing to them creates nothing', async () => {
    const { store } = await open()
    const unknown = randomUUID()
    await store.setProgress(unknown, { done: 1, total: 2 })
    await store.appendCheckpoints(unknown, [{ step: 1 }])
    await store.finish(unknown, { status: 'completed', result: 1 })
    expect(await store.get(unknown)).toBeUndefined()
    expect(await store.getInput(unknown)).toBeUndefined()
    expect(await store.readCheckpoints(unknown)).toStrictEqual([])
    // Ids come straight from request paths.
    expect(await store.get('not-a-uuid')).toBeUndefined()
    expect(await store.getInput('not-a-uuid')).toBeUndefined()
    expect(await store.readCheckpoints('not-a-uuid')).toStrictEqual([])
  })

  it('records progress, with the figures of the job kind, while the job is pending, and ignores it once finished', async () => {
    const { store } = await open()
    const job = newJob()
    await store.create(job)
    await store.setProgress(job.jobId, { done: 2, total: 3, pagesRead: 1, findings: 4 })
    expect((await store.get(job.jobId))?.progress).toStrictEqual({ done: 2, total: 3, pagesRead: 1, findings: 4 })
    await store.finish(job.jobId, { status: 'completed', result: { activated: 3 } })
    await store.setProgress(job.jobId, { done: 3, total: 3 })
    expect(await store.get(job.jobId)).not.toHaveProperty('progress')
  })

  it('finishes a completed job: keeps its result, drops progress, input and journal, and ignores a second finish', async () => {
    const { store, clock } = await open()
    const job = newJob({ kind: 'change-password' })
    await store.create(job)
    await store.appendCheckpoints(job.jobId, [{ user: 'u1', ok: true }])
    clock.advance(5_000)
    const result = { succeeded: ['u1', 'u2'], failed: [{ userId: 'u3', reason: 'not found' }] }
    await store.finish(job.jobId, { status: 'completed', result })
    const finished = { jobId: job.jobId, kind: 'change-password', status: 'completed', jobCreatedAt: job.jobCreatedAt, result, finishedAt: clock.now() }
    expect(await store.get(job.jobId)).toStrictEqual(finished)
    expect(await store.getInput(job.jobId)).toBeUndefined()
    expect(await store.readCheckpoints(job.jobId)).toStrictEqual([])

    clock.advance(1_000)
    await store.finish(job.jobId, { status: 'failed' })
    await store.appendCheckpoints(job.jobId, [{ user: 'u2', ok: true }])
    expect(await store.get(job.jobId)).toStrictEqual(finished)
    expect(await store.readCheckpoints(job.jobId)).toStrictEqual([])
  })

  it('finishes a failed job without a result', async () => {
    const { store, clock } = await open()
    const job = newJob()
    await store.create(job)
    await store.appendCheckpoints(job.jobId, [{ user: 'u1', ok: false }])
    // A result handed along with a failure (which the type forbids) is not kept either.
    await store.finish(job.jobId, { status: 'failed', result: { partial: true } } as unknown as JobEnd)
    expect(await store.get(job.jobId)).toStrictEqual({
      jobId: job.jobId,
      kind: 'bulk-activation',
      status: 'failed',
      jobCreatedAt: job.jobCreatedAt,
      finishedAt: clock.now(),
    })
    expect(await store.getInput(job.jobId)).toBeUndefined()
    expect(await store.readCheckpoints(job.jobId)).toStrictEqual([])
  })

  it('forgets a finished job once the TTL has passed, never a pending one', async () => {
    const { store, clock, name } = await open()
    const finished = newJob()
    const pending = newJob()
    await store.create(finished)
    await store.create(pending)
    await store.finish(finished.jobId, { status: 'completed', result: null })
    expect((await store.get(finished.jobId))?.result).toBeNull()
    if (backend.recordTtl) {
      expect(await backend.recordTtl(name, finished.jobId)).toBeGreaterThan(TTL_MS - 5_000)
      expect(await backend.recordTtl(name, finished.jobId)).toBeLessThanOrEqual(TTL_MS)
      expect(await backend.recordTtl(name, pending.jobId)).toBe(-1)
    }
    clock.advance(TTL_MS - 1)
    expect((await store.get(finished.jobId))?.status).toBe('completed')
    clock.advance(1)
    expect(await store.get(finished.jobId)).toBeUndefined()
    clock.advance(10 * TTL_MS)
    expect((await store.get(pending.jobId))?.status).toBe('pending')
  })

  it('keeps each journal in append order, apart from the other jobs', async () => {
    const { store } = await open()
    const first = newJob()
    const second = newJob()
    await store.create(first)
    await store.create(second)
    await store.appendCheckpoints(first.jobId, [{ step: 1 }, { step: 2 }])
    await store.appendCheckpoints(second.jobId, ['other'])
    await store.appendCheckpoints(first.jobId, [])
    await store.appendCheckpoints(first.jobId, [{ step: 3, users: ['a', 'b'] }])
    await store.appendCheckpoints(first.jobId, ['four', 5, null])
    expect(await store.readCheckpoints(first.jobId)).toStrictEqual([{ step: 1 }, { step: 2 }, { step: 3, users: ['a', 'b'] }, 'four', 5, null])
    expect(await store.readCheckpoints(second.jobId)).toStrictEqual(['other'])
    await store.finish(second.jobId, { status: 'failed' })
    expect(await store.readCheckpoints(second.jobId)).toStrictEqual([])
    expect(await store.readCheckpoints(first.jobId)).toHaveLength(6)
  })

  it('leaves no journal behind when a finish races appends', async () => {
    const { store } = await open()
    const job = newJob()
    await store.create(job)
    const appends = Array.from({ length: 20 }, (_, step) => store.appendCheckpoints(job.jobId, [{ step }]))
    await Promise.all([...appends.slice(0, 10), store.finish(job.jobId, { status: 'failed' }), ...appends.slice(10)])
    expect(await store.readCheckpoints(job.jobId)).toStrictEqual([])
  })

  it('grants a lease to one holder at a time, renews it for that holder and frees it when it expires', async () => {
    const { store, clock } = await open()
    const ttlMs = backend.serverClock ? 300 : 1_000
    expect(await store.acquireLease('resume', 'replica-a', ttlMs)).toBe(true)
    expect(await store.acquireLease('resume', 'replica-b', ttlMs)).toBe(false)
    expect(await store.acquireLease('other', 'replica-b', ttlMs)).toBe(true)
    if (backend.serverClock) {
      expect(await store.acquireLease('resume', 'replica-a', ttlMs)).toBe(true)
      // Redis expires the lease on its own clock.
      await sleep(ttlMs + 100)
    } else {
      clock.advance(ttlMs - 1)
      expect(await store.acquireLease('resume', 'replica-a', ttlMs)).toBe(true)
      clock.advance(ttlMs - 1)
      expect(await store.acquireLease('resume', 'replica-b', ttlMs)).toBe(false)
      clock.advance(1)
    }
    expect(await store.acquireLease('resume', 'replica-b', ttlMs)).toBe(true)
    expect(await store.acquireLease('resume', 'replica-a', ttlMs)).toBe(false)
  })

  it('releases a lease only for its holder', async () => {
    const { store } = await open()
    expect(await store.acquireLease('resume', 'replica-a', 60_000)).toBe(true)
    await store.releaseLease('resume', 'replica-b')
    expect(await store.acquireLease('resume', 'replica-b', 60_000)).toBe(false)
    await store.releaseLease('resume', 'replica-a')
    expect(await store.acquireLease('resume', 'replica-b', 60_000)).toBe(true)
    await store.releaseLease('unknown', 'replica-a')
  })

  it(backend.purges ? 'purges the records past the TTL' : 'leaves expiry to the backend when purging', async () => {
    const { store, clock } = await open()
    const expired = newJob()
    const recent = newJob()
    const pending = newJob()
    for (const job of [expired, recent, pending]) await store.create(job)
    await store.finish(expired.jobId, { status: 'failed' })
    clock.advance(TTL_MS / 2)
    await store.finish(recent.jobId, { status: 'failed' })
    clock.advance(TTL_MS / 2)
    await store.purgeExpired()
    // Back in time, a record only hidden by the TTL check shows again; a deleted one does not.
    clock.advance(-TTL_MS)
    expect(await store.get(expired.jobId)).toEqual(backend.purges ? undefined : expect.objectContaining({ status: 'failed' }))
    expect((await store.get(recent.jobId))?.status).toBe('failed')
    expect((await store.get(pending.jobId))?.status).toBe('pending')
  })
})

describe.each([postgres, redis].map((durable) => [durable.name, durable] as const))('%s job store on a shared server', (_name, durable) => {
  it('shares its jobs and leases with another store on the same URL and name', async () => {
    const { store, url, name } = await openDurable(durable, { ttlMs: TTL_MS })
    const job = newJob()
    await store.create(job)
    await store.appendCheckpoints(job.jobId, [{ step: 1 }])
    expect(await store.acquireLease('resume', 'replica-a', 60_000)).toBe(true)

    const { store: replica } = durable.open({ ttlMs: TTL_MS, url, name })
    cleanups.push(() => replica.close())
    await replica.connect()
    expect(await replica.get(job.jobId)).toStrictEqual(await store.get(job.jobId))
    expect(await replica.getInput(job.jobId)).toStrictEqual(job.input)
    expect(await replica.readCheckpoints(job.jobId)).toStrictEqual([{ step: 1 }])
    expect(await replica.acquireLease('resume', 'replica-b', 60_000)).toBe(false)
  })

  it('lets replicas connect at once to a new database', async () => {
    const isolated = await durable.isolate()
    cleanups.push(isolated.cleanup)
    const replicas = Array.from({ length: 4 }, () => durable.open({ ttlMs: TTL_MS, url: isolated.url, name: isolated.name }).store)
    for (const replica of replicas) cleanups.push(() => replica.close())
    await Promise.all(replicas.map((replica) => replica.connect()))
    const job = newJob()
    await replicas[0]!.create(job)
    expect((await replicas[3]!.get(job.jobId))?.status).toBe('pending')
  })

  it('rejects connect() and ping() with one line naming the backend and host:port, never the credentials', async () => {
    const port = await closedPort()
    const { store } = durable.open({ ttlMs: TTL_MS, url: durable.credentialedUrl(port), name: 'jobs' })
    cleanups.push(() => store.close())
    const line = new RegExp(`^${durable.name} job store unreachable at 127\\.0\\.0\\.1:${port}: [^\\n]+$`)
    for (const attempt of [() => store.connect(), () => store.ping()]) {
      const error = await attempt().then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(error).toBeInstanceOf(Error)
      const { message } = error as Error
      expect(message).toMatch(line)
      expect(message).not.toContain('secret')
      expect(message).not.toContain('user')
    }
  })

  it('recovers by itself when its server comes back', async () => {
    const proxy = await startTcpProxy(durable.server)
    cleanups.push(() => proxy.close())
    const errors: Error[] = []
    const { store } = await openDurable(durable, { ttlMs: TTL_MS, port: proxy.port, onBackgroundError: (error) => errors.push(error) })
    const job = newJob()
    await store.create(job)

    proxy.cut()
    // The lost connection is reported in the background, not thrown at the process.
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 3_000, interval: 20 })
    await expect(store.ping()).rejects.toThrow(new RegExp(`^${durable.name} job store unreachable at 127\\.0\\.0\\.1:${proxy.port}: [^\\n]+$`))

    proxy.restore()
    await vi.waitFor(() => store.ping(), { timeout: 6_000, interval: 100 })
    expect((await store.get(job.jobId))?.status).toBe('pending')
  })

  it("runs Agenda on the store's connection through an outage, and leaves no connection open once both stop", async () => {
    const proxy = await startTcpProxy(durable.server)
    cleanups.push(() => proxy.close())
    const errors: Error[] = []
    const { store, agendaBackend } = await openDurable(durable, { ttlMs: TTL_MS, port: proxy.port, onBackgroundError: (error) => errors.push(error) })
    const agenda = new Agenda({ backend: agendaBackend, processEvery: 100 })
    let runs = 0
    agenda.define('tick', async () => {
      runs += 1
    })
    await agenda.start()
    cleanups.push(() => agenda.stop())
    await agenda.now('tick')
    await vi.waitFor(() => expect(runs).toBe(1), { timeout: 3_000, interval: 20 })

    // Long enough for the notification channel to fail several reconnections.
    proxy.cut()
    await sleep(1_500)
    proxy.restore()
    await vi.waitFor(() => store.ping(), { timeout: 6_000, interval: 100 })
    await vi.waitFor(() => expect(agendaBackend.notificationChannel?.state).toBe('connected'), { timeout: 6_000, interval: 100 })
    await agenda.now('tick')
    await vi.waitFor(() => expect(runs).toBe(2), { timeout: 3_000, interval: 20 })
    // Reported once each, not at every reconnection attempt.
    expect(errors.map((error) => error.message)).toStrictEqual([...new Set(errors.map((error) => error.message))])

    await agenda.stop()
    await store.close()
    await vi.waitFor(() => expect(proxy.connections()).toBe(0), { timeout: 3_000, interval: 20 })
    // Past the longest reconnection delay, nothing came back either.
    await sleep(2_500)
    expect(proxy.connections()).toBe(0)
  })

  it('leaves no connection open when both stop while the notification channel is reconnecting', async () => {
    const proxy = await startTcpProxy(durable.server)
    cleanups.push(() => proxy.close())
    const { store, agendaBackend } = await openDurable(durable, { ttlMs: TTL_MS, port: proxy.port, onBackgroundError: () => undefined })
    const agenda = new Agenda({ backend: agendaBackend, processEvery: 100 })
    await agenda.start()
    cleanups.push(() => agenda.stop())
    proxy.cut()
    await sleep(450)
    await agenda.stop()
    await store.close()
    proxy.restore()
    // Past the longest reconnection delay, nothing came back.
    await sleep(2_500)
    expect(proxy.connections()).toBe(0)
  })

  it('closes while Agenda still runs on its connection', async () => {
    const { store, agendaBackend } = await openDurable(durable, { ttlMs: TTL_MS })
    const agenda = new Agenda({ backend: agendaBackend, processEvery: 100 })
    await agenda.start()
    cleanups.push(() => agenda.stop())
    await store.close()
  })
})

describe('MongoDB job store without a server', () => {
  it('rejects connect() within the server selection timeout, with one line and no credentials', async () => {
    const port = await closedPort()
    const { store } = openMongoJobStore({ ttlMs: TTL_MS, url: `mongodb://user:secret@127.0.0.1:${port}/ums`, name: 'jobs' })
    cleanups.push(() => store.close())
    const started = Date.now()
    const error = await store.connect().then(
      () => undefined,
      (reason: unknown) => reason,
    )
    expect(Date.now() - started).toBeLessThan(6_500)
    expect(error).toBeInstanceOf(Error)
    const { message } = error as Error
    expect(message).toMatch(new RegExp(`^MongoDB job store unreachable at 127\\.0\\.0\\.1:${port}: [^\\n]+$`))
    expect(message).not.toContain('secret')
    expect(message).not.toContain('user')
  })
})
