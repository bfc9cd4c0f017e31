// POST /users/with-id: the CRUD user of an auth user that already exists.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Auth0User } from '../../src/sandbox/auth0-emulator.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { useStack } from '../helpers/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { USER_BY_ID, inOneHour, setting, stepFaults, type Step } from './users-create-helpers.js'

const LUIGI = { userGroup: 'customer', name: 'Luigi', surname: 'Verdi', email: 'luigi.verdi@example.com', username: 'luigi', roles: ['customer-premium'] }

function seedAuthUser(stack: Stack): Auth0User {
  return stack.auth0.seedUser({ email: LUIGI.email, username: LUIGI.username, password: 'Luigi-Pass1' })
}

/** The auth user is exactly as seeded: not deleted, not changed, nothing written to it. */
function expectAuthUserUntouched(stack: Stack, seeded: Auth0User): void {
  expect(stack.auth0.listUsers()).toEqual([seeded])
  for (const method of ['POST', 'PATCH', 'DELETE']) expect(stack.auth0.requestsTo(method, /^\/users/)).toHaveLength(0)
  expect(stack.auth0.outbox).toEqual([])
}

function expectNoUserLeft(stack: Stack): void {
  expect(stack.crud.documents(USERS_ENDPOINT)).toEqual([])
  expect(stack.rond.bindings()).toEqual([])
  for (const expiration of stack.timer.expirations()) expect(expiration.expirationStatus.description).toBe('aborted')
}

