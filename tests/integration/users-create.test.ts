// POST /users/: the success paths (auth user, password, email, roles, expiry timer), the
// CRUD-only creations, input validation and duplicates. Step failures are in
// users-create-failures.test.ts; /users/with-id and /users/register in their own files.
import { describe, expect, it } from 'vitest'
import { UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { useStack } from '../helpers/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { MARIO, inOneHour } from './users-create-helpers.js'

/** Generated passwords: `length` characters with a lower, an upper, a digit and a symbol. */
function expectGeneratedPassword(password: unknown, length: number): void {
  expect(typeof password).toBe('string')
  const value = String(password)
  expect(value).toHaveLength(length)
  expect(value).toMatch(/[a-z]/)
  expect(value).toMatch(/[A-Z]/)
  expect(value).toMatch(/\d/)
  expect(value).toMatch(/[^a-zA-Z0-9]/)
}

function authCreateBodies(stack: Stack): Array<Record<string, unknown>> {
  return stack.auth0.requestsTo('POST', '/users').map((request) => request.body as Record<string, unknown>)
}

function users(stack: Stack): Array<Record<string, unknown>> {
  return stack.crud.documents(USERS_ENDPOINT)
}

/** Nothing at all was written to any peer. */
function expectNothingWritten(stack: Stack): void {
  expect(users(stack)).toEqual([])
  expect(stack.crud.requestsTo('POST', `${USERS_ENDPOINT}/`)).toHaveLength(0)
  expect(stack.auth0.listUsers()).toEqual([])
  expect(stack.auth0.requestsTo('POST', '/users')).toHaveLength(0)
  expect(stack.auth0.outbox).toEqual([])
  expect(stack.rond.bindings()).toEqual([])
  expect(stack.rond.requests).toHaveLength(0)
  expect(stack.timer.expirations()).toEqual([])
}

describe('POST /users/ creating the CRUD user and the auth user', () => {
  const stack = useStack({ env: { TIMER_SERVICE_HEADERS: 'client-type,secret' } })

  it('answers 200 {_id} with a PUBLIC CRUD user linked to a new auth user, roles granted and the email sent', async () => {
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({ _id: expect.any(String) })
    expect(Object.keys(answer.body)).toEqual(['_id'])

    const [authUser, ...otherAuthUsers] = stack.current.auth0.listUsers()
    expect(otherAuthUsers).toEqual([])
    expect(authUser).toMatchObject({ email: 'mario.rossi@example.com', username: 'mario.rossi' })
    expect(authUser?.blocked ?? false).toBe(false)

    const [user, ...others] = users(stack.current)
    expect(others).toEqual([])
    expect(user).toMatchObject({ ...MARIO, _id: answer.body._id, __STATE__: 'PUBLIC', authUserId: authUser!.user_id })
    expect(user).not.toHaveProperty('password')
    expect(user).not.toHaveProperty('expirationId')

    const [sent, ...moreCreates] = authCreateBodies(stack.current)
    expect(moreCreates).toEqual([])
    expect(sent).toEqual({
      connection: 'Username-Password-Authentication',
      email: 'mario.rossi@example.com',
      username: 'mario.rossi',
      password: expect.any(String),
    })
    expectGeneratedPassword(sent?.password, 8)

    expect(stack.current.auth0.outbox).toEqual([expect.objectContaining({ email: 'mario.rossi@example.com' })])
    expect(stack.current.rond.bindings()).toEqual([
      expect.objectContaining({ subjects: [authUser!.user_id], roles: ['customer-basic', 'customer-premium'] }),
    ])
    expect(stack.current.timer.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('accepts /users without the trailing slash', async () => {
    const answer = await stack.call('POST', '/users', { json: MARIO })
    expect(answer.status).toBe(200)
    expect(users(stack.current).map((user) => user._id)).toEqual([answer.body._id])
    expect(stack.current.auth0.listUsers()).toHaveLength(1)
    expectConsistent(stack.current)
  })

  it('sends the given password to the auth service only (the user can log in with it)', async () => {
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, password: 'Given-Pass1' } })
    expect(answer.status).toBe(200)
    expect(authCreateBodies(stack.current)[0]?.password).toBe('Given-Pass1')
    const [user] = users(stack.current)
    expect(user).not.toHaveProperty('password')
    expect(JSON.stringify(stack.current.crud.requests.map((request) => request.body))).not.toContain('Given-Pass1')
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: 'Given-Pass1' } })
    expect(login.status).toBe(200)
  })

  it('creates a blocked auth user when blocked is true', async () => {
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, blocked: true } })
    expect(answer.status).toBe(200)
    expect(authCreateBodies(stack.current)[0]).toMatchObject({ blocked: true })
    expect(stack.current.auth0.listUsers()[0]?.blocked).toBe(true)
    expect(users(stack.current)[0]).toMatchObject({ blocked: true })
  })

  it('sends no change-password email with sendResetPwdEmail=false', async () => {
    const answer = await stack.call('POST', '/users/?sendResetPwdEmail=false', { json: MARIO })
    expect(answer.status).toBe(200)
    expect(stack.current.auth0.listUsers()).toHaveLength(1)
    expect(stack.current.auth0.outbox).toEqual([])
    expect(stack.current.auth0.requestsTo('POST', '/change-password')).toHaveLength(0)
  })

  it.each([
    ['an empty roles array', { roles: [] }],
    ['no roles', { roles: undefined }],
  ])('grants nothing in Rönd for %s', async (_case, override) => {
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, ...override } })
    expect(answer.status).toBe(200)
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.rond.bindings()).toEqual([])
    expectConsistent(stack.current)
  })

  it('schedules the expiry callback with the configured headers and stores its id', async () => {
    const expirationDate = inOneHour()
    const before = Date.now()
    const answer = await stack.call('POST', '/users/', {
      json: { ...MARIO, expirationDate },
      headers: { 'client-type': 'backoffice', secret: 's3cr3t', 'x-not-listed': 'no' },
    })
    expect(answer.status).toBe(200)
    const [expiration, ...others] = stack.current.timer.expirations()
    expect(others).toEqual([])
    expect(expiration).toMatchObject({
      payload: { $set: { blocked: true } },
      expirationStatus: { description: 'pending' },
      outputMode: {
        type: 'rest',
        method: 'patch',
        protocol: 'http',
        hostname: '127.0.0.1',
        port: Number(new URL(stack.current.url).port),
        path: `/users/${answer.body._id}`,
        headers: { 'client-type': 'backoffice', secret: 's3cr3t' },
      },
    })
    expect(Object.keys((expiration?.outputMode as { headers: object }).headers).sort()).toEqual(['client-type', 'secret'])
    expect(Date.parse(expiration!.startDate)).toBeGreaterThanOrEqual(before - 1000)
    expect(Math.abs(Date.parse(expiration!.expirationDate) - Date.parse(expirationDate))).toBeLessThan(1000)
    const [user] = users(stack.current)
    expect(user).toMatchObject({ expirationId: expiration!.expirationId, expirationDate: new Date(expirationDate).toISOString() })
    expectConsistent(stack.current)
  })

  it('blocks the user in the CRUD and in auth when the timer fires', async () => {
    const answer = await stack.call('POST', '/users/', {
      json: { ...MARIO, expirationDate: inOneHour() },
      headers: { 'client-type': 'backoffice', secret: 's3cr3t' },
    })
    expect(answer.status).toBe(200)
    const [expiration] = stack.current.timer.expirations()
    const fired = await stack.current.timer.fireNow(expiration!.expirationId)
    expect(fired.expirationStatus.description).toBe('expired')
    const [user] = users(stack.current)
    expect(user).toMatchObject({ _id: answer.body._id, blocked: true })
    expect(stack.current.auth0.getUser(String(user!.authUserId))?.blocked).toBe(true)
    const [callback] = stack.current.auth0.requestsTo('PATCH', /^\/users\//)
    expect(callback?.headers).toMatchObject({ 'client-type': 'backoffice' })
    expectConsistent(stack.current)
  })

  it('creates only the CRUD user with postponeAuthUserCreation=true: no auth user, no roles, no email', async () => {
    const answer = await stack.call('POST', '/users/?postponeAuthUserCreation=true', { json: MARIO })
    expect(answer.status).toBe(200)
    const [user, ...others] = users(stack.current)
    expect(others).toEqual([])
    expect(user).toMatchObject({ ...MARIO, _id: answer.body._id, __STATE__: 'PUBLIC' })
    expect(user).not.toHaveProperty('authUserId')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expect(stack.current.auth0.outbox).toEqual([])
    expect(stack.current.rond.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('still schedules the expiry of a postponed user', async () => {
    const answer = await stack.call('POST', '/users/?postponeAuthUserCreation=true', { json: { ...MARIO, expirationDate: inOneHour() } })
    expect(answer.status).toBe(200)
    const [expiration] = stack.current.timer.expirations()
    expect(users(stack.current)[0]).toMatchObject({ expirationId: expiration?.expirationId })
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('creates only the CRUD user for a group with authUserCreationDisabled', async () => {
    stack.current.crud.seed(UMS_CONFIG_ENDPOINT, [
      {
        userGroup: 'kiosk',
        authUserCreationDisabled: true,
        crudSchema: { type: 'object', required: ['tags'], properties: { tags: { type: 'array', items: { type: 'string' } } } },
      },
    ])
    const answer = await stack.call('POST', '/users/', {
      json: { userGroup: 'kiosk', tags: ['T-1'], email: 'kiosk@example.com', username: 'kiosk', roles: ['customer-basic'] },
    })
    expect(answer.status).toBe(200)
    const [user, ...others] = users(stack.current)
    expect(others).toEqual([])
    expect(user).toMatchObject({ _id: answer.body._id, userGroup: 'kiosk', tags: ['T-1'] })
    expect(user).not.toHaveProperty('authUserId')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expect(stack.current.auth0.outbox).toEqual([])
    expect(stack.current.rond.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('validates against a group schema with additionalProperties false without tripping on password', async () => {
    stack.current.crud.seed(UMS_CONFIG_ENDPOINT, [
      {
        userGroup: 'strict',
        crudSchema: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' } } },
      },
    ])
    const answer = await stack.call('POST', '/users/', {
      json: { userGroup: 'strict', name: 'Anna', email: 'anna@example.com', username: 'anna', password: 'Given-Pass1' },
    })
    expect(answer.status).toBe(200)
    expect(authCreateBodies(stack.current)[0]?.password).toBe('Given-Pass1')
    expect(users(stack.current)[0]).not.toHaveProperty('password')
    const rejected = await stack.call('POST', '/users/', { json: { userGroup: 'strict', name: 'Bea', nickname: 'b' } })
    expect(rejected.status).toBe(400)
    expect(rejected.body.message).toBe('body must NOT have additional properties (property "nickname")')
  })

  describe('rejects bad input with 400 and writes nothing', () => {
    const withEverything = { ...MARIO, expirationDate: inOneHour() }

    it('for an unknown userGroup', async () => {
      const answer = await stack.call('POST', '/users/', { json: { ...withEverything, userGroup: 'ghost' } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Unknown userGroup ghost (known groups: customer)', code: 'UMS_UNKNOWN_GROUP' })
      expectNothingWritten(stack.current)
    })

    it.each([
      ['a missing required field', { surname: undefined }, "body must have required property 'surname'"],
      ['a minimum violated', { age: -1 }, 'body.age must be >= 0'],
      ['a wrong type in the group schema', { age: 'old' }, 'body.age must be number'],
      ['a bad email', { email: 'not-an-email' }, 'body.email must match format "email"'],
      ['an empty name', { name: '' }, 'body.name must NOT have fewer than 1 characters'],
    ])('for %s in the group schema', async (_case, override, message) => {
      const answer = await stack.call('POST', '/users/', { json: { ...withEverything, ...override } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'UMS_GROUP_SCHEMA_MISMATCH' })
      expectNothingWritten(stack.current)
    })

    it.each(['expirationId', 'authUserId', '_id', '__STATE__'])('for %s in the body', async (field) => {
      const answer = await stack.call('POST', '/users/', { json: { ...withEverything, [field]: 'x-1' } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: `${field} cannot be set`, code: 'UMS_READ_ONLY_FIELD' })
      expectNothingWritten(stack.current)
    })

    it.each([
      ['missing userGroup', { userGroup: undefined }, "body must have required property 'userGroup'"],
      ['an empty userGroup', { userGroup: '' }, 'body.userGroup must NOT have fewer than 1 characters'],
      ['blocked not a boolean', { blocked: 'yes' }, 'body.blocked must be boolean'],
      ['roles not an array', { roles: { basic: true } }, 'body.roles must be array'],
      ['a role not a string', { roles: [{ id: 'x' }] }, 'body.roles.0 must be string'],
      ['email not a string', { email: { at: 'x' } }, 'body.email must be string'],
      ['expirationDate not a date-time', { expirationDate: 'tomorrow' }, 'body.expirationDate must match format "date-time"'],
      ['an empty password', { password: '' }, 'body.password must NOT have fewer than 1 characters'],
    ])('for %s', async (_case, override, message) => {
      const answer = await stack.call('POST', '/users/', { json: { ...withEverything, ...override } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
      expectNothingWritten(stack.current)
    })

    it('for a body that is not an object', async () => {
      const answer = await stack.call('POST', '/users/', { json: [MARIO] })
      expect(answer.status).toBe(400)
      expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message: 'body must be object' })
      expectNothingWritten(stack.current)
    })

    it('for malformed JSON', async () => {
      const answer = await stack.call('POST', '/users/', { raw: '{"userGroup":"customer",', headers: { 'content-type': 'application/json' } })
      expect(answer.status).toBe(400)
      expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' })
      expectNothingWritten(stack.current)
    })

    it.each([
      ['postponeAuthUserCreation', 'postponeAuthUserCreation=maybe', 'querystring.postponeAuthUserCreation must be boolean'],
      ['sendResetPwdEmail', 'sendResetPwdEmail=nope', 'querystring.sendResetPwdEmail must be boolean'],
    ])('for a non-boolean %s', async (_case, query, message) => {
      const answer = await stack.call('POST', `/users/?${query}`, { json: withEverything })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
      expectNothingWritten(stack.current)
    })
  })

  describe('answers 409 for a duplicate', () => {
    it('email already in the CRUD (unique index), naming the field, creating no auth user', async () => {
      const [existingId] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Old', surname: 'Mario', email: 'mario.rossi@example.com' }])
      const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate: inOneHour() } })
      expect(answer.status).toBe(409)
      expect(answer.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: 'Error while creating user: CRUD POST /users/ responded with a 409 status code: email already exists',
        code: 'UMS_DUPLICATE_USER',
      })
      expect(answer.text).not.toContain('mario.rossi@example.com')
      expect(users(stack.current).map((user) => user._id)).toEqual([existingId])
      expect(stack.current.auth0.requests).toHaveLength(0)
      expect(stack.current.rond.requests).toHaveLength(0)
      expect(stack.current.timer.requests).toHaveLength(0)
      expectConsistent(stack.current)
    })

    it.each([
      ['email', { email: 'mario.rossi@example.com', username: 'someone.else' }],
      ['username', { email: 'someone.else@example.com', username: 'mario.rossi' }],
    ])('%s already in the auth service, naming it, removing the CRUD user again', async (field, taken) => {
      const existing = stack.current.auth0.seedUser({ ...taken, password: 'Old-Pass1' })
      const [existingId] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Old', surname: 'User', authUserId: existing.user_id }])
      const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate: inOneHour() } })
      expect(answer.status).toBe(409)
      expect(answer.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: `Error while creating user: AUTH POST /users responded with a 409 status code: ${field} already exists`,
        code: 'UMS_DUPLICATE_USER',
      })
      expect(answer.text).not.toContain('mario.rossi')
      expect(users(stack.current).map((user) => user._id)).toEqual([existingId])
      expect(stack.current.auth0.listUsers().map((user) => user.user_id)).toEqual([existing.user_id])
      expect(stack.current.auth0.requestsTo('DELETE', /^\/users\//)).toHaveLength(0)
      expect(stack.current.auth0.outbox).toEqual([])
      expect(stack.current.rond.bindings()).toEqual([])
      // The timer, scheduled side by side with the auth user, was aborted again.
      expect(stack.current.timer.expirations().map((timer) => timer.expirationStatus.description)).toEqual(['aborted'])
      expectConsistent(stack.current)
    })

    it('username already in the CRUD (unique index), naming the field', async () => {
      stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Old', surname: 'Mario', username: 'mario.rossi' }])
      const answer = await stack.call('POST', '/users/', { json: MARIO })
      expect(answer.status).toBe(409)
      expect(answer.body).toMatchObject({ message: 'Error while creating user: CRUD POST /users/ responded with a 409 status code: username already exists', code: 'UMS_DUPLICATE_USER' })
      expect(stack.current.auth0.requests).toHaveLength(0)
    })
  })

  describe('answers 400 saying which field a peer refused', () => {
    it('a field the CRUD collection does not declare, creating no auth user', async () => {
      const answer = await stack.call('POST', '/users/', { json: { ...MARIO, nickname: 'Super Mario' } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Error while creating user: CRUD POST /users/ responded with a 400 status code: nickname is not a field of the collection',
        code: 'UMS_PEER_REFUSED',
      })
      expect(users(stack.current)).toEqual([])
      expect(stack.current.auth0.requests).toHaveLength(0)
    })

    it('a username the auth connection requires, removing the CRUD user again', async () => {
      const { username: _username, ...withoutUsername } = MARIO
      const answer = await stack.call('POST', '/users/', { json: withoutUsername })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Error while creating user: AUTH POST /users responded with a 400 status code: username is required by the auth connection',
        code: 'UMS_PEER_REFUSED',
      })
      expect(users(stack.current)).toEqual([])
      expect(stack.current.auth0.listUsers()).toEqual([])
      expectConsistent(stack.current)
    })
  })
})

describe('POST /users/ with RANDOM_PWD_LENGTH=12', () => {
  const stack = useStack({ env: { RANDOM_PWD_LENGTH: '12' } })

  it('generates 12-character passwords', async () => {
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(200)
    expectGeneratedPassword(authCreateBodies(stack.current)[0]?.password, 12)
  })
})

describe('POST /users/ with ROND_ENABLED=false', () => {
  const stack = useStack({ env: { ROND_ENABLED: 'false' } })

  it('creates the user and grants no roles', async () => {
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(200)
    expect(users(stack.current)[0]).toMatchObject({ roles: MARIO.roles })
    expect(stack.current.rond.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe('POST /users/ without TIMER_SERVICE', () => {
  const stack = useStack({ env: { TIMER_SERVICE: undefined } })

  it('stores expirationDate and schedules nothing', async () => {
    const expirationDate = inOneHour()
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate } })
    expect(answer.status).toBe(200)
    const [user] = users(stack.current)
    expect(user).toMatchObject({ expirationDate: new Date(expirationDate).toISOString() })
    expect(user).not.toHaveProperty('expirationId')
    expect(stack.current.timer.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })
})
