// Two ums replicas in this process on one durable job store (PostgreSQL, Redis): any replica
// answers for any job, SIGTERM hands running jobs to the other replica at once, and change-password
// jobs run one at a time across the replicas.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { startStack, type Stack } from '../../src/sandbox/stack.js'
import type { IsolatedStore } from '../helpers/job-stores.js'
import { call, isolatedJobStore, jobStoreEnv } from '../helpers/stack.js'
import { seedAuthUsers, seedCrudOnlyUsers } from '../helpers/job-users.js'
import { waitForJob, waitUntil } from '../helpers/wait.js'

const STATUS_PATH = /^\/users\/import\/status\/[^/]+$/

interface Replicas {
  stack: Stack
  /** Replica A is the stack's own ums; B shares its configuration, emulators and store. */
  a: string
  b: string
  appB: FastifyInstance
}

function useReplicas(kind: 'postgres' | 'redis', env: Record<string, string>): { readonly current: Replicas } {
  let replicas: Replicas | undefined
  let store: IsolatedStore | undefined
  beforeAll(async () => {
    store = await isolatedJobStore(kind)
    const stack = await startStack({ env: { ...jobStoreEnv(store), ...env }, auth0: { importTiming: { mode: 'manual' } } })
    const appB = await buildApp(stack.config)
    await appB.listen({ host: '127.0.0.1', port: 0 })
    const { port } = appB.server.address() as { port: number }
    replicas = { stack, a: stack.url, b: `http://127.0.0.1:${port}`, appB }
  })
  afterAll(async () => {
    await replicas?.appB.close()
    await replicas?.stack.close()
    await store?.cleanup()
  })
  beforeEach(() => replicas?.stack.resetPeers())
  return {
    get current() {
      if (!replicas) throw new Error('replicas not started')
      return replicas
    },
  }
}

// Slow enough that a few ms of delivery jitter on a loaded machine stay small next to the interval.
const RATE = 10
const INTERVAL_MS = 1000 / RATE
const ENV = { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(RATE), AUTH0_JOB_POLLING_INTERVAL: '50' }

describe.each(['postgres', 'redis'] as const)('two replicas on one %s job store', (kind) => {
  const replicas = useReplicas(kind, ENV)

  it('answers for a job on either replica, with the same body, progress included', async () => {
    const { stack, a, b } = replicas.current
    const ids = seedAuthUsers(stack, 30, 'read')
    const created = await call(a, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    expect(created.status).toBe(202)
    const path = `/jobs/change-password/bulk/${created.body.jobId}`
    await waitUntil(() => stack.auth0.outbox.length >= 5, 'a few emails')
    const onB = await call(b, 'GET', path)
    expect(onB.status).toBe(200)
    expect(onB.body).toMatchObject({ jobId: created.body.jobId, status: 'pending', jobCreatedAt: created.body.jobCreatedAt, progress: { total: 30 } })
    expect(onB.body.progress.done).toBeGreaterThan(0)
    const doneOnB = (await waitForJob(b, path)).body
    const doneOnA = await call(a, 'GET', path)
    expect(doneOnA.body).toEqual(doneOnB)
    expect(doneOnB.summary).toEqual({ failed: 0, completed: 30, total: 30 })
    expect((await call(b, 'GET', `/jobs/bulk-activation/${created.body.jobId}`)).status).toBe(404)
  })

  it('runs change-password jobs one at a time across the replicas, within the configured rate', async () => {
    const { stack, a, b } = replicas.current
    const first = await call(a, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: seedAuthUsers(stack, 15, 'one') } })
    const second = await call(b, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: seedAuthUsers(stack, 15, 'two') } })
    await waitForJob(a, `/jobs/change-password/bulk/${first.body.jobId}`)
    await waitForJob(a, `/jobs/change-password/bulk/${second.body.jobId}`)
    const sends = stack.auth0.requestsTo('POST', '/change-password').map((request) => ({ at: request.at.getTime(), job: String((request.body as { email: string }).email).split('-')[0] }))
    expect(sends).toHaveLength(30)
    // One job's sends all come before the other's.
    const order = sends.map((send) => send.job).join('')
    expect(order === 'one'.repeat(15) + 'two'.repeat(15) || order === 'two'.repeat(15) + 'one'.repeat(15)).toBe(true)
    // RATE per second, INTERVAL_MS apart: never a burst (a late slot is followed by one at least half an
    // interval later), and no faster on average than the pace.
    const gaps = sends.slice(1).map((send, index) => send.at - sends[index]!.at)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(INTERVAL_MS / 2)
    expect((sends.at(-1)!.at - sends[0]!.at) / gaps.length).toBeGreaterThanOrEqual(INTERVAL_MS * 0.9)
  })

})

describe.each(['postgres', 'redis'] as const)('a replica stopped by SIGTERM, on a %s job store', (kind) => {
  const replicas = useReplicas(kind, ENV)

  it('hands a running change-password job over to the other replica at once, sending no email twice', async () => {
    const { stack, a, b } = replicas.current
    const ids = seedAuthUsers(stack, 40, 'handover')
    const created = await call(a, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    await waitUntil(() => stack.auth0.outbox.length >= 8, 'the first emails')
    const handedOverAt = Date.now()
    await stack.app.jobEngine.handOver()
    const sentBeforeHandOver = stack.auth0.outbox.length
    await waitUntil(() => stack.auth0.outbox.length > sentBeforeHandOver, 'the other replica sending', 5_000)
    // Far below the 60 s lock lifetime: the lock was released, not left to expire.
    expect(Date.now() - handedOverAt).toBeLessThan(3_000)
    const done = (await waitForJob(b, `/jobs/change-password/bulk/${created.body.jobId}`)).body
    expect(done.summary).toEqual({ failed: 0, completed: 40, total: 40 })
    const emails = stack.auth0.outbox.map((mail) => mail.email)
    expect(emails).toHaveLength(40)
    expect(new Set(emails).size).toBe(40)
  })
})

describe.each(['postgres', 'redis'] as const)('a replica stopped by SIGTERM during an activation, on a %s job store', (kind) => {
  const replicas = useReplicas(kind, ENV)

  it('hands a running activation over: the other replica polls the import already started and links its users', async () => {
    const { stack, b } = replicas.current
    const ids = seedCrudOnlyUsers(stack, 5, 'act')
    const created = await call(replicas.current.a, 'POST', '/jobs/bulk-activation', { json: ids.map((userId) => ({ filter: { userId } })) })
    await waitUntil(() => stack.auth0.requestsTo('GET', STATUS_PATH).length >= 1, 'the import polled')
    await stack.app.jobEngine.handOver()
    const auth0JobId = decodeURIComponent(stack.auth0.requestsTo('GET', STATUS_PATH)[0]!.path).split('/').pop()!
    stack.auth0.advanceImportJob(auth0JobId, 'completed')
    const done = (await waitForJob(b, `/jobs/bulk-activation/${created.body.jobId}`)).body
    expect(done.summary).toEqual({ failed: 0, updated: 0, inserted: 5, total: 5, skipped: 0 })
    expect(stack.auth0.requestsTo('POST', '/users/import')).toHaveLength(1)
    const docs = new Map(stack.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc.authUserId]))
    for (const id of ids) expect(stack.auth0.getUser(String(docs.get(id)))).toBeDefined()
  })
})
