// GET /users/, /users, /users/count and /users/:id: proxies of the CRUD reads (query string and
// ACL headers passed through, answers relayed), the failure mapping, and the CONFIGURATION_PATH
// merge of auth properties into listed users (one auth call per 100 ids, never ACL headers).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { PassThrough } from 'node:stream'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config/index.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import type { RecordedRequest } from '../../src/sandbox/emulator-kit.js'
import { call, LogCapture, useStack, type Answer } from '../helpers/stack.js'

type Handle = ReturnType<typeof useStack>

const PASSWORD = 'Secret-Pass1'
const FUTURE = '2030-01-01T00:00:00.000Z'
const UNKNOWN_ID = '65f1c2a9e4b0a1b2c3d4e5f6'
/** Personal data in an upstream error body: it must never reach the caller nor a log line. */
const LEAKY_BODY = { statusCode: 500, error: 'Internal Server Error', message: 'cannot read mario.rossi@example.com' }

const encodeQuery = (value: unknown) => encodeURIComponent(JSON.stringify(value))

const dir = mkdtempSync(join(tmpdir(), 'ums-users-read-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function writeConfigurationFile(name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

const CONFIGURATION_PATH = writeConfigurationFile(
  'auth-properties.json',
  JSON.stringify({ user_id: 'authUserId', additionalProperties: ['email_verified', 'last_login', 'nickname'] }),
)

/**
 * The cast of the proxy tests. Expiration after FUTURE: mario, toad, peach (TRASH), daisy
 * (DRAFT), yoshi, bowser (staff); before: luigi.
 */
function seedCast(stack: Stack): Record<'mario' | 'luigi' | 'toad' | 'peach' | 'daisy' | 'yoshi' | 'bowser', string> {
  const people = [
    { key: 'mario', userGroup: 'customer', name: 'Mario', surname: 'Rossi', age: 30, expirationDate: '2031-01-01T00:00:00.000Z' },
    { key: 'luigi', userGroup: 'customer', name: 'Luigi', surname: 'Rossi', age: 25, expirationDate: '2029-06-01T00:00:00.000Z' },
    { key: 'toad', userGroup: 'customer', name: 'Toad', surname: 'Fungo', age: 20, expirationDate: '2035-01-01T00:00:00.000Z' },
    { key: 'peach', userGroup: 'customer', name: 'Peach', surname: 'Toadstool', age: 40, expirationDate: '2032-01-01T00:00:00.000Z', __STATE__: 'TRASH' },
    { key: 'daisy', userGroup: 'customer', name: 'Daisy', surname: 'Sarasa', age: 35, expirationDate: '2040-01-01T00:00:00.000Z', __STATE__: 'DRAFT' },
    { key: 'yoshi', userGroup: 'customer', name: 'Yoshi', surname: 'Dino', age: 33, expirationDate: '2036-01-01T00:00:00.000Z' },
    { key: 'bowser', userGroup: 'staff', name: 'Bowser', surname: 'Koopa', age: 50, expirationDate: '2034-01-01T00:00:00.000Z' },
  ]
  const ids = stack.crud.seed(
    USERS_ENDPOINT,
    people.map(({ key, ...user }) => ({ ...user, email: `${key}@example.com`, username: key, roles: ['customer-basic'], tags: ['vip'] })),
  )
  return Object.fromEntries(people.map(({ key }, index) => [key, ids[index]!])) as ReturnType<typeof seedCast>
}

/** Calls ums, records what the CRUD received for that call, then asks the CRUD the same directly. */
async function throughUms(handle: Handle, path: string, crudPath: string, headers: Record<string, string> = {}) {
  const crud = handle.current.crud
  const before = crud.requests.length
  const ours = await handle.call('GET', path, { headers })
  const sent = crud.requests.slice(before)
  const theirs = await call(crud.url, 'GET', crudPath, { headers })
  return { ours, theirs, sent }
}

function expectSameAnswer(ours: Answer, theirs: Answer): void {
  expect(ours.status).toBe(theirs.status)
  expect(ours.headers['content-type']).toBe(theirs.headers['content-type'])
  expect(ours.body).toEqual(theirs.body)
}

/** Proxied reads only: no write to the CRUD, and (without CONFIGURATION_PATH) no other peer called. */
function expectNoSideEffects(stack: Stack, options: { authReads?: boolean } = {}): void {
  expect(stack.crud.requests.filter((request) => request.method !== 'GET').map((request) => `${request.method} ${request.path}`)).toEqual([])
  const auth = options.authReads ? stack.auth0.requests.filter((request) => request.method !== 'GET') : stack.auth0.requests
  expect(auth.map((request) => `${request.method} ${request.path}`)).toEqual([])
  expect(stack.rond.requests).toEqual([])
  expect(stack.timer.requests).toEqual([])
}

const userIds = (body: unknown) => (body as Array<{ _id: string }>).map((user) => user._id)

describe('GET /users/, /users/count and /users/:id: CRUD proxies', () => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300', ADDITIONAL_HEADERS_TO_PROXY: 'x-custom' } })

  it.each(['/users/', '/users'])('%s passes the query string byte for byte and answers exactly as the CRUD', async (path) => {
    const cast = seedCast(stack.current)
    const filter = { expirationDate: { $gt: FUTURE }, email: { $in: ['mario@example.com', 'toad@example.com', 'peach@example.com', 'bowser@example.com', 'daisy@example.com'] } }
    const query = `_q=${encodeQuery(filter)}&_st=PUBLIC,TRASH&_p=email,age&_l=2&_sk=1&_s=-age&userGroup=customer`
    const { ours, theirs, sent } = await throughUms(stack, `${path}?${query}`, `/users/?${query}`)

    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ method: 'GET', path: '/users/', rawQuery: query })
    expect(theirs.status).toBe(200)
    expectSameAnswer(ours, theirs)
    expect(ours.headers['content-type']).toBe('application/json')
    // peach (40, TRASH) is skipped; bowser (staff), daisy (DRAFT), luigi (expired) filtered out.
    expect(ours.body).toEqual([
      { _id: cast.mario, email: 'mario@example.com', age: 30 },
      { _id: cast.toad, email: 'toad@example.com', age: 20 },
    ])
    expectNoSideEffects(stack.current)
  })

  it('keeps the caller percent-encoding untouched', async () => {
    const cast = seedCast(stack.current)
    const query = '_q=%7b%22name%22%3a%22Mario%22%7d&_st=PUBLIC%2CTRASH&surname=Rossi'
    const { ours, theirs, sent } = await throughUms(stack, `/users/?${query}`, `/users/?${query}`)
    expect(sent[0]?.rawQuery).toBe(query)
    expectSameAnswer(ours, theirs)
    expect(userIds(ours.body)).toEqual([cast.mario])
  })

  it('accepts a repeated _s and passes both sort keys on', async () => {
    const cast = seedCast(stack.current)
    const query = '_s=surname&_s=-age&userGroup=customer'
    const { ours, theirs, sent } = await throughUms(stack, `/users/?${query}`, `/users/?${query}`)
    expect(ours.status).toBe(200)
    expect(sent[0]?.rawQuery).toBe(query)
    expectSameAnswer(ours, theirs)
    expect(userIds(ours.body)).toEqual([cast.yoshi, cast.toad, cast.mario, cast.luigi])
  })

  it('forwards json-query-params-encoding so a base64 _q works', async () => {
    const cast = seedCast(stack.current)
    const encoded = Buffer.from(JSON.stringify({ name: 'Toad' })).toString('base64')
    const answer = await stack.call('GET', `/users/?_q=${encodeURIComponent(encoded)}`, { headers: { 'json-query-params-encoding': 'base64' } })
    expect(answer.status).toBe(200)
    expect(userIds(answer.body)).toEqual([cast.toad])
  })

  it.each(['/users/', '/users', '/users/count', `/users/${UNKNOWN_ID}`])('%s answers 400 naming _q when it is not JSON, asking the CRUD nothing', async (path) => {
    for (const query of ['{"name":', 'not json', '%5B1%5D', 'null']) {
      const answer = await stack.call('GET', `${path}?_q=${query}`)
      expect(answer.status, query).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'querystring._q must be a JSON object', code: 'UMS_INVALID_QUERY' })
    }
    expect(stack.current.crud.requests).toHaveLength(0)
  })

  it.each(['json-query-params-encoding', 'json_query_params_encoding'])('answers 400 for a base64 _q (%s) that does not decode to JSON, and passes a valid one', async (header) => {
    const cast = seedCast(stack.current)
    const garbage = await stack.call('GET', `/users/count?_q=${encodeURIComponent(Buffer.from('{"name":').toString('base64'))}`, { headers: { [header]: 'base64' } })
    expect(garbage.status).toBe(400)
    expect(garbage.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'querystring._q must be a base64-encoded JSON object (json-query-params-encoding: base64)',
      code: 'UMS_INVALID_QUERY',
    })
    expect(stack.current.crud.requests).toHaveLength(0)
    // A JSON _q sent as base64 is not checked as plain JSON.
    const encoded = encodeURIComponent(Buffer.from(JSON.stringify({ name: 'Toad' })).toString('base64'))
    const valid = await stack.call('GET', `/users/${cast.toad}?_q=${encoded}`, { headers: { [header]: 'base64' } })
    expect(valid.status).toBe(200)
    expect(valid.body).toMatchObject({ _id: cast.toad, name: 'Toad' })
  })

  it('sends no query string when the caller sent none and relays the default page', async () => {
    const cast = seedCast(stack.current)
    const { ours, theirs, sent } = await throughUms(stack, '/users/', '/users/')
    expect(sent[0]).toMatchObject({ path: '/users/', rawQuery: '' })
    expectSameAnswer(ours, theirs)
    expect(userIds(ours.body)).toEqual([cast.mario, cast.luigi, cast.toad, cast.yoshi, cast.bowser])
    expect((ours.body as Array<Record<string, unknown>>)[0]).toMatchObject({ roles: ['customer-basic'], tags: ['vip'], expirationDate: '2031-01-01T00:00:00.000Z', __STATE__: 'PUBLIC' })
  })

  it('GET /users/count passes the query string and relays the bare number', async () => {
    seedCast(stack.current)
    const query = `_q=${encodeQuery({ expirationDate: { $gt: FUTURE } })}&_st=PUBLIC,TRASH&userGroup=customer`
    const { ours, theirs, sent } = await throughUms(stack, `/users/count?${query}`, `/users/count?${query}`)
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ path: '/users/count', rawQuery: query })
    expectSameAnswer(ours, theirs)
    expect(ours.text).toBe('4')
    expectNoSideEffects(stack.current)
  })

  it('GET /users/:id passes the query string and relays the document', async () => {
    const cast = seedCast(stack.current)
    const query = '_st=TRASH&_p=email,name'
    const { ours, theirs, sent } = await throughUms(stack, `/users/${cast.peach}?${query}`, `/users/${cast.peach}?${query}`)
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ path: `/users/${cast.peach}`, rawQuery: query })
    expectSameAnswer(ours, theirs)
    expect(ours.body).toEqual({ _id: cast.peach, email: 'peach@example.com', name: 'Peach' })
    expectNoSideEffects(stack.current)
  })

  it('GET /users/:id with _q and a date filter', async () => {
    const cast = seedCast(stack.current)
    const query = `_q=${encodeQuery({ expirationDate: { $gte: '2031-01-01T00:00:00.000Z' }, roles: { $in: ['customer-basic'] } })}`
    const { ours, theirs, sent } = await throughUms(stack, `/users/${cast.mario}?${query}`, `/users/${cast.mario}?${query}`)
    expect(sent[0]?.rawQuery).toBe(query)
    expectSameAnswer(ours, theirs)
    expect(ours.body).toMatchObject({ _id: cast.mario, name: 'Mario' })
  })

  it('forwards acl_rows and acl_read_columns to the list even when not in ADDITIONAL_HEADERS_TO_PROXY', async () => {
    const cast = seedCast(stack.current)
    const acl = { acl_rows: '{"userGroup":"staff"}', acl_read_columns: 'email,age' }
    const { ours, theirs, sent } = await throughUms(stack, '/users/', '/users/', acl)
    expect(sent[0]?.headers).toMatchObject(acl)
    expectSameAnswer(ours, theirs)
    expect(ours.body).toEqual([{ _id: cast.bowser, email: 'bowser@example.com', age: 50 }])
  })

  it('forwards acl_rows to the count', async () => {
    seedCast(stack.current)
    const acl = { acl_rows: '[{"userGroup":"customer"},{"age":{"$gte":30}}]' }
    const { ours, theirs, sent } = await throughUms(stack, '/users/count', '/users/count', acl)
    expect(sent[0]?.headers).toMatchObject(acl)
    expectSameAnswer(ours, theirs)
    expect(ours.body).toBe(2)
  })

  it('forwards acl_rows and acl_read_columns to the read by id', async () => {
    const cast = seedCast(stack.current)
    const columns = await throughUms(stack, `/users/${cast.mario}`, `/users/${cast.mario}`, { acl_rows: '{"userGroup":"customer"}', acl_read_columns: 'name' })
    expect(columns.sent[0]?.headers).toMatchObject({ acl_rows: '{"userGroup":"customer"}', acl_read_columns: 'name' })
    expectSameAnswer(columns.ours, columns.theirs)
    expect(columns.ours.body).toEqual({ _id: cast.mario, name: 'Mario' })

    const hidden = await stack.call('GET', `/users/${cast.mario}`, { headers: { acl_rows: '{"userGroup":"staff"}' } })
    expect(hidden.status).toBe(404)
    expect(hidden.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${cast.mario} not found`, code: 'UMS_USER_NOT_FOUND' })
  })

  it.each([
    ['/users/', '/users/'],
    ['/users/count', '/users/count'],
    [`/users/${UNKNOWN_ID}`, `/users/${UNKNOWN_ID}`],
  ])('%s forwards the platform headers and ADDITIONAL_HEADERS_TO_PROXY, nothing else', async (path, crudPath) => {
    const before = stack.current.crud.requests.length
    await stack.call('GET', path, {
      headers: {
        miauserid: 'u-1',
        miausergroups: 'admin,ops',
        miauserproperties: '{"a": 1}',
        'client-type': 'backoffice',
        isbackoffice: 'true',
        'x-request-id': 'req-7',
        'x-forwarded-for': '10.0.0.1',
        'x-custom': 'yes',
        authorization: 'Bearer secret-token',
        cookie: 'sid=secret',
      },
    })
    const [sent] = stack.current.crud.requests.slice(before)
    expect(sent?.path).toBe(crudPath)
    expect(sent?.headers).toMatchObject({
      miauserid: 'u-1',
      miausergroups: 'admin,ops',
      miauserproperties: '{"a":1}',
      'client-type': 'backoffice',
      isbackoffice: '1',
      'x-request-id': 'req-7',
      'x-forwarded-for': '10.0.0.1',
      'x-custom': 'yes',
    })
    expect(sent?.headers).not.toHaveProperty('authorization')
    expect(sent?.headers).not.toHaveProperty('cookie')
    expectNoSideEffects(stack.current)
  })

  it.each([
    ['an unknown field in _q', '/users/', `_q=${encodeQuery({ nickname: 'x' })}`, 'Unknown field: nickname'],
    ['_l above the CRUD maximum', '/users/', '_l=500', 'querystring/_l must be <= 200'],
    ['a bad _st', '/users/', '_st=PUBLIC;TRASH', 'querystring/_st must match pattern'],
    ['an unknown field in the count _q', '/users/count', `_q=${encodeQuery({ $nor: [] })}`, 'Unknown operator: $nor'],
    ['_l on the count', '/users/count', '_l=10', 'querystring must NOT have additional properties'],
    ['a bad _st on the read by id', `/users/${UNKNOWN_ID}`, '_st=GONE', 'querystring/_st must match pattern'],
    ['an unknown field in the read by id _q', `/users/${UNKNOWN_ID}`, `_q=${encodeQuery({ nickname: 'x' })}`, 'Unknown field: nickname'],
  ])('answers 400 with the CRUD message for %s', async (_case, path, query, fragment) => {
    const { ours, theirs, sent } = await throughUms(stack, `${path}?${query}`, `${path}?${query}`)
    expect(sent[0]?.rawQuery).toBe(query)
    expect(theirs.status).toBe(400)
    const message = (theirs.body as { message: string }).message
    expect(message).toContain(fragment)
    expect(ours.status).toBe(400)
    expect(ours.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'UMS_INVALID_QUERY' })
  })

  it('answers 404 "User <id> not found" for an unknown id and for a user outside the asked states', async () => {
    const cast = seedCast(stack.current)
    for (const id of [UNKNOWN_ID, cast.peach, cast.daisy]) {
      const answer = await stack.call('GET', `/users/${id}`)
      expect(answer.status).toBe(404)
      expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${id} not found`, code: 'UMS_USER_NOT_FOUND' })
    }
    const trash = await stack.call('GET', `/users/${cast.peach}?_st=PUBLIC,TRASH`)
    expect(trash.status).toBe(200)
  })

  it('re-encodes an id that needs percent-encoding', async () => {
    const answer = await stack.call('GET', '/users/not%20an%2Fid')
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'User not an/id not found', code: 'UMS_USER_NOT_FOUND' })
    expect(stack.current.crud.requests.map((request) => request.path)).toEqual(['/users/not%20an%2Fid'])
  })

  const failingRoutes = [
    ['/users/', '/users/', '/users/'],
    ['/users', '/users/', '/users/'],
    ['/users/count', '/users/count', '/users/count'],
    [`/users/${UNKNOWN_ID}`, `/users/${UNKNOWN_ID}`, '/users/:id'],
  ] as const
  const faults = [
    ['a 500', { status: 500, body: LEAKY_BODY }, 'responded with a 500 status code'],
    ['a 503', { status: 503, body: { ...LEAKY_BODY, statusCode: 503 } }, 'responded with a 503 status code'],
    ['a timeout', { hang: true }, 'failed: timeout after 300 ms'],
    ['a reset connection', { reset: true }, 'failed: connection reset'],
  ] as const
  it.each(failingRoutes.flatMap(([path, crudPath, route]) => faults.map(([name, fault, outcome]) => [path, name, crudPath, route, fault, outcome] as const)))(
    '%s answers 500 naming the CRUD call on %s',
    async (path, _name, crudPath, route, fault, outcome) => {
      stack.current.crud.injectFault({ method: 'GET', path: crudPath, ...fault })
      const answer = await stack.call('GET', `${path}?_st=PUBLIC`)
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while retrieving user: CRUD GET ${route} ${outcome}`, code: 'UMS_UPSTREAM_FAILED' })
      expect(answer.text).not.toContain('mario.rossi@example.com')
      expect(stack.current.crud.requestsTo('GET', crudPath)).toHaveLength(1)
      expectNoSideEffects(stack.current)
    },
  )
})

describe('GET /users/ reads with the CRUD refusing connections', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it.each([
    ['/users/', '/users/'],
    ['/users', '/users/'],
    ['/users/count', '/users/count'],
    [`/users/${UNKNOWN_ID}`, '/users/:id'],
  ])('%s answers 500 with "connection refused"', async (path, route) => {
    const answer = await stack.call('GET', path)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while retrieving user: CRUD GET ${route} failed: connection refused`, code: 'UMS_UPSTREAM_FAILED' })
  })
})

