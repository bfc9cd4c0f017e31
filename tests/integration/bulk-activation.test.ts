// POST /jobs/bulk-activation and GET /jobs/bulk-activation/:id over HTTP, against the CRUD and
// Auth0 Client emulators: files, polling, error mapping, upserts, limits and failures.
import { describe, expect, it } from 'vitest'
import { IMPORT_FILE_MAX_BYTES, MAX_ACTIVE_IMPORT_JOBS } from '../../src/auth-providers/auth0-contract.js'
import type { UploadedFileSummary } from '../../src/sandbox/auth0-emulator.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { startStack, type Stack } from '../../src/sandbox/stack.js'
import { call, JOB_STORES, useStack, type StackHandle } from '../helpers/stack.js'
import { sleep, waitForJob as pollJob, waitUntil } from '../helpers/wait.js'

const UNKNOWN_ID = '0123456789abcdef01234567'
const AUTH_ID = /^auth0\|[0-9a-f]{24}$/
const STATUS_PATH = /^\/users\/import\/status\/[^/]+$/
const ERRORS_PATH = /^\/users\/import\/status\/[^/]+\/errors$/

interface SeedOptions {
  prefix?: string
  /** Extra fields per user index. */
  extra?: (index: number) => Record<string, unknown>
  /** Length of the generated usernames (long ones make big import files). */
  usernameLength?: number
}

/** CRUD users without an auth user; returns their `_id`s. */
function seedCrudUsers(stack: Stack, count: number, options: SeedOptions = {}): string[] {
  const prefix = options.prefix ?? 'act'
  return stack.crud.seed(
    USERS_ENDPOINT,
    Array.from({ length: count }, (_unused, index) => {
      const username = `${prefix}-${index}`
      return {
        userGroup: 'customer',
        name: 'N',
        surname: 'S',
        email: `${prefix}-${index}@example.com`,
        username: options.usernameLength ? username.padEnd(options.usernameLength, 'x') : username,
        ...options.extra?.(index),
      }
    }),
  )
}

const body = (ids: string[]) => ids.map((userId) => ({ filter: { userId } }))

/** The `authUserId` of each of `ids`, reading the collection once. */
function crudAuthIds(stack: Stack, ids: string[]): unknown[] {
  const byId = new Map(stack.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc.authUserId]))
  return ids.map((id) => byId.get(id))
}

function crudUser(stack: Stack, id: string): Record<string, unknown> {
  const user = stack.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === id)
  if (!user) throw new Error(`no CRUD user ${id}`)
  return user
}

const waitForJob = (stack: StackHandle, jobId: string, beforePoll?: () => void) => pollJob(stack.current.url, `/jobs/bulk-activation/${jobId}`, { beforePoll })

async function activate(stack: StackHandle, ids: string[], query = ''): Promise<any> {
  const created = await stack.call('POST', `/jobs/bulk-activation${query}`, { json: body(ids) })
  expect(created.status).toBe(202)
  return waitForJob(stack, created.body.jobId)
}

/** The users files the service uploaded, in order. */
function uploadedFiles(stack: Stack): UploadedFileSummary[] {
  return stack.auth0
    .requestsTo('POST', '/users/import')
    .filter((request) => request.outcome === 201)
    .map((request) => (request.body as { users: UploadedFileSummary }).users)
}

/** Auth0 job ids the service polled, in order of first poll. */
function polledJobIds(stack: Stack): string[] {
  return [...new Set(stack.auth0.requestsTo('GET', STATUS_PATH).map((request) => decodeURIComponent(request.path).split('/').pop()!))]
}

