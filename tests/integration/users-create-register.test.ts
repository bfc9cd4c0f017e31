// POST /users/register: the auth user of a CRUD user created with postponeAuthUserCreation.
import { describe, expect, it } from 'vitest'
import { UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { useStack } from '../helpers/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { USER_BY_ID, setting, stepFaults, type Step } from './users-create-helpers.js'

const ANNA = { userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna.bianchi@example.com', username: 'anna', roles: ['customer-basic'] }

type Call = ReturnType<typeof useStack>['call']

async function createPostponed(call: Call, body: Record<string, unknown> = ANNA): Promise<string> {
  const answer = await call('POST', '/users/?postponeAuthUserCreation=true', { json: body })
  expect(answer.status).toBe(200)
  return answer.body._id as string
}

function expectGeneratedPassword(password: unknown, length: number): void {
  const value = String(password)
  expect(value).toHaveLength(length)
  for (const pattern of [/[a-z]/, /[A-Z]/, /\d/, /[^a-zA-Z0-9]/]) expect(value).toMatch(pattern)
}

function sentPassword(stack: Stack): unknown {
  const [create] = stack.auth0.requestsTo('POST', '/users')
  return (create?.body as { password?: unknown } | undefined)?.password
}

function userById(stack: Stack, id: string): Record<string, unknown> | undefined {
  return stack.crud.documents(USERS_ENDPOINT).find((user) => user._id === id)
}

describe('POST /users/register', () => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300' } })

  it('creates the auth user, stores its id, grants the roles and sends the email: 204', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')

    const [authUser, ...others] = stack.current.auth0.listUsers()
    expect(others).toEqual([])
    expect(authUser).toMatchObject({ email: ANNA.email, username: ANNA.username })
    expect(authUser?.blocked ?? false).toBe(false)
    expect(stack.current.auth0.requestsTo('POST', '/users')[0]?.body).toEqual({
      connection: 'Username-Password-Authentication',
      email: ANNA.email,
      username: ANNA.username,
      password: expect.any(String),
    })
    expectGeneratedPassword(sentPassword(stack.current), 8)
    expect(userById(stack.current, id)).toMatchObject({ authUserId: authUser!.user_id })
    expect(stack.current.rond.bindings()).toEqual([expect.objectContaining({ subjects: [authUser!.user_id], roles: ANNA.roles })])
    expect(stack.current.auth0.outbox).toEqual([expect.objectContaining({ email: ANNA.email })])
    expectConsistent(stack.current)
  })

  it('sends no email with sendResetPwdEmail=false and grants nothing without roles', async () => {
    const id = await createPostponed(stack.call, { ...ANNA, roles: [] })
    const answer = await stack.call('POST', '/users/register?sendResetPwdEmail=false', { json: { _id: id } })
    expect(answer.status).toBe(204)
    expect(stack.current.auth0.listUsers()).toHaveLength(1)
    expect(stack.current.auth0.outbox).toEqual([])
    expect(stack.current.rond.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('generates the password even when one is given (RANDOM_PWD_GEN defaults to true)', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id, password: 'Given-Pass1' } })
    expect(answer.status).toBe(204)
    expect(sentPassword(stack.current)).not.toBe('Given-Pass1')
    expectGeneratedPassword(sentPassword(stack.current), 8)
  })

  it('creates a blocked auth user for a blocked CRUD user', async () => {
    const id = await createPostponed(stack.call, { ...ANNA, blocked: true })
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(204)
    expect(stack.current.auth0.listUsers()[0]?.blocked).toBe(true)
    expectConsistent(stack.current)
  })

  it('creates a blocked auth user for a user that is not PUBLIC, so it cannot log in', async () => {
    const [id] = stack.current.crud.seed(USERS_ENDPOINT, [{ ...ANNA, __STATE__: 'TRASH' }])
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(204)
    expect(stack.current.auth0.listUsers()[0]?.blocked).toBe(true)
    expect(userById(stack.current, id!)).toMatchObject({ __STATE__: 'TRASH', authUserId: stack.current.auth0.listUsers()[0]?.user_id })
    expectConsistent(stack.current)
  })

  it('answers 404 for an unknown _id', async () => {
    const answer = await stack.call('POST', '/users/register', { json: { _id: '0123456789abcdef01234567' } })
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'User 0123456789abcdef01234567 not found', code: 'UMS_USER_NOT_FOUND' })
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('answers 409 for a user already registered, creating nothing', async () => {
    const created = await stack.call('POST', '/users/', { json: ANNA })
    expect(created.status).toBe(200)
    stack.current.auth0.clearRequests()
    stack.current.rond.clearRequests()
    const answer = await stack.call('POST', '/users/register', { json: { _id: created.body._id } })
    expect(answer.status).toBe(409)
    expect(answer.body).toEqual({ statusCode: 409, error: 'Conflict', message: `User ${created.body._id} is already registered`, code: 'UMS_ALREADY_REGISTERED' })
    expect(stack.current.auth0.requests).toHaveLength(0)
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.auth0.listUsers()).toHaveLength(1)
    expectConsistent(stack.current)
  })

  it('answers 400 for a group with authUserCreationDisabled', async () => {
    stack.current.crud.seed(UMS_CONFIG_ENDPOINT, [{ userGroup: 'guests', authUserCreationDisabled: true, crudSchema: { type: 'object' } }])
    const [id] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'guests', email: 'guest@example.com', username: 'guest' }])
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Auth user creation is disabled for userGroup guests', code: 'UMS_AUTH_CREATION_DISABLED' })
    expect(stack.current.auth0.requests).toHaveLength(0)
    expect(userById(stack.current, id!)).not.toHaveProperty('authUserId')
  })

  it('answers 400 naming the username the auth connection requires, leaving the user unregistered', async () => {
    const { username: _username, ...withoutUsername } = ANNA
    const id = await createPostponed(stack.call, withoutUsername)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Error while registering user: AUTH POST /users responded with a 400 status code: username is required by the auth connection',
      code: 'UMS_PEER_REFUSED',
    })
    expect(userById(stack.current, id)).not.toHaveProperty('authUserId')
    expect(stack.current.auth0.listUsers()).toEqual([])
  })

  it('answers 409 naming the email another auth user holds', async () => {
    stack.current.auth0.seedUser({ email: ANNA.email, username: 'someone.else', password: 'Old-Pass1' })
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(409)
    expect(answer.body).toMatchObject({ message: 'Error while registering user: AUTH POST /users responded with a 409 status code: email already exists', code: 'UMS_DUPLICATE_USER' })
    expect(userById(stack.current, id)).not.toHaveProperty('authUserId')
  })

  it.each([
    [{}, "body must have required property '_id'"],
    [{ _id: '' }, 'body._id must NOT have fewer than 1 characters'],
    [{ _id: 'x', password: '' }, 'body.password must NOT have fewer than 1 characters'],
    [{ _id: 'x', email: 'a@b.c' }, 'body must NOT have additional properties (property "email")'],
  ])('answers 400 for %j', async (body, message) => {
    const answer = await stack.call('POST', '/users/register', { json: body })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('answers 400 for a non-boolean sendResetPwdEmail', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register?sendResetPwdEmail=perhaps', { json: { _id: id } })
    expect(answer.status).toBe(400)
    expect(answer.body.message).toBe('querystring.sendResetPwdEmail must be boolean')
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  const steps: Step[] = [
    { name: 'auth create', peer: 'auth0', rule: { method: 'POST', path: '/users' }, call: 'AUTH POST /users' },
    { name: 'CRUD $set authUserId', peer: 'crud', rule: { method: 'PATCH', path: USER_BY_ID, match: setting('authUserId') }, call: 'CRUD PATCH /users/:id' },
    { name: 'Rönd grant', peer: 'rond', rule: { method: 'POST', path: '/grant/bindings' }, call: 'ROND POST /grant/bindings' },
    { name: 'change-password email', peer: 'auth0', rule: { method: 'POST', path: '/change-password' }, call: 'AUTH POST /change-password' },
  ]

  it.each(stepFaults(steps))(
    '$step.name answering $fault: 500, no auth user, authUserId unset, CRUD user kept',
    async ({ step, rule, suffix }) => {
      const id = await createPostponed(stack.call)
      const before = userById(stack.current, id)
      stack.current[step.peer].injectFault({ ...step.rule, ...rule })
      const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while registering user: ${step.call} ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
      expect(stack.current.auth0.listUsers()).toEqual([])
      const after = userById(stack.current, id)
      expect(after).toBeDefined()
      expect(after).not.toHaveProperty('authUserId')
      const { updatedAt: _after, ...afterRest } = after!
      const { updatedAt: _before, ...beforeRest } = before!
      expect(afterRest).toEqual(beforeRest)
      expect(stack.current.rond.bindings()).toEqual([])
      // The email goes side by side with the link and the grant: it cannot be taken back.
      if (step.name === 'auth create') expect(stack.current.auth0.outbox).toEqual([])
      else expect(stack.current.auth0.outbox.length).toBeLessThanOrEqual(1)
      expectConsistent(stack.current)
      // The user can be registered once the peer is back.
      const retry = await stack.call('POST', '/users/register', { json: { _id: id } })
      expect(retry.status).toBe(204)
      expectConsistent(stack.current)
    },
  )
})

describe('POST /users/register with RANDOM_PWD_GEN=false', () => {
  const stack = useStack({ env: { RANDOM_PWD_GEN: 'false', RANDOM_PWD_LENGTH: '10' } })

  it('uses the given password', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id, password: 'Given-Pass1' } })
    expect(answer.status).toBe(204)
    expect(sentPassword(stack.current)).toBe('Given-Pass1')
    const login = await stack.call('POST', '/oauth/token', { json: { username: ANNA.username, password: 'Given-Pass1' } })
    expect(login.status).toBe(200)
  })

  it('generates one when none is given', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(204)
    expectGeneratedPassword(sentPassword(stack.current), 10)
  })
})

describe('POST /users/register with the auth service refusing connections', () => {
  const stack = useStack({ unreachable: ['auth'] })

  it('answers 500 "connection refused" and leaves the CRUD user unregistered', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while registering user: AUTH POST /users failed: connection refused')
    expect(userById(stack.current, id)).not.toHaveProperty('authUserId')
    expectConsistent(stack.current)
  })
})

describe('POST /users/register with Rönd refusing connections', () => {
  const stack = useStack({ unreachable: ['rond'] })

  it('answers 500 "connection refused", deletes the auth user again and unsets authUserId', async () => {
    const id = await createPostponed(stack.call)
    const answer = await stack.call('POST', '/users/register', { json: { _id: id } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while registering user: ROND POST /grant/bindings failed: connection refused')
    expect(stack.current.auth0.listUsers()).toEqual([])
    expect(userById(stack.current, id)).not.toHaveProperty('authUserId')
    expectConsistent(stack.current)
  })
})
