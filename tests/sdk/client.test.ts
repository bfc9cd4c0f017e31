// Every method of the SDK facade against a sandbox stack over HTTP: the documented body on success,
// UmsError with ums's code otherwise, the import's upload progress and a job's progress while waited.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_CODES, UmsError, createUmsClient, type JobProgress, type UploadProgress } from '../../sdk/src/index.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { freePort } from '../../src/sandbox/stack.js'
import { useStack, type StackHandle } from '../helpers/stack.js'

const PASSWORD = 'Secret-Pass1'

const stack = useStack({
  env: { AUTH0_JOB_POLLING_INTERVAL: '50', AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '40', USER_IMPORT_MAX_FILE_SIZE: '300000', RECONCILE_RECENT_WINDOW_MS: '0', SELF_REGISTRATION_MIN_DURATION_MS: '0' },
})
const client = (headers?: Record<string, string>) => createUmsClient({ baseUrl: stack.current.url, ...(headers ? { headers } : {}) })

/** The error a call rejects with (the test fails if it resolves). */
async function failure(call: Promise<unknown>): Promise<UmsError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(UmsError)
  return error as UmsError
}

let directory: string
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'ums-sdk-'))
})
afterAll(async () => {
  await rm(directory, { recursive: true, force: true })
})

/** A customer with an auth user and a password, consistent in the CRUD and the auth service. */
function seedCustomer(handle: StackHandle, username: string) {
  const authUser = handle.current.auth0.seedUser({ email: `${username}@example.com`, username, password: PASSWORD })
  const [userId] = handle.current.crud.seed(USERS_ENDPOINT, [
    { userGroup: 'customer', authUserId: authUser.user_id, email: `${username}@example.com`, username, name: 'Mario', surname: 'Rossi', roles: ['customer-basic'] },
  ])
  return { authUserId: authUser.user_id, userId: userId! }
}