describe.each(JOB_STORES)('bulk activation (%s job store)', (jobStore) => {
  const stack = useStack({ jobStore, env: { AUTH0_JOB_POLLING_INTERVAL: '50', BULK_MAX_USERS: '50' } })

  it('answers 202 with the pending job, then completes with every user linked to its new auth user', async () => {
    const ids = seedCrudUsers(stack.current, 3)
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(ids) })
    expect(created.status).toBe(202)
    expect(created.body).toEqual({ jobId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), status: 'pending', jobCreatedAt: expect.any(String) })
    expect(new Date(created.body.jobCreatedAt).toISOString()).toBe(created.body.jobCreatedAt)

    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toEqual({
      jobId: created.body.jobId,
      status: 'completed',
      jobCreatedAt: created.body.jobCreatedAt,
      summary: { failed: 0, updated: 0, inserted: 3, total: 3, skipped: 0 },
      failures: [],
    })
    const authIds = ids.map((id) => crudUser(stack.current, id).authUserId as string)
    for (const [index, authUserId] of authIds.entries()) {
      expect(authUserId).toMatch(AUTH_ID)
      expect(stack.current.auth0.getUser(authUserId)).toMatchObject({
        email: `act-${index}@example.com`,
        username: `act-${index}`,
        email_verified: false,
      })
      expect(stack.current.auth0.getUser(authUserId)?.blocked).not.toBe(true)
    }
    expect(new Set(authIds).size).toBe(3)

    const [upload] = stack.current.auth0.requestsTo('POST', '/users/import')
    expect(upload!.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(upload!.body).toMatchObject({ upsert: 'true', external_id: created.body.jobId, send_completion_email: 'false', connection: 'Username-Password-Authentication' })
    const file = (upload!.body as { users: UploadedFileSummary }).users
    expect(file.contentType).toBe('application/json')
    expect(file.json).toEqual(
      ids.map((_id, index) => ({ user_id: authIds[index]!.slice('auth0|'.length), email: `act-${index}@example.com`, username: `act-${index}`, email_verified: false })),
    )
  })

  it('skips users that already have an authUserId, fails unknown ids and counts each id once', async () => {
    const [linked] = seedCrudUsers(stack.current, 1, { prefix: 'old', extra: () => ({ authUserId: 'auth0|5f1c0ffee0ddba11ab1e0042' }) })
    const fresh = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, [linked!, fresh[0]!, fresh[0]!, UNKNOWN_ID, fresh[1]!, 'not-an-object-id', fresh[1]!, UNKNOWN_ID])
    expect(done.body.status).toBe('completed')
    expect(done.body.summary).toEqual({ failed: 2, updated: 0, inserted: 2, total: 4, skipped: 1 })
    expect(done.body.failures).toEqual([
      { userId: UNKNOWN_ID, errors: [{ code: 'USER_NOT_FOUND', message: 'No user with this id' }] },
      { userId: 'not-an-object-id', errors: [{ code: 'USER_NOT_FOUND', message: 'No user with this id' }] },
    ])
    expect(crudUser(stack.current, linked!).authUserId).toBe('auth0|5f1c0ffee0ddba11ab1e0042')
    for (const id of fresh) expect(crudUser(stack.current, id).authUserId).toMatch(AUTH_ID)
    const files = uploadedFiles(stack.current)
    expect(files).toHaveLength(1)
    expect((files[0]!.json as Array<{ email: string }>).map((user) => user.email)).toEqual(['act-0@example.com', 'act-1@example.com'])
  })

  it('completes without any import when every user is already activated', async () => {
    const ids = seedCrudUsers(stack.current, 2, { extra: (index) => ({ authUserId: `auth0|00000000000000000000000${index}` }) })
    const done = await activate(stack, ids)
    expect(done.body).toMatchObject({ status: 'completed', summary: { failed: 0, updated: 0, inserted: 0, total: 0, skipped: 2 }, failures: [] })
    expect(stack.current.auth0.requestsTo('POST', '/users/import')).toHaveLength(0)
  })

  it('fails a user without email before any import', async () => {
    const [noEmail] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', username: 'no-mail' }])
    const [withEmail] = seedCrudUsers(stack.current, 1)
    const done = await activate(stack, [noEmail!, withEmail!])
    expect(done.body.summary).toEqual({ failed: 1, updated: 0, inserted: 1, total: 2, skipped: 0 })
    expect(done.body.failures).toEqual([{ userId: noEmail, errors: [{ code: 'EMAIL_MISSING', message: 'The user has no email: the auth service needs one' }] }])
    expect(crudUser(stack.current, noEmail!)).not.toHaveProperty('authUserId')
    expect(uploadedFiles(stack.current)[0]!.json).toHaveLength(1)
  })

  it('maps per-user Auth0 errors back to CRUD ids with only userId, code and message (upsert=false)', async () => {
    const existing = stack.current.auth0.seedUser({ email: 'act-1@example.com', username: 'someone-else', password: 'Secret-Pass1' })
    const ids = seedCrudUsers(stack.current, 3)
    const done = await activate(stack, ids, '?upsert=false')
    expect(done.body.summary).toEqual({ failed: 1, updated: 0, inserted: 2, total: 3, skipped: 0 })
    expect(done.body.failures).toEqual([{ userId: ids[1], errors: [{ code: 'DUPLICATED_USER', message: 'A user with this email already exists.' }] }])
    expect(crudUser(stack.current, ids[1]!)).not.toHaveProperty('authUserId')
    expect(crudUser(stack.current, ids[0]!).authUserId).toMatch(AUTH_ID)
    expect(crudUser(stack.current, ids[2]!).authUserId).toMatch(AUTH_ID)
    expect(stack.current.auth0.getUser(existing.user_id)?.username).toBe('someone-else')
    expect(stack.current.auth0.requestsTo('POST', '/users/import')[0]!.body).toMatchObject({ upsert: 'false' })
    // Without updates, the generated ids are the auth ids: no search.
    expect(stack.current.auth0.requestsTo('GET', '/users')).toHaveLength(0)
  })

  it('links users an upsert updated to their EXISTING auth ids, waiting for the search to catch up', async () => {
    // Created through the API a moment ago: Auth0's search does not return it for a while yet.
    stack.current.auth0.configure({ searchVisibilityDelayMs: 2500 })
    stack.current.auth0.injectFault({ method: 'GET', path: '/users', status: 503 })
    const existing = await call(stack.current.auth0.url, 'POST', '/users', {
      json: { email: 'act-0@example.com', username: 'existing', password: 'Secret-Pass1', connection: 'Username-Password-Authentication' },
    })
    expect(existing.status).toBe(201)
    const ids = seedCrudUsers(stack.current, 2, { extra: (index) => (index === 0 ? { email: 'ACT-0@example.com' } : {}) })
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 1, inserted: 1, total: 2, skipped: 0 })
    expect(crudUser(stack.current, ids[0]!).authUserId).toBe(existing.body.user_id)
    const inserted = crudUser(stack.current, ids[1]!).authUserId as string
    expect(inserted).toMatch(AUTH_ID)
    expect(stack.current.auth0.getUser(inserted)?.email).toBe('act-1@example.com')
    expect(stack.current.auth0.listUsers()).toHaveLength(2)
    const searches = stack.current.auth0.requestsTo('GET', '/users')
    expect(searches[0]!.outcome).toBe(503)
    expect(searches.length).toBeGreaterThanOrEqual(3)
    for (const search of searches) {
      const filter = JSON.parse(new URLSearchParams(search.rawQuery).get('_q')!)
      expect(Object.keys(filter)).toEqual(['email'])
      expect(filter.email.$in.length).toBeGreaterThan(0)
    }
  })

  it('imports users outside PUBLIC or flagged blocked as blocked, and blocks an existing auth user an upsert links to one', async () => {
    const existing = stack.current.auth0.seedUser({ email: 'act-0@example.com', password: 'Secret-Pass1' })
    const ids = seedCrudUsers(stack.current, 4, {
      extra: (index) => [{ __STATE__: 'TRASH' }, { __STATE__: 'DRAFT' }, { blocked: true }, {}][index]!,
    })
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 1, inserted: 3, total: 4, skipped: 0 })
    expect(crudUser(stack.current, ids[0]!).authUserId).toBe(existing.user_id)
    const blockedFlags = ids.map((id) => stack.current.auth0.getUser(crudUser(stack.current, id).authUserId as string)?.blocked === true)
    expect(blockedFlags).toEqual([true, true, true, false])
    const block = stack.current.auth0.requestsTo('PATCH', /^\/users\//)
    expect(block.map((request) => request.body)).toEqual([{ blocked: true }])
  })

  it('retries a start refused with 429 after retry-after', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', status: 429, headers: { 'retry-after': '0' }, times: 2 })
    const ids = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    expect(stack.current.auth0.requestsTo('POST', '/users/import').map((request) => request.outcome)).toEqual([429, 429, 201])
  })

  it('retries a start that fails with a 5xx at the next tick', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', status: 503 })
    const done = await activate(stack, seedCrudUsers(stack.current, 2))
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    expect(stack.current.auth0.requestsTo('POST', '/users/import').map((request) => request.outcome)).toEqual([503, 201])
  })

  it('gives up a start after three 5xx or transport failures: its users fail, and the job with them', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', status: 502, times: 2 })
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', reset: true })
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(seedCrudUsers(stack.current, 2)) })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toEqual({ jobId: created.body.jobId, status: 'failed', jobCreatedAt: created.body.jobCreatedAt })
    expect(stack.current.auth0.requestsTo('POST', '/users/import').map((request) => request.outcome)).toEqual([502, 502, 'reset'])
  })

  it('retries failed polls and a failed errors read at the next tick', async () => {
    stack.current.auth0.injectFault({ method: 'GET', path: STATUS_PATH, status: 503, times: 2 })
    stack.current.auth0.injectFault({ method: 'GET', path: STATUS_PATH, reset: true, times: 1 })
    stack.current.auth0.injectFault({ method: 'GET', path: ERRORS_PATH, status: 429, times: 1 })
    const ids = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    const polls = stack.current.auth0.requestsTo('GET', STATUS_PATH).map((request) => request.outcome)
    expect(polls.slice(0, 3)).toEqual([503, 503, 'reset'])
    expect(polls.at(-1)).toBe(200)
    expect(stack.current.auth0.requestsTo('GET', ERRORS_PATH).map((request) => request.outcome)).toEqual([429, 204])
    for (const id of ids) expect(crudUser(stack.current, id).authUserId).toMatch(AUTH_ID)
  })

  it('fails the users whose link the CRUD refuses and deletes the auth users created for them', async () => {
    stack.current.crud.injectFault({ method: 'PATCH', path: `${USERS_ENDPOINT}/bulk`, status: 500 })
    const ids = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 2, updated: 0, inserted: 0, total: 2, skipped: 0 })
    expect(done.body.failures).toEqual(
      ids.map((userId) => ({
        userId,
        errors: [{ code: 'CRUD_UPDATE_FAILED', message: `authUserId could not be set: CRUD PATCH ${USERS_ENDPOINT}/bulk responded with a 500 status code` }],
      })),
    )
    for (const id of ids) expect(crudUser(stack.current, id)).not.toHaveProperty('authUserId')
    // No orphan: the import created them, nobody links them, they are gone.
    expect(stack.current.auth0.listUsers()).toHaveLength(0)
  })

  it('sends a CRUD write that got no answer again', async () => {
    stack.current.crud.injectFault({ method: 'PATCH', path: `${USERS_ENDPOINT}/bulk`, reset: true })
    const ids = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    expect(stack.current.crud.requestsTo('PATCH', `${USERS_ENDPOINT}/bulk`).map((request) => request.outcome)).toEqual(['reset', 200])
    for (const id of ids) expect(crudUser(stack.current, id).authUserId).toMatch(AUTH_ID)
  })

  it('keeps the auth users when the CRUD writes never get an answer (they may still land)', async () => {
    stack.current.crud.injectFault({ method: 'PATCH', path: `${USERS_ENDPOINT}/bulk`, reset: true, times: 3 })
    const ids = seedCrudUsers(stack.current, 2)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 2, updated: 0, inserted: 0, total: 2, skipped: 0 })
    const message = `authUserId could not be confirmed (it may still be set): CRUD PATCH ${USERS_ENDPOINT}/bulk failed: connection reset`
    expect(done.body.failures).toEqual(ids.map((userId) => ({ userId, errors: [{ code: 'CRUD_UPDATE_FAILED', message }] })))
    expect(stack.current.crud.requestsTo('PATCH', `${USERS_ENDPOINT}/bulk`)).toHaveLength(3)
    expect(stack.current.auth0.requestsTo('DELETE', /^\/users\//)).toHaveLength(0)
    expect(stack.current.auth0.listUsers()).toHaveLength(2)
  })

  it('ends failed when the users cannot be read from the CRUD', async () => {
    stack.current.crud.injectFault({ method: 'GET', path: `${USERS_ENDPOINT}/`, status: 500 })
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(seedCrudUsers(stack.current, 1)) })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toEqual({ jobId: created.body.jobId, status: 'failed', jobCreatedAt: created.body.jobCreatedAt })
    expect(stack.current.auth0.requestsTo('POST', '/users/import')).toHaveLength(0)
  })

  it('fails the users of a file the auth service refuses, and the job when nothing could be imported', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', status: 400, times: 1 })
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(seedCrudUsers(stack.current, 2)) })
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toEqual({ jobId: created.body.jobId, status: 'failed', jobCreatedAt: created.body.jobCreatedAt })
    expect(stack.current.auth0.requestsTo('POST', '/users/import')).toHaveLength(1)
  })

  it.each([
    [[], 'body must NOT have fewer than 1 items'],
    [Array.from({ length: 51 }, (_unused, index) => ({ filter: { userId: `id-${index}` } })), 'body must NOT have more than 50 items'],
    [{ filter: { userId: UNKNOWN_ID } }, 'body must be array'],
    [[{ filter: {} }], "body.0.filter must have required property 'userId'"],
    [[{ userId: UNKNOWN_ID }], "body.0 must have required property 'filter'"],
    [[{ filter: { userId: '' } }], 'body.0.filter.userId must NOT have fewer than 1 characters'],
    [[{ filter: { userId: UNKNOWN_ID, email: 'a@b.c' } }], 'body.0.filter must NOT have additional properties (property "email")'],
    [[{ filter: { userId: { $ne: null } } }], 'body.0.filter.userId must be string'],
  ])('rejects %j with 400 and starts nothing', async (payload, message) => {
    const answer = await stack.call('POST', '/jobs/bulk-activation', { json: payload })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message })
    await sleep(30)
    expect(stack.current.crud.requests).toHaveLength(0)
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('rejects an upsert that is not a boolean', async () => {
    const answer = await stack.call('POST', '/jobs/bulk-activation?upsert=maybe', { json: body([UNKNOWN_ID]) })
    expect(answer.status).toBe(400)
    expect(answer.body.message).toBe('querystring.upsert must be boolean')
    expect(stack.current.crud.requests).toHaveLength(0)
  })

  it('answers 404 for an unknown job and for a change-password job id', async () => {
    const unknown = await stack.call('GET', '/jobs/bulk-activation/c735cf45-536b-45ce-8ef1-d0066515c185')
    expect(unknown.status).toBe(404)
    expect(unknown.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Job c735cf45-536b-45ce-8ef1-d0066515c185 not found', code: 'UMS_JOB_NOT_FOUND' })

    const other = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: ['auth0|000000000000000000000001'] } })
    expect(other.status).toBe(202)
    const crossed = await stack.call('GET', `/jobs/bulk-activation/${other.body.jobId}`)
    expect(crossed.status).toBe(404)
    expect((await stack.call('GET', `/jobs/change-password/bulk/${other.body.jobId}`)).status).toBe(200)
  })
})