describe('POST /users/with-id', () => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300', TIMER_SERVICE_HEADERS: 'client-type' } })

  it('creates the CRUD user linked to the existing auth user, grants the roles and schedules the expiry', async () => {
    const seeded = seedAuthUser(stack.current)
    const expirationDate = inOneHour()
    const answer = await stack.call('POST', '/users/with-id', {
      json: { ...LUIGI, authUserId: seeded.user_id, expirationDate },
      headers: { 'client-type': 'backoffice' },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({ _id: expect.any(String) })

    const [expiration, ...otherTimers] = stack.current.timer.expirations()
    expect(otherTimers).toEqual([])
    expect(expiration).toMatchObject({
      payload: { $set: { blocked: true } },
      outputMode: { method: 'patch', path: `/users/${answer.body._id}`, headers: { 'client-type': 'backoffice' } },
    })
    const [user, ...others] = stack.current.crud.documents(USERS_ENDPOINT)
    expect(others).toEqual([])
    expect(user).toMatchObject({
      ...LUIGI,
      _id: answer.body._id,
      __STATE__: 'PUBLIC',
      authUserId: seeded.user_id,
      expirationId: expiration!.expirationId,
      expirationDate: new Date(expirationDate).toISOString(),
    })
    expect(stack.current.rond.bindings()).toEqual([expect.objectContaining({ subjects: [seeded.user_id], roles: ['customer-premium'] })])
    expectAuthUserUntouched(stack.current, seeded)
    expectConsistent(stack.current)
  })

  it('stores no password and grants nothing without roles', async () => {
    const seeded = seedAuthUser(stack.current)
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, roles: [], authUserId: seeded.user_id, password: 'Ignored-Pass1' } })
    expect(answer.status).toBe(200)
    expect(stack.current.crud.documents(USERS_ENDPOINT)[0]).not.toHaveProperty('password')
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
    expectAuthUserUntouched(stack.current, seeded)
    expectConsistent(stack.current)
  })

  it('blocks the existing auth user when the user is created blocked', async () => {
    const seeded = seedAuthUser(stack.current)
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, blocked: true, authUserId: seeded.user_id } })
    expect(answer.status).toBe(200)
    expect(stack.current.auth0.getUser(seeded.user_id)?.blocked).toBe(true)
    expect(stack.current.crud.documents(USERS_ENDPOINT)[0]).toMatchObject({ blocked: true, authUserId: seeded.user_id })
  })

  it('unblocks the auth user again when a later step of a blocked creation fails', async () => {
    const seeded = seedAuthUser(stack.current)
    stack.current.crud.injectFault({ method: 'POST', path: '/users/', status: 500 })
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, blocked: true, authUserId: seeded.user_id } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD POST /users/ responded with a 500 status code')
    expect(stack.current.auth0.getUser(seeded.user_id)?.blocked).toBe(false)
    expectNoUserLeft(stack.current)
  })

  it('answers 400 when the auth user does not exist, writing nothing', async () => {
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, authUserId: 'auth0|000000000000000000000000', expirationDate: inOneHour() } })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'User auth0|000000000000000000000000 does not exist in the auth service', code: 'UMS_AUTH_USER_NOT_FOUND' })
    expect(stack.current.crud.requestsTo('POST', '/users/')).toHaveLength(0)
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
    expectNoUserLeft(stack.current)
  })

  it('answers 409 when a CRUD user already has that authUserId (any state)', async () => {
    const seeded = seedAuthUser(stack.current)
    const [existingId] = stack.current.crud.seed(USERS_ENDPOINT, [
      { userGroup: 'customer', name: 'Old', surname: 'Luigi', authUserId: seeded.user_id, __STATE__: 'DRAFT' },
    ])
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, authUserId: seeded.user_id, expirationDate: inOneHour() } })
    expect(answer.status).toBe(409)
    expect(answer.body).toEqual({ statusCode: 409, error: 'Conflict', message: `A user with authUserId ${seeded.user_id} already exists`, code: 'UMS_DUPLICATE_USER' })
    expect(stack.current.crud.documents(USERS_ENDPOINT).map((user) => user._id)).toEqual([existingId])
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
  })

  it.each(['expirationId', '_id', '__STATE__'])('answers 400 for %s in the body', async (field) => {
    const seeded = seedAuthUser(stack.current)
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, authUserId: seeded.user_id, [field]: 'x' } })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: `${field} cannot be set`, code: 'UMS_READ_ONLY_FIELD' })
    expectNoUserLeft(stack.current)
    expectAuthUserUntouched(stack.current, seeded)
  })

  it.each([
    ['a missing authUserId', { authUserId: undefined }, "body must have required property 'authUserId'", 'FST_ERR_VALIDATION'],
    ['an empty authUserId', { authUserId: '' }, 'body.authUserId must NOT have fewer than 1 characters', 'FST_ERR_VALIDATION'],
    ['a missing userGroup', { userGroup: undefined }, "body must have required property 'userGroup'", 'FST_ERR_VALIDATION'],
    ['an unknown userGroup', { userGroup: 'ghost' }, 'Unknown userGroup ghost (known groups: customer)', 'UMS_UNKNOWN_GROUP'],
    ['a group schema violation', { surname: undefined }, "body must have required property 'surname'", 'UMS_GROUP_SCHEMA_MISMATCH'],
  ])('answers 400 for %s', async (_case, override, message, code) => {
    const seeded = seedAuthUser(stack.current)
    const answer = await stack.call('POST', '/users/with-id', { json: { authUserId: seeded.user_id, ...LUIGI, ...override } })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code })
    expectNoUserLeft(stack.current)
    expectAuthUserUntouched(stack.current, seeded)
  })

  const steps: Step[] = [
    { name: 'auth lookup', peer: 'auth0', rule: { method: 'GET', path: '/users' }, call: 'AUTH GET /users' },
    { name: 'CRUD insert', peer: 'crud', rule: { method: 'POST', path: '/users/' }, call: 'CRUD POST /users/' },
    { name: 'Rönd grant', peer: 'rond', rule: { method: 'POST', path: '/grant/bindings' }, call: 'ROND POST /grant/bindings' },
    { name: 'timer schedule', peer: 'timer', rule: { method: 'POST', path: '/schedule' }, call: 'TIMER POST /schedule' },
    { name: 'CRUD $set expirationId', peer: 'crud', rule: { method: 'PATCH', path: USER_BY_ID, match: setting('expirationId') }, call: 'CRUD PATCH /users/:id' },
  ]

  it.each(stepFaults(steps))(
    '$step.name answering $fault: 500, CRUD user removed, auth user untouched',
    async ({ step, rule, suffix }) => {
      const seeded = seedAuthUser(stack.current)
      stack.current[step.peer].injectFault({ ...step.rule, ...rule })
      const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, authUserId: seeded.user_id, expirationDate: inOneHour() } })
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while creating user: ${step.call} ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
      expectNoUserLeft(stack.current)
      expectAuthUserUntouched(stack.current, seeded)
    },
  )
})

describe('POST /users/with-id with Rönd refusing connections', () => {
  const stack = useStack({ unreachable: ['rond'] })

  it('answers 500 "connection refused", removes the CRUD user and leaves the auth user alone', async () => {
    const seeded = seedAuthUser(stack.current)
    const answer = await stack.call('POST', '/users/with-id', { json: { ...LUIGI, authUserId: seeded.user_id } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: ROND POST /grant/bindings failed: connection refused')
    expectNoUserLeft(stack.current)
    expectAuthUserUntouched(stack.current, seeded)
  })
})
