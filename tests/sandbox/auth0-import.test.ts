// Auth0 Client emulator: bulk import jobs.
import { describe, expect, it, vi } from 'vitest'
import { IMPORT_FILE_MAX_BYTES } from '../../src/auth-providers/auth0-contract.js'
import { Auth0ClientEmulator, type Auth0User, type ImportJobView } from '../../src/sandbox/auth0-emulator.js'
import { waitUntil } from '../helpers/wait.js'
import { call as callAt, importForm, useAuth0Emulator, useMovableClock } from './auth0-helpers.js'

const CONNECTION = 'Username-Password-Authentication'
// Jobs move on the emulator's timers and clock: the tests move those instead of waiting.
useMovableClock(['Date', 'setTimeout', 'clearTimeout'])
const { emulator, call } = useAuth0Emulator({ importTiming: { mode: 'manual' } })

const HEX = 'a'.repeat(23)
const fileUser = (i: number, extra: Record<string, unknown> = {}) => ({
  user_id: `${HEX}${i}`,
  email: `user${i}@example.com`,
  username: `user${i}`,
  email_verified: false,
  ...extra,
})

async function startImport(users: unknown, fields: Record<string, string> = { upsert: 'true', connection: CONNECTION, send_completion_email: 'false' }) {
  return call('POST', '/users/import', { body: importForm(users, fields) })
}

async function runToEnd(users: unknown, fields?: Record<string, string>): Promise<ImportJobView> {
  const created = await startImport(users, fields)
  expect(created.status).toBe(201)
  const { id } = created.json as ImportJobView
  emulator.advanceImportJob(id, 'completed')
  return (await call('GET', `/users/import/status/${id}`)).json as ImportJobView
}

async function errorsOf(jobId: string) {
  return call('GET', `/users/import/status/${jobId}/errors`)
}

describe('POST /users/import (item 20)', () => {
  it('creates a pending job and answers 201 with the import job object', async () => {
    const answer = await startImport([fileUser(1)], { upsert: 'true', external_id: 'c735cf45', send_completion_email: 'false', connection: CONNECTION })
    expect(answer.status).toBe(201)
    const job = answer.json as ImportJobView
    expect(job).toEqual({
      status: 'pending',
      type: 'users_import',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      id: expect.stringMatching(/^job_[A-Za-z0-9]{16}$/),
      connection_id: emulator.connectionId(CONNECTION),
      connection: CONNECTION,
      upsert: true,
      external_id: 'c735cf45',
      send_completion_email: false,
    })
    expect(emulator.importJob(job.id)).toEqual(job)
  })

  it('defaults the connection, upsert=false and send_completion_email=true', async () => {
    const answer = await startImport([fileUser(1)], {})
    expect(answer.json).toMatchObject({ connection: CONNECTION, upsert: false, send_completion_email: true })
    expect(answer.json).not.toHaveProperty('external_id')
  })

  it('also accepts a JSON body', async () => {
    const answer = await call('POST', '/users/import', { json: { users: [fileUser(1)], upsert: true, external_id: 'x' } })
    expect(answer.status).toBe(201)
    expect(answer.json).toMatchObject({ upsert: true, external_id: 'x' })
    expect(emulator.requestsTo('POST', '/users/import')[0]?.contentType).toBe('application/json')
  })

  it('refuses connection_id, unknown connections and a missing file with 400', async () => {
    const withId = await startImport([fileUser(1)], { connection_id: emulator.connectionId(CONNECTION) })
    expect(withId.status).toBe(400)
    expect(withId.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    expect((await startImport([fileUser(1)], { connection: 'nope' })).status).toBe(400)
    const form = new FormData()
    form.append('upsert', 'true')
    expect((await call('POST', '/users/import', { body: form })).status).toBe(400)
    expect((await startImport([fileUser(1)], { upsert: 'maybe' })).status).toBe(400)
    emulator.configure({ defaultConnection: null })
    expect((await startImport([fileUser(1)], {})).status).toBe(400)
  })

  it('answers 413 for a users part over 500 KB and accepts exactly 500 KB', async () => {
    const padding = (size: number) => JSON.stringify([{ email: 'a@example.com', name: 'x'.repeat(size - 37) }])
    expect(Buffer.byteLength(padding(IMPORT_FILE_MAX_BYTES))).toBe(IMPORT_FILE_MAX_BYTES)
    const tooBig = await startImport(padding(IMPORT_FILE_MAX_BYTES + 1), {})
    expect(tooBig.status).toBe(413)
    expect(tooBig.json).toEqual({ statusCode: 413, error: 'Request Entity Too Large', message: 'Payload content length greater than maximum allowed: 512000' })
    expect((await startImport(padding(IMPORT_FILE_MAX_BYTES), {})).status).toBe(201)
  })

  it('answers 429 with the Auth0 message while 2 jobs are pending or processing', async () => {
    const first = (await startImport([fileUser(1)])).json as ImportJobView
    await startImport([fileUser(2)])
    emulator.advanceImportJob(first.id)
    const refused = await startImport([fileUser(3)])
    expect(refused.status).toBe(429)
    expect(refused.json).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'There are 2 active import users jobs, please wait until some of them are finished and try again',
    })
    emulator.advanceImportJob(first.id)
    expect((await startImport([fileUser(3)])).status).toBe(201)
  })
})

