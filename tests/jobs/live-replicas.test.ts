// Two ums processes on one job store, both alive the whole time: Agenda tells every replica about
// the jobs the others start and finish, so each replica hears of jobs it never ran. Jobs of both
// kinds are submitted on either replica; all complete, and both replicas stay up, keep serving and
// log no error.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { call } from '../helpers/stack.js'
import { seedAuthUsers, seedCrudOnlyUsers } from '../helpers/job-users.js'
import { errorLines, isRunning, useReplicas } from '../helpers/replicas.js'
import { waitForJob } from '../helpers/wait.js'

const JOBS_PER_KIND = 20
const USERS_PER_JOB = 5

describe.concurrent.each(['postgres', 'redis'] as const)('two live replicas on one %s job store', (kind) => {
  const { replicaEnv, startUms, useEmulators } = useReplicas()

  it(`completes ${JOBS_PER_KIND} jobs of each kind submitted on both, and neither replica fails`, async () => {
    const emulators = await useEmulators()
    const env = await replicaEnv(kind, emulators, {
      JOBS_LOCK_LIFETIME_MS: '3000',
      AUTH0_JOB_POLLING_INTERVAL: '100',
      AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '200',
    })
    const [a, b] = await Promise.all([startUms('A', env), startUms('B', env)])

    const paths: string[] = []
    const activated: string[] = []
    for (let index = 0; index < JOBS_PER_KIND; index += 1) {
      const replica = index % 2 === 0 ? a : b
      const crudIds = seedCrudOnlyUsers(emulators, USERS_PER_JOB, `act${index}`)
      activated.push(...crudIds)
      const activation = await call(replica.url, 'POST', '/jobs/bulk-activation', { json: crudIds.map((userId) => ({ filter: { userId } })) })
      expect(activation.status).toBe(202)
      paths.push(`/jobs/bulk-activation/${activation.body.jobId}`)
      const changePassword = await call(replica.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: seedAuthUsers(emulators, USERS_PER_JOB, `mail${index}`) } })
      expect(changePassword.status).toBe(202)
      paths.push(`/jobs/change-password/bulk/${changePassword.body.jobId}`)
    }

    for (const [index, path] of paths.entries()) {
      const job = (await waitForJob(index % 2 === 0 ? b.url : a.url, path, { timeoutMs: 90_000 })).body
      expect(job.status).toBe('completed')
      expect(job.summary.total).toBe(USERS_PER_JOB)
      expect(job.summary.failed).toBe(0)
    }
    const linked = new Map(emulators.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc.authUserId]))
    for (const id of activated) expect(linked.get(id)).toMatch(/^auth0\|/)
    expect(emulators.auth0.outbox).toHaveLength(JOBS_PER_KIND * USERS_PER_JOB)

    for (const replica of [a, b]) {
      expect(isRunning(replica), `${replica.name} is still running`).toBe(true)
      expect((await call(replica.url, 'GET', '/-/healthz')).status).toBe(200)
      expect((await call(replica.url, 'GET', '/users/count')).status).toBe(200)
      expect(errorLines(replica), `${replica.name}'s error lines`).toEqual([])
    }
  }, 120_000)
})