describe.each(JOB_STORES)('bulk activation with manual import jobs (%s job store)', (jobStore) => {
  const stack = useStack({ jobStore, env: { AUTH0_JOB_POLLING_INTERVAL: '50' }, auth0: { importTiming: { mode: 'manual' } } })

  /** Advances every pending/processing job the service polls to `completed`, until the ums job ends. */
  function completeAll(jobId: string): Promise<any> {
    return waitForJob(stack, jobId, () => {
      for (const id of polledJobIds(stack.current)) {
        const status = stack.current.auth0.importJob(id)?.status
        if (status === 'pending' || status === 'processing') stack.current.auth0.advanceImportJob(id, 'completed')
      }
    })
  }

  it('splits files over 500 KB and never runs more than 2 import jobs at once', async () => {
    // ~9 KB per user: 130 users need three files.
    const ids = seedCrudUsers(stack.current, 130, { usernameLength: 9000 })
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(ids) })
    expect(created.status).toBe(202)

    await waitUntil(() => polledJobIds(stack.current).length === MAX_ACTIVE_IMPORT_JOBS, 'two import jobs polled')
    await sleep(300)
    // Six ticks later: still two, the third file waits for a free slot instead of hitting 429.
    const starts = stack.current.auth0.requestsTo('POST', '/users/import')
    expect(starts.map((request) => request.outcome)).toEqual([201, 201])
    const running = await stack.call('GET', `/jobs/bulk-activation/${created.body.jobId}`)
    expect(running.body).toMatchObject({ status: 'pending', progress: { done: 0, total: 130 } })

    const [first] = polledJobIds(stack.current)
    stack.current.auth0.advanceImportJob(first!, 'completed')
    await waitUntil(() => stack.current.auth0.requestsTo('POST', '/users/import').length === 3, 'the third file started')

    const done = await completeAll(created.body.jobId)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 130, total: 130, skipped: 0 })
    const files = uploadedFiles(stack.current)
    expect(files.length).toBe(3)
    for (const file of files) expect(file.size).toBeLessThanOrEqual(IMPORT_FILE_MAX_BYTES)
    expect(files.reduce((sum, file) => sum + (file.json as unknown[]).length, 0)).toBe(130)
    const authIds = crudAuthIds(stack.current, ids)
    for (const authUserId of authIds) expect(authUserId).toMatch(AUTH_ID)
    expect(new Set(authIds).size).toBe(130)
    expect(stack.current.auth0.requestsTo('POST', '/users/import').every((request) => request.outcome === 201)).toBe(true)
  })

  it('fails the users of an import job that ends failed and links the others', async () => {
    const ids = seedCrudUsers(stack.current, 70, { usernameLength: 9000 })
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(ids) })
    await waitUntil(() => polledJobIds(stack.current).length === 2, 'two import jobs polled')
    const [failing, completing] = polledJobIds(stack.current)
    stack.current.auth0.advanceImportJob(failing!, 'failed')
    stack.current.auth0.advanceImportJob(completing!, 'completed')
    const done = await waitForJob(stack, created.body.jobId)

    expect(done.body.status).toBe('completed')
    const { failed, inserted } = done.body.summary
    expect(done.body.summary).toEqual({ failed, updated: 0, inserted, total: 70, skipped: 0 })
    expect(failed).toBeGreaterThan(0)
    expect(inserted).toBeGreaterThan(0)
    expect(done.body.failures).toHaveLength(failed)
    const docs = new Map(stack.current.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id as string, doc]))
    for (const failure of done.body.failures) {
      expect(failure.errors).toEqual([{ code: 'IMPORT_JOB_FAILED', message: `The auth import job ${failing} ended failed: none of its users was activated` }])
      expect(docs.get(failure.userId)).not.toHaveProperty('authUserId')
    }
    // The failed users are exactly the users of one file; everybody else is linked.
    const failedEmails = done.body.failures.map((failure: { userId: string }) => docs.get(failure.userId)!.email).sort()
    const fileEmails = uploadedFiles(stack.current).map((file) => (file.json as Array<{ email: string }>).map((user) => user.email).sort())
    expect(fileEmails).toContainEqual(failedEmails)
    const failedIds = new Set(done.body.failures.map((failure: { userId: string }) => failure.userId))
    for (const id of ids.filter((candidate) => !failedIds.has(candidate))) expect(docs.get(id)!.authUserId).toMatch(AUTH_ID)
  })

  it('ends failed when its only import job fails', async () => {
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(seedCrudUsers(stack.current, 2)) })
    await waitUntil(() => polledJobIds(stack.current).length === 1, 'import job polled')
    stack.current.auth0.advanceImportJob(polledJobIds(stack.current)[0]!, 'failed')
    const done = await waitForJob(stack, created.body.jobId)
    expect(done.body).toEqual({ jobId: created.body.jobId, status: 'failed', jobCreatedAt: created.body.jobCreatedAt })
  })

  it('waits for a free slot when other jobs hold the tenant limit (429 without retry-after)', async () => {
    const foreign: string[] = []
    for (const index of [0, 1]) {
      const answer = await call(stack.current.auth0.url, 'POST', '/users/import', {
        json: { users: [{ email: `foreign-${index}@example.com` }], connection: 'Username-Password-Authentication' },
      })
      expect(answer.status).toBe(201)
      foreign.push(answer.body.id)
    }
    stack.current.auth0.clearRequests()
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body(seedCrudUsers(stack.current, 2)) })
    await waitUntil(() => stack.current.auth0.requestsTo('POST', '/users/import').length >= 4, 'four start attempts')
    const refused = stack.current.auth0.requestsTo('POST', '/users/import')
    expect(refused.every((request) => request.outcome === 429)).toBe(true)
    // Retried at the poll rate (50 ms), not in a loop.
    const gaps = refused.slice(1).map((request, index) => request.at.getTime() - refused[index]!.at.getTime())
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(40)

    for (const id of foreign) stack.current.auth0.advanceImportJob(id, 'completed')
    const done = await completeAll(created.body.jobId)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 2, total: 2, skipped: 0 })
    expect(stack.current.auth0.requestsTo('POST', '/users/import').at(-1)!.outcome).toBe(201)
  })

  it('reports progress while pending', async () => {
    const [linked] = seedCrudUsers(stack.current, 1, { prefix: 'old', extra: () => ({ authUserId: 'auth0|5f1c0ffee0ddba11ab1e0042' }) })
    const ids = seedCrudUsers(stack.current, 2)
    const created = await stack.call('POST', '/jobs/bulk-activation', { json: body([linked!, UNKNOWN_ID, ...ids]) })
    await waitUntil(() => polledJobIds(stack.current).length === 1, 'import job polled')
    const pending = await stack.call('GET', `/jobs/bulk-activation/${created.body.jobId}`)
    expect(pending.body).toEqual({ jobId: created.body.jobId, status: 'pending', jobCreatedAt: created.body.jobCreatedAt, progress: { done: 2, total: 4 } })
    const done = await completeAll(created.body.jobId)
    expect(done.body.summary).toEqual({ failed: 1, updated: 0, inserted: 2, total: 3, skipped: 1 })
    expect(done.body).not.toHaveProperty('progress')
  })
})