describe('job lifecycle (items 21, 22)', () => {
  it('moves through processing to completed in manual mode only when advanced', async () => {
    const { id } = (await startImport([fileUser(1)])).json as ImportJobView
    await vi.advanceTimersByTimeAsync(100)
    expect(emulator.importJob(id)?.status).toBe('pending')
    emulator.advanceImportJob(id)
    const processing = (await call('GET', `/users/import/status/${id}`)).json
    expect(processing).toMatchObject({ status: 'processing', percentage_done: 0 })
    expect(emulator.listUsers()).toEqual([])
    emulator.advanceImportJob(id)
    const done = (await call('GET', `/users/import/status/${id}`)).json
    expect(done).toMatchObject({ status: 'completed', summary: { failed: 0, updated: 0, inserted: 1, total: 1 } })
    expect(emulator.getUser(`auth0|${HEX}1`)).toMatchObject({ email: 'user1@example.com', username: 'user1' })
    expect(() => emulator.advanceImportJob(id)).toThrow(/completed/)
    expect(() => emulator.advanceImportJob('job_unknown')).toThrow(/unknown/)
  })

  it('runs asynchronously in automatic mode with percentage_done while processing', async () => {
    emulator.configure({ importTiming: { mode: 'automatic', pendingMs: 30, processingMs: 300 } })
    const created = await startImport([fileUser(1), fileUser(2)])
    const { id } = created.json as ImportJobView
    expect(created.json).toMatchObject({ status: 'pending' })
    expect(emulator.listUsers()).toEqual([])
    await vi.advanceTimersByTimeAsync(30)
    await waitUntil(() => emulator.importJob(id)?.status === 'processing', 'the job processing')
    await vi.advanceTimersByTimeAsync(120)
    const processing = (await call('GET', `/users/import/status/${id}`)).json as ImportJobView
    expect(processing.status).toBe('processing')
    expect(processing.percentage_done).toBeGreaterThan(0)
    expect(processing.percentage_done).toBeLessThan(100)
    expect(processing.time_left_seconds).toBe(1)
    const midway = await errorsOf(id)
    expect(midway.status).toBe(200)
    expect(midway.json).toMatchObject({ id, status: 'processing' })
    await vi.advanceTimersByTimeAsync(300)
    await waitUntil(() => emulator.importJob(id)?.status === 'completed', 'the job completed')
    expect(emulator.importJob(id)).toMatchObject({ summary: { failed: 0, updated: 0, inserted: 2, total: 2 } })
    expect(emulator.importJob(id)).not.toHaveProperty('percentage_done')
  })

  it('keeps an endless job processing when processingMs is Infinity', async () => {
    emulator.configure({ importTiming: { mode: 'automatic', pendingMs: 0, processingMs: Infinity } })
    const { id } = (await startImport([fileUser(1)])).json as ImportJobView
    await waitUntil(() => emulator.importJob(id)?.status === 'processing', 'the job processing')
    await vi.advanceTimersByTimeAsync(50)
    expect(emulator.importJob(id)).toMatchObject({ status: 'processing', percentage_done: 0 })
  })

  it('fails the whole job when the file is not a JSON array', async () => {
    for (const content of ['{"email":"a@example.com"}', 'not json']) {
      const job = await runToEnd(content)
      expect(job.status).toBe('failed')
      expect((await errorsOf(job.id)).status).toBe(204)
    }
  })

  it('answers 404 for unknown jobs on status and errors', async () => {
    for (const path of ['/users/import/status/job_AAAAAAAAAAAAAAAA', '/users/import/status/job_AAAAAAAAAAAAAAAA/errors']) {
      const answer = await call('GET', path)
      expect(answer.status).toBe(404)
      expect(answer.json).toMatchObject({ statusCode: 404, error: 'Not Found', message: 'The job does not exist.' })
    }
  })

  it('answers errors with 204 when there are none and 200 with entries otherwise', async () => {
    const clean = await runToEnd([fileUser(1)])
    const none = await errorsOf(clean.id)
    expect(none.status).toBe(204)
    expect(none.text).toBe('')
    const dirty = await runToEnd([fileUser(2), { email: 'bad', password_hash: 'secret' }])
    expect(dirty.summary).toEqual({ failed: 1, updated: 0, inserted: 1, total: 2 })
    const some = await errorsOf(dirty.id)
    expect(some.status).toBe(200)
    expect(some.json).toEqual([
      {
        user: { email: 'bad', password_hash: '*****' },
        errors: [
          { code: 'FORMAT', message: "Object didn't pass validation for format email: bad", path: 'email' },
          { code: 'PATTERN', message: expect.any(String), path: 'password_hash' },
        ],
      },
    ])
  })

  it('validates each user: required, types, unknown properties, reserved app_metadata keys', async () => {
    const job = await runToEnd([
      'just a string',
      { username: 'no-email' },
      { email: 'a@example.com', blocked: 'yes' },
      { email: 'b@example.com', shoe_size: 42 },
      { email: 'c@example.com', app_metadata: { user_id: 'x', ok: true } },
      { email: 'd@example.com', password_hash: `$2b$10$${'a'.repeat(53)}`, custom_password_hash: {} },
      { email: 'e@example.com', password_hash: `$2b$10$${'a'.repeat(53)}` },
    ])
    expect(job.summary).toEqual({ failed: 6, updated: 0, inserted: 1, total: 7 })
    const entries = (await errorsOf(job.id)).json as Array<{ errors: Array<{ code: string; path?: string }> }>
    expect(entries.map((entry) => entry.errors.map((error) => error.code))).toEqual([
      ['INVALID_TYPE'],
      ['OBJECT_REQUIRED'],
      ['INVALID_TYPE'],
      ['OBJECT_ADDITIONAL_PROPERTIES'],
      ['NOT_PASSED'],
      ['NOT_PASSED'],
    ])
    expect(entries[4]?.errors[0]?.path).toBe('app_metadata.user_id')
  })

  it('detects duplicates inside the file', async () => {
    const job = await runToEnd([
      fileUser(1),
      fileUser(2, { email: 'USER1@example.com' }),
      fileUser(3, { username: 'user1' }),
      fileUser(1, { email: 'other@example.com', username: 'other' }),
    ])
    expect(job.summary).toEqual({ failed: 3, updated: 0, inserted: 1, total: 4 })
    const entries = (await errorsOf(job.id)).json as Array<{ errors: unknown[] }>
    expect(entries.map((entry) => entry.errors)).toEqual([
      [{ code: 'DUPLICATED_USER', message: 'A user with this email was already provided.', path: 'email' }],
      [{ code: 'NON_UNIQUE_PROPERTY_VALUE', message: 'Property "username" has non-unique value: user1', path: 'username' }],
      [{ code: 'DUPLICATED_USER', message: 'A user with this user_id was already provided.', path: 'user_id' }],
    ])
  })

  it('without upsert, fails users matching an existing email, user id or username', async () => {
    const existing = emulator.seedUser({ email: 'user1@example.com', username: 'taken', user_id: `${HEX}9` })
    const job = await runToEnd(
      [fileUser(1, { username: 'fresh' }), fileUser(9, { email: 'x@example.com', username: 'x' }), fileUser(3, { username: 'taken' }), fileUser(4)],
      { upsert: 'false' },
    )
    expect(job.summary).toEqual({ failed: 3, updated: 0, inserted: 1, total: 4 })
    const entries = (await errorsOf(job.id)).json as Array<{ errors: Array<{ code: string; path: string }> }>
    expect(entries.map((entry) => entry.errors.map((error) => `${error.code}:${error.path}`))).toEqual([
      ['DUPLICATED_USER:email'],
      ['DUPLICATED_USER:user_id'],
      ['DUPLICATED_USER:username'],
    ])
    expect(emulator.getUser(existing.user_id)).toEqual(existing)
  })

  it('with upsert, updates by email keeping the existing user_id and only the updatable fields', async () => {
    const existing = emulator.seedUser({ email: 'user1@example.com', username: 'user1', app_metadata: { keep: 1 } })
    const job = await runToEnd([
      fileUser(1, { email: 'USER1@example.com', email_verified: true, name: 'Mario', blocked: true, app_metadata: { groups: ['a'] } }),
      fileUser(2),
    ])
    expect(job.summary).toEqual({ failed: 0, updated: 1, inserted: 1, total: 2 })
    expect((await errorsOf(job.id)).status).toBe(204)
    expect(emulator.getUser(`auth0|${HEX}1`)).toBeUndefined()
    const updated = emulator.getUser(existing.user_id) as Auth0User
    expect(updated).toMatchObject({ email_verified: true, name: 'Mario', username: 'user1', app_metadata: { keep: 1, groups: ['a'] } })
    expect(updated).not.toHaveProperty('blocked')
    expect(emulator.getUser(`auth0|${HEX}2`)).toMatchObject({ email: 'user2@example.com' })
  })

  it('with upsert, fails a username held by another user with CONFLICT_USERNAME', async () => {
    emulator.seedUser({ email: 'user1@example.com', username: 'user1' })
    emulator.seedUser({ email: 'someone@example.com', username: 'user2' })
    emulator.seedUser({ email: 'another@example.com', username: 'user4' })
    // The first would be an update, the second an insert: both collide with someone else's username.
    const job = await runToEnd([fileUser(1, { username: 'user2' }), fileUser(3, { username: 'user4' })])
    expect(job.summary).toEqual({ failed: 2, updated: 0, inserted: 0, total: 2 })
    const entries = (await errorsOf(job.id)).json as Array<{ user: { email: string }; errors: Array<{ code: string }> }>
    expect(entries.map((entry) => [entry.user.email, entry.errors[0]?.code])).toEqual([
      ['user1@example.com', 'CONFLICT_USERNAME'],
      ['user3@example.com', 'CONFLICT_USERNAME'],
    ])
  })

  it('hides imported users from search during the visibility delay', async () => {
    emulator.configure({ searchVisibilityDelayMs: 150 })
    await runToEnd([fileUser(1)])
    const filter = `_q=${encodeURIComponent(JSON.stringify({ email: { $in: ['user1@example.com'] } }))}`
    expect((await call('GET', `/users?${filter}`)).json).toEqual([])
    await vi.advanceTimersByTimeAsync(170)
    expect((await call('GET', `/users?${filter}`)).json).toHaveLength(1)
  })
})

