// Two ums processes (the production entry, src/index.ts) on one job store. A is killed with
// SIGKILL in the middle of an activation of 2,000 users and of a change-password job of 500 ids:
// B takes both over once A's locks expire and completes them, linking every user exactly once,
// starting no Auth0 import twice and sending each email once (bar the sends in flight at the
// kill). And SIGTERM: A hands its job over at once, without waiting for a lock to expire.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Emulators } from '../../src/sandbox/stack.js'
import { maxInFlight } from '../../src/services/change-password-bulk/index.js'
import { call } from '../helpers/stack.js'
import { seedAuthUsers, seedCrudOnlyUsers } from '../helpers/job-users.js'
import { useReplicas, type DurableStoreKind } from '../helpers/replicas.js'
import { waitForJob, waitUntil } from '../helpers/wait.js'

const STATUS_PATH = /^\/users\/import\/status\/[^/]+$/
const LOCK_LIFETIME_MS = 3_000
const RATE = 50

// The two stores side by side; the tests of one store one after the other.
describe.concurrent.each(['postgres', 'redis'] as const)('two ums processes on one %s job store', (kind) => {
  const replicas = useReplicas()
  const { startUms } = replicas

  /** The environment of the replicas on one isolated store. */
  function replicaEnv(kind: DurableStoreKind, emulators: Emulators, lockLifetimeMs = LOCK_LIFETIME_MS): Promise<Record<string, string>> {
    return replicas.replicaEnv(kind, emulators, {
      JOBS_LOCK_LIFETIME_MS: String(lockLifetimeMs),
      AUTH0_JOB_POLLING_INTERVAL: '200',
      AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(RATE),
    })
  }

  const useEmulators = () => replicas.useEmulators({ auth0: { importTiming: { mode: 'manual' } } })

  it.sequential('B completes the activation and the change-password job of A, killed with SIGKILL in the middle of both', async () => {
    const emulators = await useEmulators()
    const env = await replicaEnv(kind, emulators)
    const a = await startUms('A', env)
    const crudIds = seedCrudOnlyUsers(emulators, 2_000, 'act')
    const authIds = seedAuthUsers(emulators, 500, 'mail')

    const activation = await call(a.url, 'POST', '/jobs/bulk-activation', { json: crudIds.map((userId) => ({ filter: { userId } })) })
    expect(activation.status).toBe(202)
    const changePassword = await call(a.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: authIds } })
    expect(changePassword.status).toBe(202)
    const activationPath = `/jobs/bulk-activation/${activation.body.jobId}`
    const changePasswordPath = `/jobs/change-password/bulk/${changePassword.body.jobId}`

    // A has started its imports (a poll follows the checkpoint of each start) and sent some emails;
    // B starts only now, so that both jobs are A's.
    const imports = () => emulators.auth0.requestsTo('POST', '/users/import').filter((request) => request.outcome === 201).length
    const polledJobs = () => new Set(emulators.auth0.requestsTo('GET', STATUS_PATH).map((request) => decodeURIComponent(request.path).split('/').pop()!))
    await waitUntil(() => imports() > 0 && polledJobs().size === imports(), 'the imports started and polled')
    const b = await startUms('B', env)
    await waitUntil(() => emulators.auth0.outbox.length >= 150, 'the first 150 emails')

    // Created on A, read on B.
    const onB = await call(b.url, 'GET', activationPath)
    expect(onB.status).toBe(200)
    expect(onB.body).toMatchObject({ jobId: activation.body.jobId, status: 'pending', jobCreatedAt: activation.body.jobCreatedAt })

    a.child.kill('SIGKILL')
    const killedAt = Date.now()
    await a.exited
    const importsAtKill = imports()
    const emailsAtKill = emulators.auth0.outbox.length
    expect(emailsAtKill).toBeLessThan(500)
    for (const auth0JobId of polledJobs()) emulators.auth0.advanceImportJob(auth0JobId, 'completed')

    await waitUntil(() => emulators.auth0.outbox.length > emailsAtKill, 'B to take the change-password job over')
    const takeoverMs = emulators.auth0.outbox[emailsAtKill]!.at.getTime() - killedAt
    // The lock A held expires, then B's next scan takes the job.
    expect(takeoverMs).toBeGreaterThan(LOCK_LIFETIME_MS / 2)
    expect(takeoverMs).toBeLessThan(LOCK_LIFETIME_MS + 2_000)

    const activated = (await waitForJob(b.url, activationPath, { timeoutMs: 60_000 })).body
    expect(activated.summary).toEqual({ failed: 0, updated: 0, inserted: 2_000, total: 2_000, skipped: 0 })
    const changed = (await waitForJob(b.url, changePasswordPath, { timeoutMs: 60_000 })).body
    expect(changed.summary).toEqual({ failed: 0, completed: 500, total: 500 })

    // No import started twice; every user linked exactly once, to an auth user of its own.
    expect(imports()).toBe(importsAtKill)
    const byCrudId = new Map(emulators.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc]))
    const linkedIds = crudIds.map((id) => byCrudId.get(id)!.authUserId as string)
    expect(new Set(linkedIds).size).toBe(2_000)
    for (const [index, authUserId] of linkedIds.entries()) {
      expect(authUserId).toMatch(/^auth0\|[0-9a-f]{24}$/)
      expect(emulators.auth0.getUser(authUserId)?.email).toBe(`act-${index}@example.com`)
    }
    expect(emulators.auth0.listUsers().filter((user) => user.email?.startsWith('act-'))).toHaveLength(2_000)

    // Every email sent; repeated only for sends in flight when A died.
    const emails = emulators.auth0.outbox.map((mail) => mail.email)
    expect(new Set(emails).size).toBe(500)
    expect(emails.length - 500).toBeLessThanOrEqual(maxInFlight(RATE))
  }, 90_000)

  it.sequential('B links what A, killed while writing the links, left unlinked', async () => {
    const emulators = await useEmulators()
    const env = await replicaEnv(kind, emulators)
    const a = await startUms('A', env)
    const crudIds = seedCrudOnlyUsers(emulators, 200, 'link')
    const created = await call(a.url, 'POST', '/jobs/bulk-activation', { json: crudIds.map((userId) => ({ filter: { userId } })) })
    const polled = () => emulators.auth0.requestsTo('GET', STATUS_PATH)
    await waitUntil(() => polled().length > 0, 'the import polled')
    const b = await startUms('B', env)
    // A's first link write never gets an answer, nor is it applied: A dies waiting for it.
    emulators.crud.injectFault({ method: 'PATCH', path: '/users/bulk', hang: true })
    emulators.auth0.advanceImportJob(decodeURIComponent(polled()[0]!.path).split('/').pop()!, 'completed')
    await waitUntil(() => emulators.crud.requestsTo('PATCH', '/users/bulk').length > 0, 'A writing the links')
    a.child.kill('SIGKILL')
    await a.exited
    expect(emulators.crud.documents(USERS_ENDPOINT).filter((doc) => doc.authUserId !== undefined)).toHaveLength(0)

    const done = (await waitForJob(b.url, `/jobs/bulk-activation/${created.body.jobId}`, { timeoutMs: 60_000 })).body
    expect(done.summary).toEqual({ failed: 0, updated: 0, inserted: 200, total: 200, skipped: 0 })
    expect(emulators.auth0.requestsTo('POST', '/users/import')).toHaveLength(1)
    const byCrudId = new Map(emulators.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc.authUserId as string]))
    for (const [index, id] of crudIds.entries()) expect(emulators.auth0.getUser(byCrudId.get(id)!)?.email).toBe(`link-${index}@example.com`)
  }, 60_000)

  it.sequential('SIGTERM: A hands its change-password job over at once, then exits', async () => {
    const emulators = await useEmulators()
    // A long lock: B can go on quickly only if A released the job.
    const lockLifetimeMs = 20_000
    const env = await replicaEnv(kind, emulators, lockLifetimeMs)
    const a = await startUms('A', env)
    const created = await call(a.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: seedAuthUsers(emulators, 400, 'mail') } })
    const b = await startUms('B', env)
    await waitUntil(() => emulators.auth0.outbox.length >= 40, 'the first emails')
    a.child.kill('SIGTERM')
    const stoppedAt = Date.now()
    const done = (await waitForJob(b.url, `/jobs/change-password/bulk/${created.body.jobId}`, { timeoutMs: 60_000 })).body
    expect(done.summary).toEqual({ failed: 0, completed: 400, total: 400 })
    const emails = emulators.auth0.outbox.map((mail) => mail.email)
    expect(emails).toHaveLength(400)
    // The sends paused only while the job changed hands: far less than the lock lifetime, since A
    // released the job instead of letting its lock expire.
    const sentAt = emulators.auth0.outbox.map((mail) => mail.at.getTime()).filter((at) => at >= stoppedAt - 1_000)
    const longestPause = Math.max(...sentAt.slice(1).map((at, index) => at - sentAt[index]!))
    expect(longestPause).toBeLessThan(lockLifetimeMs / 4)
    // And A is gone soon after, not when a timer of its scheduler lets it.
    expect((await a.exited) - stoppedAt).toBeLessThan(lockLifetimeMs / 4)
    expect(a.child.exitCode).toBe(0)
  }, 60_000)
})