describe.each(JOB_STORES)('bulk activation polled on a cron expression (%s job store)', (jobStore) => {
  const stack = useStack({ jobStore, env: { AUTH0_JOB_POLLING_INTERVAL: '* * * * * *' } })

  it('polls at the next whole second', async () => {
    const ids = seedCrudUsers(stack.current, 1)
    const done = await activate(stack, ids)
    expect(done.body.summary).toEqual({ failed: 0, updated: 0, inserted: 1, total: 1, skipped: 0 })
    const polls = stack.current.auth0.requestsTo('GET', STATUS_PATH)
    expect(polls.length).toBeGreaterThan(0)
    for (const poll of polls) expect(poll.at.getMilliseconds()).toBeLessThan(500)
  })
})

describe('bulk activation on close', () => {
  it('stops polling when the app closes', async () => {
    const stack = await startStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '20' }, auth0: { importTiming: { mode: 'manual' } } })
    try {
      const ids = seedCrudUsers(stack, 1)
      const created = await call(stack.url, 'POST', '/jobs/bulk-activation', { json: body(ids) })
      expect(created.status).toBe(202)
      await waitUntil(() => stack.auth0.requestsTo('GET', STATUS_PATH).length >= 2, 'polling')
      await stack.app.close()
      const polls = stack.auth0.requestsTo('GET', STATUS_PATH).length
      await sleep(150)
      expect(stack.auth0.requestsTo('GET', STATUS_PATH).length).toBe(polls)
    } finally {
      await stack.close()
    }
  })
})