describe('manual overrides and realism switches (item 23)', () => {
  it('forces failed and expired states', async () => {
    const { id } = (await startImport([fileUser(1)])).json as ImportJobView
    emulator.advanceImportJob(id, 'failed')
    expect(emulator.importJob(id)).toMatchObject({ status: 'failed' })
    expect(emulator.listUsers()).toEqual([])
    emulator.advanceImportJob(id, 'expired')
    expect(emulator.importJob(id)).toMatchObject({ status: 'expired' })
    expect(() => emulator.advanceImportJob(id, 'processing')).toThrow()
  })

  it('expires completed jobs after importJobExpireAfterMs and forgets them after importJobRetentionMs', async () => {
    emulator.configure({ importJobExpireAfterMs: 60, importJobRetentionMs: 300 })
    const job = await runToEnd([fileUser(1)])
    expect(job.status).toBe('completed')
    await vi.advanceTimersByTimeAsync(80)
    expect((await call('GET', `/users/import/status/${job.id}`)).json).toMatchObject({ status: 'expired', summary: { inserted: 1 } })
    await vi.advanceTimersByTimeAsync(250)
    expect((await call('GET', `/users/import/status/${job.id}`)).status).toBe(404)
  })

  it('stops timers on reset so that forgotten jobs never run', async () => {
    emulator.configure({ importTiming: { mode: 'automatic', pendingMs: 20, processingMs: 20 } })
    await startImport([fileUser(1)])
    emulator.reset()
    await vi.advanceTimersByTimeAsync(80)
    expect(emulator.listUsers()).toEqual([])
  })

  it('stops timers on close so that a closed emulator leaves its jobs where they were', async () => {
    const automatic = new Auth0ClientEmulator({ importTiming: { mode: 'automatic', pendingMs: 30, processingMs: 30 } })
    const url = (await automatic.start()).url
    const created = await callAt(url, 'POST', '/users/import', { body: importForm([fileUser(1)]) })
    const { id } = created.json as ImportJobView
    await automatic.close()
    await vi.advanceTimersByTimeAsync(100)
    expect(automatic.importJob(id)?.status).toBe('pending')
    expect(automatic.listUsers()).toEqual([])
  })
})
