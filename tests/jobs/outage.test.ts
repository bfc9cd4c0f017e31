// A job store that cannot be reached, at start or later, never crashes ums: readiness answers 503
// naming the store, liveness stays 200, the job routes answer 503, and everything recovers by
// itself once the store is back. The store is cut and restored through a loopback TCP proxy.
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, startStack, type Stack } from '../../src/sandbox/stack.js'
import type { IsolatedStore } from '../helpers/job-stores.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { call, isolatedJobStore } from '../helpers/stack.js'
import { seedAuthUsers } from '../helpers/job-users.js'
import { sleep, waitUntil } from '../helpers/wait.js'

const BACKENDS = { postgres: { name: 'PostgreSQL', port: 5432 }, redis: { name: 'Redis', port: 6379 } } as const

/** The first value of `probe` that `accept` takes. */
async function waitFor<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs?: number): Promise<T> {
  let value: T | undefined
  await waitUntil(async () => accept((value = await probe())), what, timeoutMs)
  return value!
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An isolated store reached through a proxy the test can cut. */
async function proxiedStore(kind: keyof typeof BACKENDS): Promise<{ store: IsolatedStore; proxy: TcpProxy; env: Record<string, string> }> {
  const store = (await isolatedJobStore(kind))!
  cleanups.push(() => store.cleanup())
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: BACKENDS[kind].port })
  cleanups.push(() => proxy.close())
  const url = store.url.replace(`127.0.0.1:${BACKENDS[kind].port}`, `127.0.0.1:${proxy.port}`)
  return { store, proxy, env: { JOBS_STORE_URL: url, JOBS_COLLECTION_NAME: store.name, JOBS_LOCK_LIFETIME_MS: '2000' } }
}

async function stackWith(env: Record<string, string>): Promise<Stack> {
  const stack = await startStack({ env: { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '20', ...env } })
  cleanups.push(() => stack.close())
  return stack
}

describe.each(['postgres', 'redis'] as const)('a %s job store that is unreachable', (kind) => {
  const { name } = BACKENDS[kind]

  it('at start: ums starts, is not ready, answers 503 on job routes, and recovers once the store is back', async () => {
    const { proxy, env } = await proxiedStore(kind)
    proxy.cut()
    const stack = await stackWith(env)

    const ready = await call(stack.url, 'GET', '/-/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.message).toContain(`${name} job store`)
    expect((await call(stack.url, 'GET', '/-/healthz')).status).toBe(200)
    const refused = await call(stack.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ['auth0|x'] } })
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'UMS_JOB_STORE_UNAVAILABLE' })
    expect(refused.body.message).toMatch(new RegExp(`^Jobs are unavailable: .*${name} job store.*\\. Try again later$`))
    expect((await call(stack.url, 'GET', '/jobs/bulk-activation/c735cf45-536b-45ce-8ef1-d0066515c185')).status).toBe(503)
    expect(stack.auth0.requests).toHaveLength(0)
    const checkUp = await call(stack.url, 'GET', '/-/check-up')
    expect(checkUp.status).toBe(503)
    expect(checkUp.body.message).toContain(`${name} job store`)

    proxy.restore()
    await waitFor(() => call(stack.url, 'GET', '/-/ready'), (answer) => answer.status === 200, 'readiness')
    expect((await call(stack.url, 'GET', '/-/check-up')).status).toBe(200)
    const ids = seedAuthUsers(stack, 3, 'outage')
    const created = await call(stack.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    expect(created.status).toBe(202)
    const done = await waitFor(() => call(stack.url, 'GET', `/jobs/change-password/bulk/${created.body.jobId}`), (answer) => answer.body.status === 'completed', 'the job')
    expect(done.body.summary).toEqual({ failed: 0, completed: 3, total: 3 })
  })

  it('later: readiness and job routes answer 503 while it is down; a running job resumes once it is back', async () => {
    const { proxy, env } = await proxiedStore(kind)
    const stack = await stackWith(env)
    const ids = seedAuthUsers(stack, 60, 'outage')
    const created = await call(stack.url, 'POST', '/jobs/change-password/bulk', { json: { authUsersIds: ids } })
    expect(created.status).toBe(202)
    await waitFor(async () => stack.auth0.outbox.length, (sent) => sent >= 10, 'the first emails')

    proxy.cut()
    const notReady = await waitFor(() => call(stack.url, 'GET', '/-/ready'), (answer) => answer.status === 503, 'readiness to drop')
    expect(notReady.body.message).toContain(`${name} job store`)
    expect((await call(stack.url, 'GET', '/-/healthz')).status).toBe(200)
    expect((await call(stack.url, 'GET', `/jobs/change-password/bulk/${created.body.jobId}`)).status).toBe(503)
    // The run stops at its next checkpoint instead of sending emails it cannot record.
    await sleep(500)
    const sentWhileDown = stack.auth0.outbox.length
    await sleep(500)
    expect(stack.auth0.outbox.length).toBe(sentWhileDown)

    proxy.restore()
    await waitFor(() => call(stack.url, 'GET', '/-/ready'), (answer) => answer.status === 200, 'readiness')
    const done = await waitFor(
      () => call(stack.url, 'GET', `/jobs/change-password/bulk/${created.body.jobId}`),
      (answer) => answer.body.status === 'completed',
      'the job to resume and complete',
      15_000,
    )
    expect(done.body.summary).toEqual({ failed: 0, completed: 60, total: 60 })
    const emails = stack.auth0.outbox.map((mail) => mail.email)
    expect(new Set(emails).size).toBe(60)
    // Only sends in flight when the store went away may be repeated.
    expect(emails.length - 60).toBeLessThanOrEqual(4 + 40)
  })
})

describe.each([
  ['JOBS_STORE_URL', 'mongodb'],
  ['MONGODB_URL', 'mongodb'],
])('a MongoDB job store given by %s that cannot be reached', (variable) => {
  it('lets ums start, not ready, with 503 on the job routes', async () => {
    const port = await freePort()
    const stack = await stackWith({ [variable]: `mongodb://ums:s3cret@127.0.0.1:${port}/ums` })
    const ready = await call(stack.url, 'GET', '/-/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.message).toContain(`MongoDB job store unreachable at 127.0.0.1:${port}`)
    expect(ready.body.message).not.toContain('s3cret')
    expect((await call(stack.url, 'GET', '/-/healthz')).status).toBe(200)
    const refused = await call(stack.url, 'POST', '/jobs/bulk-activation', { json: [{ filter: { userId: '0123456789abcdef01234567' } }] })
    expect(refused.status).toBe(503)
    expect(refused.body.code).toBe('UMS_JOB_STORE_UNAVAILABLE')
  })
})