describe('GET /users/ with CONFIGURATION_PATH', () => {
  const logs = new LogCapture()
  const stack = useStack({
    env: { CONFIGURATION_PATH, ADDITIONAL_HEADERS_TO_PROXY: 'acl_rows,acl_read_columns,x-custom', UPSTREAM_TIMEOUT_MS: '300', LOG_LEVEL: 'warn' },
    logStream: logs,
  })

  /** mario and luigi have auth users (mario has logged in), toad has no authUserId, wario's auth user is gone. */
  async function seedMerged() {
    const auth0 = stack.current.auth0
    const marioAuth = auth0.seedUser({ email: 'mario@example.com', username: 'mario', password: PASSWORD })
    const luigiAuth = auth0.seedUser({ email: 'luigi@example.com', username: 'luigi', password: PASSWORD })
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario', password: PASSWORD } })
    expect(login.status).toBe(200)
    const ghostId = 'auth0|ffffffffffffffffffffffff'
    const [mario, toad, luigi, wario] = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', authUserId: marioAuth.user_id, email: 'mario@example.com', username: 'mario', name: 'Mario', surname: 'Rossi' },
      { userGroup: 'customer', email: 'toad@example.com', name: 'Toad', surname: 'Fungo' },
      { userGroup: 'customer', authUserId: luigiAuth.user_id, email: 'luigi@example.com', username: 'luigi', name: 'Luigi', surname: 'Rossi' },
      { userGroup: 'customer', authUserId: ghostId, email: 'wario@example.com', name: 'Wario', surname: 'Cattivo' },
    ])
    for (const emulator of [stack.current.crud, auth0]) emulator.clearRequests()
    logs.lines.length = 0
    return { ids: { mario: mario!, toad: toad!, luigi: luigi!, wario: wario! }, auth: { mario: auth0.getUser(marioAuth.user_id)!, luigi: auth0.getUser(luigiAuth.user_id)!, ghostId } }
  }

  function authLookups(): Array<{ ids: string[]; limit: string | null; params: string[]; request: RecordedRequest }> {
    return stack.current.auth0.requestsTo('GET', '/users').map((request) => {
      const params = new URLSearchParams(request.rawQuery)
      const filter = JSON.parse(params.get('_q') ?? 'null') as { user_id: { $in: string[] } }
      expect(Object.keys(filter)).toEqual(['user_id'])
      expect(Object.keys(filter.user_id)).toEqual(['$in'])
      return { ids: filter.user_id.$in, limit: params.get('_l'), params: [...params.keys()].sort(), request }
    })
  }

  it('merges the listed auth properties into users that have an auth user, leaving the others untouched', async () => {
    const { ids, auth } = await seedMerged()
    expect(auth.mario.last_login).toEqual(expect.any(String))
    expect(auth.luigi).not.toHaveProperty('last_login')

    const { ours, theirs } = await throughUms(stack, '/users/', '/users/', { 'client-type': 'backoffice', 'x-custom': 'yes' })
    expect(ours.status).toBe(200)
    expect(ours.headers['content-type']).toBe(theirs.headers['content-type'])
    const plain = theirs.body as Array<Record<string, unknown>>
    expect(userIds(plain)).toEqual([ids.mario, ids.toad, ids.luigi, ids.wario])
    expect(ours.body).toEqual([
      { ...plain[0], email_verified: auth.mario.email_verified, last_login: auth.mario.last_login, nickname: auth.mario.nickname },
      plain[1],
      { ...plain[2], email_verified: auth.luigi.email_verified, nickname: auth.luigi.nickname },
      plain[3],
    ])
    expect(plain[0]).not.toHaveProperty('nickname')

    const lookups = authLookups()
    expect(lookups).toHaveLength(1)
    expect(lookups[0]!.ids).toEqual([auth.mario.user_id, auth.luigi.user_id, auth.ghostId])
    expect(lookups[0]!.limit).toBe('3')
    expect(lookups[0]!.params).toEqual(['_l', '_q'])
    expect(lookups[0]!.request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-custom': 'yes' })
    expectNoSideEffects(stack.current, { authReads: true })
  })

  it('never sends acl_rows or acl_read_columns to the auth service, while the CRUD still applies them', async () => {
    const { ids, auth } = await seedMerged()
    const acl = { acl_rows: '{"surname":"Rossi"}', acl_read_columns: 'name,authUserId' }
    const { ours, theirs, sent } = await throughUms(stack, '/users/?_s=name', '/users/?_s=name', acl)
    expect(sent[0]?.headers).toMatchObject(acl)
    expect(theirs.body).toEqual([
      { _id: ids.luigi, name: 'Luigi', authUserId: auth.luigi.user_id },
      { _id: ids.mario, name: 'Mario', authUserId: auth.mario.user_id },
    ])
    expect(ours.body).toEqual([
      { _id: ids.luigi, name: 'Luigi', authUserId: auth.luigi.user_id, email_verified: auth.luigi.email_verified, nickname: auth.luigi.nickname },
      { _id: ids.mario, name: 'Mario', authUserId: auth.mario.user_id, email_verified: auth.mario.email_verified, last_login: auth.mario.last_login, nickname: auth.mario.nickname },
    ])
    const lookups = authLookups()
    expect(lookups).toHaveLength(1)
    expect(lookups[0]!.request.headers).not.toHaveProperty('acl_rows')
    expect(lookups[0]!.request.headers).not.toHaveProperty('acl_read_columns')
  })

  it('does not call the auth service for a page without auth ids nor for an empty page', async () => {
    await seedMerged()
    for (const query of [`_q=${encodeQuery({ authUserId: { $exists: false } })}`, '_q=%7B%22name%22%3A%22Nobody%22%7D']) {
      const { ours, theirs } = await throughUms(stack, `/users/?${query}`, `/users/?${query}`)
      expectSameAnswer(ours, theirs)
      expect(ours.text).toBe(theirs.text)
    }
    expect(stack.current.auth0.requests).toEqual([])
  })

  it('splits a 200-user page into lookups of 100 ids', async () => {
    const seeded = seedMany(250)
    const answer = await stack.call('GET', '/users/?_l=200')
    expect(answer.status).toBe(200)
    const page = answer.body as Array<Record<string, unknown>>
    expect(page).toHaveLength(200)
    const lookups = authLookups()
    expect(lookups.map((lookup) => [lookup.ids.length, lookup.limit])).toEqual([[100, '100'], [100, '100']])
    expect(lookups.flatMap((lookup) => lookup.ids)).toEqual(seeded.slice(0, 200).map((user) => user.authUserId))
    for (const [index, user] of page.entries()) expect(user).toMatchObject({ authUserId: seeded[index]!.authUserId, nickname: seeded[index]!.nickname, email_verified: false })
  })

  it('splits a 250-user page (CRUD without a limit constraint) into three lookups', async () => {
    const seeded = seedMany(250)
    // A CRUD started with CRUD_LIMIT_CONSTRAINT_ENABLED=false answers any page size.
    const first = await call(stack.current.crud.url, 'GET', '/users/?_l=200')
    const rest = await call(stack.current.crud.url, 'GET', '/users/?_l=200&_sk=200')
    const whole = [...(first.body as unknown[]), ...(rest.body as unknown[])]
    expect(whole).toHaveLength(250)
    stack.current.crud.injectFault({ method: 'GET', path: '/users/', status: 200, body: whole })

    const answer = await stack.call('GET', '/users/?_l=250')
    expect(answer.status).toBe(200)
    const lookups = authLookups()
    expect(lookups.map((lookup) => [lookup.ids.length, lookup.limit])).toEqual([[100, '100'], [100, '100'], [50, '50']])
    expect(lookups.flatMap((lookup) => lookup.ids)).toEqual(seeded.map((user) => user.authUserId))
    expect((answer.body as Array<Record<string, unknown>>).map((user) => user.nickname)).toEqual(seeded.map((user) => user.nickname))
  })

  function seedMany(count: number): Array<{ authUserId: string; nickname: string }> {
    const users = Array.from({ length: count }, (_, index) => {
      const profile = stack.current.auth0.seedUser({ email: `user${index}@example.com`, username: `user${index}` })
      return { authUserId: profile.user_id, nickname: profile.nickname }
    })
    stack.current.crud.seed(
      USERS_ENDPOINT,
      users.map((user, index) => ({ userGroup: 'customer', authUserId: user.authUserId, email: `user${index}@example.com`, name: `User ${index}`, surname: 'Many' })),
    )
    stack.current.auth0.clearRequests()
    stack.current.crud.clearRequests()
    return users
  }

  it('does not merge into /users/count nor /users/:id', async () => {
    const { ids } = await seedMerged()
    const count = await throughUms(stack, '/users/count', '/users/count')
    expectSameAnswer(count.ours, count.theirs)
    expect(count.ours.body).toBe(4)
    const one = await throughUms(stack, `/users/${ids.mario}`, `/users/${ids.mario}`)
    expectSameAnswer(one.ours, one.theirs)
    expect(one.ours.body).not.toHaveProperty('nickname')
    expect(stack.current.auth0.requests).toEqual([])
  })

  it.each([
    ['a 500', { status: 500, body: LEAKY_BODY }],
    ['a timeout', { hang: true }],
    ['a reset connection', { reset: true }],
  ])('answers the plain CRUD page when the auth lookup fails with %s, logging a warning', async (_case, fault) => {
    await seedMerged()
    stack.current.auth0.injectFault({ method: 'GET', path: '/users', ...fault })
    const { ours, theirs } = await throughUms(stack, '/users/', '/users/')
    expect(ours.status).toBe(200)
    expect(ours.headers['content-type']).toBe(theirs.headers['content-type'])
    expect(ours.text).toBe(theirs.text)
    const warnings = logs.records.filter((record) => record.level === 40)
    expect(warnings).toEqual([expect.objectContaining({ msg: 'auth properties not merged into the users list' })])
    expect(logs.lines.join('\n')).not.toContain('mario.rossi@example.com')
  })

  it.each([
    ['a timeout', (body: PassThrough) => body, 'failed: timeout after 300 ms'],
    ['a reset connection', (body: PassThrough) => setTimeout(() => body.destroy(new Error('gone')), 50), 'failed: connection reset'],
  ])('answers 500 naming the CRUD call when the page breaks off after the headers (%s)', async (_case, breakOff, outcome) => {
    await seedMerged()
    const body = new PassThrough()
    body.write('[{"_id":"65f1c2a9e4b0a1b2c3d4e5f6","authUserId":"auth0|')
    breakOff(body)
    stack.current.crud.injectFault({ method: 'GET', path: '/users/', status: 200, headers: { 'content-type': 'application/json' }, body })
    try {
      const answer = await stack.call('GET', '/users/')
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while retrieving user: CRUD GET /users/ ${outcome}`, code: 'UMS_UPSTREAM_FAILED' })
      expect(stack.current.auth0.requests).toEqual([])
    } finally {
      body.destroy()
    }
  })

  it('still relays the CRUD 400 and maps the CRUD failures', async () => {
    const refused = await stack.call('GET', `/users/?_q=${encodeQuery({ nickname: 'x' })}`)
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Unknown field: nickname', code: 'UMS_INVALID_QUERY' })
    stack.current.crud.injectFault({ method: 'GET', path: '/users/', status: 503 })
    const failed = await stack.call('GET', '/users/')
    expect(failed.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while retrieving user: CRUD GET /users/ responded with a 503 status code', code: 'UMS_UPSTREAM_FAILED' })
    expect(stack.current.auth0.requests).toEqual([])
  })
})

describe('CONFIGURATION_PATH at start-up', () => {
  const REQUIRED = {
    AUTH_SERVICE: 'auth0-client',
    AUTH_CONNECTION: 'Username-Password-Authentication',
    USERS_CRUD_ENDPOINT: '/users',
    UMS_CONFIG_CRUD_ENDPOINT: '/ums-config',
  }
  const load = (path: string) => loadConfig({ ...REQUIRED, CONFIGURATION_PATH: path }, { useProcessEnv: false })

  it('reads the user id field and the properties', async () => {
    const config = await load(CONFIGURATION_PATH)
    expect(config.authProperties).toEqual({ userIdField: 'authUserId', properties: ['email_verified', 'last_login', 'nickname'] })
  })

  it('leaves the merge off without CONFIGURATION_PATH', async () => {
    const config = await loadConfig(REQUIRED, { useProcessEnv: false })
    expect(config.authProperties).toBeUndefined()
  })

  const directory = join(dir, 'a-directory')
  mkdirSync(directory)
  it.each([
    ['a missing file', join(dir, 'missing.json')],
    ['a directory', directory],
    ['malformed JSON', writeConfigurationFile('malformed.json', '{"user_id": "authUserId", ')],
    ['an empty file', writeConfigurationFile('empty.json', '')],
    ['no user_id', writeConfigurationFile('no-user-id.json', '{"additionalProperties": ["nickname"]}')],
    ['JSON null', writeConfigurationFile('null.json', 'null')],
    ['a non-string user_id', writeConfigurationFile('numeric-user-id.json', '{"user_id": 1, "additionalProperties": []}')],
    ['additionalProperties not an array', writeConfigurationFile('string-properties.json', '{"user_id": "authUserId", "additionalProperties": "nickname"}')],
    ['a non-string property', writeConfigurationFile('numeric-property.json', '{"user_id": "authUserId", "additionalProperties": ["nickname", 3]}')],
    ['a JSON array', writeConfigurationFile('array.json', '[]')],
  ])('stops with a ConfigError naming CONFIGURATION_PATH for %s', async (_case, path) => {
    const failure = await load(path).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(ConfigError)
    expect((failure as ConfigError).message).toContain('CONFIGURATION_PATH')
    expect((failure as ConfigError).message).toContain(path)
    expect((failure as ConfigError).message).not.toContain('\n')
  })
})