describe('users', () => {
  it('create, get, list, count, patch, changeState, softDelete and delete answer the documented bodies', async () => {
    const ums = client()
    const { _id: anna } = await ums.users.create({ userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', username: 'anna', roles: ['customer-basic'] })
    const { _id: carlo } = await ums.users.create({ userGroup: 'customer', name: 'Carlo', surname: 'Verdi', email: 'carlo@example.com', username: 'carlo' }, { postponeAuthUserCreation: true })
    expect(anna).toMatch(/^[0-9a-f]{24}$/)

    expect(await ums.users.get(anna)).toMatchObject({ _id: anna, name: 'Anna', authUserId: expect.any(String) })
    expect(await ums.users.get(carlo)).not.toHaveProperty('authUserId')
    expect(await ums.users.count()).toBe(2)
    expect(await ums.users.count({ _q: { name: 'Anna' } })).toBe(1)
    // _q as an object or as its JSON text, and the other CRUD parameters passed through.
    expect(await ums.users.list({ _q: { surname: 'Verdi' }, _p: 'name' })).toEqual([{ _id: carlo, name: 'Carlo' }])
    expect(await ums.users.list({ _q: '{"surname":"Verdi"}', _p: 'name' })).toEqual([{ _id: carlo, name: 'Carlo' }])
    expect((await ums.users.list({ _s: ['-name'], _l: 1 })).map((user) => user.name)).toEqual(['Carlo'])
    expect((await ums.users.list({ _s: ['name'], _sk: 1 })).map((user) => user.name)).toEqual(['Carlo'])

    const patched = await ums.users.patch(anna, { $set: { age: 31 }, $push: { tags: 'vip' } })
    expect(patched).toMatchObject({ _id: anna, age: 31, tags: ['vip'] })

    expect(await ums.users.changeState([{ filter: { _id: carlo }, stateTo: 'TRASH' }])).toBe(1)
    expect(await ums.users.get(carlo, { _st: 'TRASH' })).toMatchObject({ __STATE__: 'TRASH' })

    await expect(ums.users.softDelete(carlo)).resolves.toBeUndefined()
    expect(await ums.users.get(carlo, { _st: 'DELETED' })).toMatchObject({ __STATE__: 'DELETED' })
    await expect(ums.users.delete(anna)).resolves.toBeUndefined()
    expect(await ums.users.count()).toBe(0)
  })

  it('selfRegister answers the same for a new and a taken email; forcePasswordReset answers nothing', async () => {
    const ums = client()
    const body = { userGroup: 'customer', email: 'dora@example.com', username: 'dora', name: 'Dora', surname: 'Esposito' }
    const accepted = { message: 'Check your e-mail to complete the registration' }
    expect(await ums.users.selfRegister(body)).toEqual(accepted)
    expect(await ums.users.selfRegister(body)).toEqual(accepted)
    const refused = await failure(ums.users.selfRegister({ ...body, email: 'dora@elsewhere.io' }))
    expect(refused.code).toBe('UMS_EMAIL_DOMAIN_NOT_ALLOWED')
    const [dora] = await ums.users.list({ _q: { username: 'dora' } })
    await expect(ums.users.forcePasswordReset(dora!._id as string)).resolves.toBeUndefined()
  })

  it('throws UmsError with the status and code ums answers', async () => {
    const ums = client()
    const missing = await failure(ums.users.get('5f1c0ffee0ddba11ab1e0001'))
    expect({ status: missing.status, code: missing.code }).toEqual({ status: 404, code: 'UMS_USER_NOT_FOUND' })
    expect(missing.message).toContain('5f1c0ffee0ddba11ab1e0001')

    await ums.users.create({ userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', username: 'anna' })
    const duplicate = await failure(ums.users.create({ userGroup: 'customer', name: 'Anna', surname: 'Bis', email: 'anna@example.com', username: 'anna2' }))
    expect({ status: duplicate.status, code: duplicate.code }).toEqual({ status: 409, code: 'UMS_DUPLICATE_USER' })

    const query = await failure(ums.users.list({ _q: '[1]' }))
    expect({ status: query.status, code: query.code }).toEqual({ status: 400, code: 'UMS_INVALID_QUERY' })
    const invalid = await failure(ums.users.create({ userGroup: 'customer', name: 'Solo' }))
    expect(invalid.status).toBe(400)
    expect(invalid.code).toBe('UMS_GROUP_SCHEMA_MISMATCH')
    const state = await failure(ums.users.changeState([{ filter: {}, stateTo: 'GONE' as never }]))
    expect({ status: state.status, code: state.code }).toEqual({ status: 400, code: 'FST_ERR_VALIDATION' })
  })

  it('importCsv streams a file from disk, reporting the bytes sent until the whole body', async () => {
    const rows = Array.from({ length: 2_000 }, (_, index) => `customer;Name${index};Surname${index};user${index}@example.com;${20 + (index % 50)}`)
    const csv = `userGroup;name;surname;email;age\n${rows.join('\n')}\ncustomer;Gina;;gina@example.com;\n`
    const path = join(directory, 'users.csv')
    await writeFile(path, csv)
    const progress: UploadProgress[] = []

    const result = await client().users.importCsv(path, { delimiter: ';', onProgress: (step) => progress.push(step) })

    expect(result.inserted).toHaveLength(2_000)
    expect(result.updated).toEqual([])
    expect(result.invalid).toEqual([{ row: 2_001, error: 'Skipping record: invalid json schema, missing required field surname' }])
    expect(await client().users.count({ _q: { age: 20 } })).toBe(40)
    // The file is over 64 KiB: several chunks, each counted as it is taken, up to the whole body.
    expect(progress.length).toBeGreaterThan(3)
    const total = progress[0]!.total
    expect(total).toBeGreaterThan(Buffer.byteLength(csv))
    expect(progress.every((step) => step.total === total)).toBe(true)
    expect(progress.map((step) => step.sent)).toEqual([...progress.map((step) => step.sent)].sort((a, b) => a - b))
    expect(progress.at(-1)!.sent).toBe(total)
  })

  it('importCsv takes the contents as bytes or a Blob, and patches rows with an _id', async () => {
    const ums = client()
    const { _id } = await ums.users.create({ userGroup: 'customer', name: 'Anna', surname: 'Bianchi' }, { postponeAuthUserCreation: true })
    const bytes = new TextEncoder().encode(`_id,userGroup,name,surname,tags\n${_id},customer,Anna,Rossi,\n,customer,Bruno,Neri,\n`)
    expect(await ums.users.importCsv(bytes)).toMatchObject({ updated: [_id], inserted: [expect.any(String)], invalid: [] })
    expect(await ums.users.get(_id)).toMatchObject({ surname: 'Rossi' })

    const blob = new Blob(['userGroup|name|surname|tags\ncustomer|Carla|Bassi|[a, b]\n'])
    expect(await ums.users.importCsv(blob, { delimiter: '|' })).toMatchObject({ inserted: [expect.any(String)], invalid: [] })
    expect(await ums.users.list({ _q: { name: 'Carla' }, _p: 'tags' })).toEqual([{ _id: expect.any(String), tags: ['a', 'b'] }])
  })

  it('importCsv throws the import refusals as UmsError', async () => {
    const ums = client()
    const noGroup = await failure(ums.users.importCsv(new TextEncoder().encode('name,surname\nAnna,Bianchi\n')))
    expect(noGroup.status).toBe(400)
    const option = await failure(ums.users.importCsv(new TextEncoder().encode('userGroup\ncustomer\n'), { encoding: 'klingon' }))
    expect({ status: option.status, code: option.code }).toEqual({ status: 400, code: 'UMS_INVALID_IMPORT_OPTION' })
    const tooLarge = await failure(ums.users.importCsv(new Uint8Array(400_000).fill(65)))
    expect({ status: tooLarge.status, code: tooLarge.code }).toEqual({ status: 413, code: 'UMS_FILE_TOO_LARGE' })
    const missing = await ums.users.importCsv(join(directory, 'nowhere.csv')).catch((error: NodeJS.ErrnoException) => error)
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT')
  })
})

describe('jobs', () => {
  it('bulkActivation answers 202 and wait follows it to its result', async () => {
    const ums = client()
    const ids: string[] = []
    for (const name of ['Dario', 'Elisa', 'Fabio']) {
      ids.push((await ums.users.create({ userGroup: 'customer', name, surname: 'Neri', email: `${name}@example.com`, username: name.toLowerCase() }, { postponeAuthUserCreation: true }))._id)
    }
    const accepted = await ums.jobs.bulkActivation(ids.map((userId) => ({ filter: { userId } })), { upsert: true })
    expect(accepted).toEqual({ jobId: expect.any(String), status: 'pending', jobCreatedAt: expect.any(String) })

    const job = await ums.jobs.wait('bulk-activation', accepted.jobId, { intervalMs: 20 })
    expect(job).toMatchObject({ jobId: accepted.jobId, status: 'completed', summary: { inserted: 3, failed: 0, skipped: 0, total: 3 }, failures: [] })
    expect(await ums.jobs.get('bulk-activation', accepted.jobId)).toEqual(job)
    for (const id of ids) expect(await ums.users.get(id)).toHaveProperty('authUserId')
  })

  it('wait reports the progress of a change-password job as it moves, then answers the ended job', async () => {
    const ums = client()
    const authUserIds = Array.from({ length: 30 }, (_, index) => stack.current.auth0.seedUser({ email: `p${index}@example.com`, username: `p${index}`, password: PASSWORD }).user_id)
    const { jobId } = await ums.jobs.changePassword(authUserIds)
    const seen: JobProgress[] = []

    const job = await ums.jobs.wait('change-password', jobId, { intervalMs: 50, onProgress: (progress, pending) => {
      expect(pending.status).toBe('pending')
      seen.push(progress)
    } })

    expect(job).toMatchObject({ status: 'completed', summary: { completed: 30, failed: 0, total: 30 } })
    expect(job.completed).toHaveLength(30)
    // 30 emails at 40/s take about 0.75 s: read every 50 ms, the count is seen rising.
    const moving = seen.filter((progress) => progress.total === 30)
    expect(new Set(moving.map((progress) => progress.done)).size).toBeGreaterThan(2)
    expect(moving.map((progress) => progress.done)).toEqual([...moving.map((progress) => progress.done)].sort((a, b) => a - b))
  })

  it('wait reports the pages a reconciliation has read and its findings so far', async () => {
    const ums = client()
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Lost', surname: 'Auth', email: 'lost@example.com', username: 'lost', authUserId: 'auth0|0000000000000000000000aa', __STATE__: 'PUBLIC' }])
    // The auth users' pages come slowly: the CRUD page's figures are read meanwhile.
    stack.current.auth0.injectFault({ method: 'GET', path: '/users', match: (request) => '_sk' in (request.query as object), delayMs: 600, times: Infinity })
    const { jobId } = await ums.jobs.reconcile()
    const seen: JobProgress[] = []
    const job = await ums.jobs.wait('reconcile', jobId, { intervalMs: 20, onProgress: (progress) => seen.push(progress) })
    expect(job).toMatchObject({ status: 'completed', summary: { found: { 'auth-user-missing': 1 } } })
    expect(seen).toContainEqual({ done: 1, total: expect.any(Number), pagesRead: 1, findings: 1 })
  })

  it('reconcile runs a dry run by default, and get reads every kind', async () => {
    const ums = client()
    await ums.users.create({ userGroup: 'customer', name: 'Mario', surname: 'Rossi', email: 'mario@example.com', username: 'mario', roles: ['customer-basic'] })
    stack.current.auth0.seedUser({ email: 'orphan@example.com', username: 'orphan', password: PASSWORD })
    const { jobId } = await ums.jobs.reconcile()
    const job = await ums.jobs.wait('reconcile', jobId, { intervalMs: 20 })
    expect(job).toMatchObject({ status: 'completed', dryRun: true, summary: { usersChecked: 1, authUsersChecked: 2, found: { 'orphan-auth-user': 1 }, repaired: 0 } })
    expect(job.findings).toEqual([{ check: 'orphan-auth-user', authUserId: expect.any(String), action: 'reported' }])

    const repair = await ums.jobs.reconcile({ dryRun: false, deleteOrphanAuthUsers: true })
    expect(await ums.jobs.wait('reconcile', repair.jobId, { intervalMs: 20 })).toMatchObject({ dryRun: false, summary: { repaired: 1 } })
  })

  it('throws UmsError for an unknown job and a refused start', async () => {
    const ums = client()
    for (const kind of ['bulk-activation', 'change-password', 'reconcile'] as const) {
      const unknown = await failure(ums.jobs.get(kind, 'a5b0c0de-0000-4000-8000-000000000000'))
      expect({ kind, status: unknown.status, code: unknown.code }).toEqual({ kind, status: 404, code: 'UMS_JOB_NOT_FOUND' })
    }
    const empty = await failure(ums.jobs.bulkActivation([]))
    expect({ status: empty.status, code: empty.code }).toEqual({ status: 400, code: 'FST_ERR_VALIDATION' })
    const noIds = await failure(ums.jobs.changePassword([]))
    expect(noIds.status).toBe(400)
    const waited = await failure(ums.jobs.wait('reconcile', 'a5b0c0de-0000-4000-8000-000000000000', { intervalMs: 10 }))
    expect(waited.code).toBe('UMS_JOB_NOT_FOUND')
  })
})

describe('auth', () => {
  it('login, userinfo, refresh and logout', async () => {
    const { authUserId } = seedCustomer(stack, 'mario')
    const ums = client()
    const tokens = await ums.auth.login({ username: 'mario', password: PASSWORD })
    expect(tokens).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), idToken: expect.any(String), expireAt: expect.any(String) })

    expect(await ums.auth.userinfo(tokens.accessToken)).toMatchObject({ sub: authUserId, name: 'Mario', roles: ['customer-basic'] })
    // The client's own headers carry the session as well.
    expect(await client({ authorization: `Bearer ${tokens.accessToken}` }).auth.userinfo()).toMatchObject({ sub: authUserId })

    const renewed = await ums.auth.refresh(tokens.refreshToken!, tokens.accessToken)
    expect(renewed.accessToken).toEqual(expect.any(String))
    expect(renewed.accessToken).not.toBe(tokens.accessToken)

    await expect(ums.auth.logout(renewed.accessToken)).resolves.toBeUndefined()
    const after = await failure(ums.auth.userinfo(renewed.accessToken))
    expect(after.status).toBe(401)
  })

  it('login answers {} in website mode, and throws the refusals with their codes', async () => {
    seedCustomer(stack, 'mario')
    expect(await client({ 'client-type': 'website' }).auth.login({ username: 'mario', password: PASSWORD })).toEqual({})
    const wrong = await failure(client().auth.login({ username: 'mario', password: 'Wrong-Pass1' }))
    expect({ status: wrong.status, code: wrong.code }).toEqual({ status: 403, code: 'UMS_FORBIDDEN' })
    const anonymous = await failure(client().auth.logout())
    expect({ status: anonymous.status, code: anonymous.code }).toEqual({ status: 401, code: 'UMS_NOT_AUTHENTICATED' })
  })
})

describe('me', () => {
  async function session() {
    const { userId } = seedCustomer(stack, 'mario')
    const { accessToken } = await client().auth.login({ username: 'mario', password: PASSWORD })
    return { userId, me: client({ authorization: `Bearer ${accessToken}` }).me }
  }

  it('get and patch the logged user', async () => {
    const { userId, me } = await session()
    expect(await me.get()).toMatchObject({ _id: userId, name: 'Mario' })
    expect(await me.patch({ $set: { name: 'Marietto', age: 40 } })).toMatchObject({ _id: userId, name: 'Marietto', age: 40 })
    const refused = await failure(me.patch({ $set: { roles: ['customer-premium'] } }))
    expect(refused.status).toBe(403)
    expect(refused.code).toEqual(expect.stringMatching(/^UMS_/))
  })

  it('consents and answerConsent', async () => {
    const { me } = await session()
    expect(await me.consents()).toEqual([{ key: 'marketing', version: 1, required: false, granted: null, at: null }])
    expect(await me.answerConsent('marketing', true)).toEqual([{ key: 'marketing', version: 1, required: false, granted: true, at: expect.any(String) }])
    const unknown = await failure(me.answerConsent('newsletter', true))
    expect({ status: unknown.status, code: unknown.code }).toEqual({ status: 404, code: 'UMS_UNKNOWN_CONSENT' })
  })

  it('changePassword proves the current password', async () => {
    const { me } = await session()
    const wrong = await failure(me.changePassword({ currentPassword: 'Wrong-Pass1', newPassword: 'Newer-Pass2' }))
    expect(wrong.code).toBe('UMS_WRONG_PASSWORD')
    await expect(me.changePassword({ currentPassword: PASSWORD, newPassword: 'Newer-Pass2' })).resolves.toBeUndefined()
    expect(await client().auth.login({ username: 'mario', password: 'Newer-Pass2' })).toHaveProperty('accessToken')
  })

  it('throws UMS_NOT_AUTHENTICATED without a session', async () => {
    const anonymous = await failure(client().me.get())
    expect({ status: anonymous.status, code: anonymous.code }).toEqual({ status: 401, code: 'UMS_NOT_AUTHENTICATED' })
  })
})

describe('createUmsClient', () => {
  it('sends its headers on every call, through the fetch it is given', async () => {
    const seen: Request[] = []
    const ums = createUmsClient({
      baseUrl: stack.current.url,
      headers: { 'x-request-id': 'sdk-test', miauserid: 'admin' },
      fetch: (request) => {
        seen.push(request.clone())
        return fetch(request)
      },
    })
    expect(await ums.users.count()).toBe(0)
    expect(seen.map((request) => [request.method, new URL(request.url).pathname, request.headers.get('x-request-id'), request.headers.get('miauserid')])).toEqual([
      ['GET', '/users/count', 'sdk-test', 'admin'],
    ])
  })

  it('throws UMS_CLIENT_UNREACHABLE with status 0 when nothing answers', async () => {
    const error = await failure(createUmsClient({ baseUrl: `http://127.0.0.1:${await freePort()}` }).users.count())
    expect({ status: error.status, code: error.code }).toEqual({ status: 0, code: CLIENT_CODES.unreachable })
    expect(error.message).toContain('ECONNREFUSED')
  })

  it('throws UMS_CLIENT_UNEXPECTED_ANSWER for an error answer without an error body', async () => {
    const proxy = createUmsClient({ baseUrl: stack.current.url, fetch: async () => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }) })
    const error = await failure(proxy.users.count())
    expect({ status: error.status, code: error.code }).toEqual({ status: 502, code: CLIENT_CODES.unexpectedAnswer })
    expect(error.message).toContain('Bad gateway')
  })
})
