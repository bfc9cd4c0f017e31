// POST /jobs/change-password/bulk and GET /jobs/change-password/bulk/:id over HTTP.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { matchTarget } from '../../src/sandbox/auth0-emulator.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { JOB_STORES, useStack, type StackHandle } from '../helpers/stack.js'
import { sleep, waitForJob as pollJob } from '../helpers/wait.js'


/** `count` users with an auth user; the first `withoutCrudEmail` have no email in the CRUD. */
function seedUsers(stack: Stack, count: number, withoutCrudEmail = 0): string[] {
  return Array.from({ length: count }, (_unused, index) => {
    const email = `bulk-${index}@example.com`
    const authUser = stack.auth0.seedUser({ email, username: `bulk-${index}`, password: 'Secret-Pass1' })
    stack.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', authUserId: authUser.user_id, ...(index < withoutCrudEmail ? {} : { email }) }])
    return authUser.user_id
  })
}

const waitForJob = (stack: StackHandle, jobId: string, timeoutMs?: number) => pollJob(stack.current.url, `/jobs/change-password/bulk/${jobId}`, { timeoutMs })

describe.each(JOB_STORES)('change-password bulk job (%s job store)', (jobStore) => {
  const stack = useStack({ jobStore, env: { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '50', BULK_MAX_USERS: '40' } })

  it('answers 202 with the pending job, then the completed result with summary, completed and failures', async () => {
    const ids = seedUsers(stack.current, 4, 1)
    const unknown = 'auth0|000000000000000000000000'
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [...ids, unknown] } })
    expect(created.status).toBe(202)
    expect(created.body).toEqual({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'pending', jobCreatedAt: expect.any(String) })
    expect(new Date(created.body.jobCreatedAt).toISOString()).toBe(created.body.jobCreatedAt)

    const done = await waitForJob(stack, created.body.jobId)
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ jobId: created.body.jobId, status: 'completed', jobCreatedAt: created.body.jobCreatedAt, summary: { failed: 1, completed: 4, total: 5 } })
    expect(done.body.completed.map((entry: { authUserId: string }) => entry.authUserId).sort()).toEqual([...ids].sort())
    expect(done.body.failures).toEqual([{ authUserId: unknown, message: 'user not found' }])
    expect(done.body).not.toHaveProperty('progress')
    expect(stack.current.auth0.outbox.map((mail) => mail.email).sort()).toEqual(['bulk-0@example.com', 'bulk-1@example.com', 'bulk-2@example.com', 'bulk-3@example.com'])
  })

  it('counts each auth user once', async () => {
    const [id] = seedUsers(stack.current, 1)
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [id, id, id] } })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body.summary).toEqual({ failed: 0, completed: 1, total: 1 })
    expect(stack.current.auth0.outbox).toHaveLength(1)
  })

  it('records a user the provider refuses as a failure naming the call, without failing the job', async () => {
    const ids = seedUsers(stack.current, 3)
    stack.current.auth0.injectFault({ method: 'POST', path: '/change-password', status: 404, match: matchTarget('bulk-1@example.com') })
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body.status).toBe('completed')
    expect(done.body.summary).toEqual({ failed: 1, completed: 2, total: 3 })
    expect(done.body.failures).toEqual([{ authUserId: ids[1], message: 'AUTH POST /change-password responded with a 404 status code' }])
  })

  it('ends completed with every user failed when the auth service is down', async () => {
    const ids = seedUsers(stack.current, 2)
    stack.current.auth0.injectFault({ method: 'POST', path: '/change-password', reset: true, times: Infinity })
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toMatchObject({ status: 'completed', summary: { failed: 2, completed: 0, total: 2 }, completed: [] })
    expect(done.body.failures.map((failure: { message: string }) => failure.message)).toEqual([
      'AUTH POST /change-password failed: connection reset',
      'AUTH POST /change-password failed: connection reset',
    ])
  })

  it('gives up on a user after five 429 answers', async () => {
    const [id] = seedUsers(stack.current, 1)
    stack.current.auth0.injectFault({ method: 'POST', path: '/change-password', status: 429, headers: { 'retry-after': '0' }, times: Infinity })
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [id] } })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body.failures).toEqual([{ authUserId: id, message: 'AUTH POST /change-password responded with a 429 status code' }])
    expect(stack.current.auth0.requestsTo('POST', '/change-password')).toHaveLength(5)
  })

  it.each([
    [{}, "body must have required property 'authUsersIds'"],
    [{ authUsersIds: [] }, 'body.authUsersIds must NOT have fewer than 1 items'],
    [{ authUsersIds: [''] }, 'body.authUsersIds.0 must NOT have fewer than 1 characters'],
    [{ authUsersIds: [{ id: 1 }] }, 'body.authUsersIds.0 must be string'],
    [{ authUsersIds: Array.from({ length: 41 }, (_unused, index) => `auth0|${index}`) }, 'body.authUsersIds must NOT have more than 40 items'],
  ])('rejects %j with 400 and starts nothing', async (body, message) => {
    const answer = await stack.call('POST', '/jobs/change-password/bulk', { json: body })
    expect(answer.status).toBe(400)
    expect(answer.body.message).toBe(message)
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('answers 404 for an unknown job', async () => {
    const answer = await stack.call('GET', '/jobs/change-password/bulk/c735cf45-536b-45ce-8ef1-d0066515c185')
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Job c735cf45-536b-45ce-8ef1-d0066515c185 not found', code: 'UMS_JOB_NOT_FOUND' })
  })
})

describe.each(JOB_STORES)('change-password bulk job pacing (%s job store)', (jobStore) => {
  const stack = useStack({ jobStore, env: { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '10' } })

  it('sends at the configured rate and reports progress while pending', async () => {
    const ids = seedUsers(stack.current, 8)
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    await sleep(250)
    const running = await stack.call('GET', `/jobs/change-password/bulk/${created.body.jobId}`)
    expect(running.body.status).toBe('pending')
    expect(running.body.progress.total).toBe(8)
    expect(running.body.progress.done).toBeGreaterThan(0)
    expect(running.body.progress.done).toBeLessThan(8)
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body.summary).toEqual({ failed: 0, completed: 8, total: 8 })
    const sentAt = stack.current.auth0.requestsTo('POST', '/change-password').map((request) => request.at.getTime())
    const gaps = sentAt.slice(1).map((at, index) => at - sentAt[index]!)
    // 10 per second: about 100 ms apart, never a burst. A slot whose timer fired late is followed
    // by one at least half an interval later (the Pacer's guarantee), so jitter cannot halve it.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(50)
    const average = (sentAt.at(-1)! - sentAt[0]!) / gaps.length
    expect(average).toBeGreaterThanOrEqual(90)
  })
})

describe('change-password bulk job against a rate-limited provider', () => {
  const stack = useStack({
    env: { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '40' },
    auth0: { rateLimits: { authApi: { burst: 2, perSecond: 10 } } },
  })

  it('waits as the 429 answers ask and completes every user', async () => {
    const ids = seedUsers(stack.current, 12)
    const created = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    const done = await waitForJob(stack, created.body.jobId, 20_000)
    expect(done.body.summary).toEqual({ failed: 0, completed: 12, total: 12 })
    const outcomes = stack.current.auth0.requestsTo('POST', '/change-password').map((request) => request.outcome)
    expect(outcomes.filter((outcome) => outcome === 429).length).toBeGreaterThan(0)
    expect(outcomes.filter((outcome) => outcome === 200)).toHaveLength(12)
  })
})
