// DELETE /users/:id over HTTP against the emulators, with AUTH_HARD_DELETE on and off: the happy
// paths, the Timer Service abort, and every step failing (SPEC §5 safety order).
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'

type State = 'PUBLIC' | 'DRAFT' | 'TRASH' | 'DELETED'
const STATES: State[] = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']
const HOUR = 3_600_000
const UNKNOWN_ID = '0123456789abcdef01234567'

let sequence = 0

/** A CRUD user (and its auth user unless `auth: false`); TRASH/DRAFT/DELETED users start blocked. */
function seedUser(stack: Stack, options: { state?: State; auth?: boolean; blocked?: boolean; fields?: Record<string, unknown> } = {}) {
  sequence += 1
  const state = options.state ?? 'PUBLIC'
  const email = `delete-user-${sequence}@example.com`
  const username = `delete-user-${sequence}`
  const authUser = options.auth === false ? undefined : stack.auth0.seedUser({ email, username, password: 'Secret-Pass1', blocked: options.blocked ?? state !== 'PUBLIC' })
  const [userId] = stack.crud.seed(USERS_ENDPOINT, [
    { userGroup: 'customer', name: 'Mario', surname: 'Rossi', email, username, __STATE__: state, ...(authUser ? { authUserId: authUser.user_id } : {}), ...options.fields },
  ])
  return { userId: userId!, authUserId: authUser?.user_id ?? '' }
}

function crudUser(stack: Stack, userId: string): Record<string, unknown> | undefined {
  return stack.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === userId)
}

/** A pending timer in the Timer Service emulator, created through its HTTP API. */
async function scheduleTimer(stack: Stack, expiresAt: Date): Promise<string> {
  const now = new Date()
  const answer = await request(`${stack.timer.url}/schedule`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      payload: { $set: { blocked: true } },
      startDate: now.toISOString(),
      expirationIntervalMs: Math.max(0, expiresAt.getTime() - now.getTime()),
      applicantService: 'tests',
      outputMode: { type: 'rest', method: 'patch', protocol: 'http', hostname: '127.0.0.1', port: 9, path: '/users/x' },
    }),
  })
  const { expirationId } = (await answer.body.json()) as { expirationId: string }
  return expirationId
}

function authCallsTo(stack: Stack) {
  return stack.auth0.requests.filter((r) => r.path.startsWith('/users'))
}

/** Answered faults, one test each; timeouts (about 1 s each) run side by side in one test. */
const FAULTS = [
  ['a 500', { status: 500 }, 'responded with a 500 status code'],
  ['a reset connection', { reset: true }, 'failed: connection reset'],
] as const
const TIMEOUT = 'failed: timeout after 300 ms'

const stateTo = (state: State) => (req: { body: unknown }) => (req.body as { stateTo?: unknown } | undefined)?.stateTo === state

interface Step {
  name: string
  peer: 'crud' | 'auth0'
  rule: (ids: { userId: string; authUserId: string }) => FaultRule
  call: string
  /** Where the user is left: CRUD state (undefined = document gone) and auth user (blocked, or gone). */
  left: { state: State | undefined; auth: 'unblocked' | 'blocked' | 'gone' }
}

const CRUD_GET: Step = { name: 'CRUD read', peer: 'crud', rule: ({ userId }) => ({ method: 'GET', path: `/users/${userId}` }), call: 'CRUD GET /users/:id', left: { state: 'PUBLIC', auth: 'unblocked' } }
const AUTH_BLOCK: Step = { name: 'auth block', peer: 'auth0', rule: ({ authUserId }) => ({ method: 'PATCH', path: `/users/${authUserId}` }), call: 'AUTH PATCH /users/:userID', left: { state: 'PUBLIC', auth: 'unblocked' } }

const HARD_STEPS: Step[] = [
  CRUD_GET,
  AUTH_BLOCK,
  { name: 'CRUD move to TRASH', peer: 'crud', rule: ({ userId }) => ({ method: 'POST', path: `/users/${userId}/state`, match: stateTo('TRASH') }), call: 'CRUD POST /users/:id/state', left: { state: 'PUBLIC', auth: 'blocked' } },
  { name: 'CRUD move to DELETED', peer: 'crud', rule: ({ userId }) => ({ method: 'POST', path: `/users/${userId}/state`, match: stateTo('DELETED') }), call: 'CRUD POST /users/:id/state', left: { state: 'TRASH', auth: 'blocked' } },
  { name: 'auth delete', peer: 'auth0', rule: ({ authUserId }) => ({ method: 'DELETE', path: `/users/${authUserId}` }), call: 'AUTH DELETE /users/:userID', left: { state: 'DELETED', auth: 'blocked' } },
  { name: 'CRUD delete', peer: 'crud', rule: ({ userId }) => ({ method: 'DELETE', path: `/users/${userId}` }), call: 'CRUD DELETE /users/:id', left: { state: 'DELETED', auth: 'gone' } },
]

const SOFT_STEPS: Step[] = [
  CRUD_GET,
  AUTH_BLOCK,
  { name: 'CRUD delete', peer: 'crud', rule: ({ userId }) => ({ method: 'DELETE', path: `/users/${userId}` }), call: 'CRUD DELETE /users/:id', left: { state: 'PUBLIC', auth: 'blocked' } },
]

function expectAuth(stack: Stack, authUserId: string, expected: 'unblocked' | 'blocked' | 'gone') {
  const authUser = stack.auth0.getUser(authUserId)
  if (expected === 'gone') expect(authUser).toBeUndefined()
  else expect(authUser?.blocked ?? false).toBe(expected === 'blocked')
}

describe.each([
  { hard: true, env: {}, steps: HARD_STEPS },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' }, steps: SOFT_STEPS },
])('DELETE /users/:id with AUTH_HARD_DELETE=$hard', ({ hard, env, steps }) => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300', ...env } })
  const removedAuth = hard ? 'gone' : 'blocked'

  it.each(STATES)('removes a %s user from the CRUD and deletes or blocks its auth user', async (state) => {
    const { userId, authUserId } = seedUser(stack.current, { state })
    const bystander = seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expectAuth(stack.current, authUserId, removedAuth)
    expect(crudUser(stack.current, bystander.userId)).toMatchObject({ __STATE__: 'PUBLIC' })
    expectAuth(stack.current, bystander.authUserId, 'unblocked')
    expect(stack.current.crud.requestsTo('DELETE', `/users/${userId}`)).toHaveLength(1)
    expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(0)
    if (hard) expectConsistent(stack.current)
  })

  it('forwards the platform headers to the CRUD and the auth service', async () => {
    const { userId, authUserId } = seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${userId}`, { headers: { miauserid: 'admin-1', 'x-request-id': 'req-del' } })
    expect(answer.status).toBe(204)
    const [crudDelete] = stack.current.crud.requestsTo('DELETE', `/users/${userId}`)
    expect(crudDelete?.headers).toMatchObject({ miauserid: 'admin-1', 'x-request-id': 'req-del' })
    const [authCall] = stack.current.auth0.requestsTo(hard ? 'DELETE' : 'PATCH', `/users/${authUserId}`)
    expect(authCall?.headers).toMatchObject({ miauserid: 'admin-1', 'x-request-id': 'req-del' })
  })

  it('treats an auth user that no longer exists (404) as removed', async () => {
    const { userId } = seedUser(stack.current, { auth: false, fields: { authUserId: 'auth0|000000000000000000000404' } })
    stack.current.auth0.injectFault({ path: '/users/auth0|000000000000000000000404', status: 404, times: Infinity })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expect(authCallsTo(stack.current).length).toBeGreaterThan(0)
  })

  it('makes no auth call for a user without authUserId', async () => {
    const { userId } = seedUser(stack.current, { auth: false })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })

  it('answers 404 for an unknown id and calls nothing else', async () => {
    seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${UNKNOWN_ID}`)
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${UNKNOWN_ID} not found` })
    expect(stack.current.crud.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /users/${UNKNOWN_ID}`])
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(1)
  })

  it('aborts the timer of an expiration in the future', async () => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId } = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(stack.current.timer.requestsTo('POST', '/abort').map((r) => r.body)).toEqual([{ expirationId }])
    expect(stack.current.timer.expiration(expirationId)?.expirationStatus).toEqual({ id: 2, description: 'aborted' })
  })

  it.each([
    ['an expiration in the past', -HOUR, true],
    ['no expirationId', HOUR, false],
  ])('does not call the Timer Service for %s', async (_case, offset, withId) => {
    const expiresAt = new Date(Date.now() + offset)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId } = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), ...(withId ? { expirationId } : {}) } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(0)
    expect(stack.current.timer.expiration(expirationId)?.expirationStatus.id).toBe(0)
  })

  it.each([
    ['a 500', { status: 500 }],
    ['a 404', { status: 404 }],
    ['a timeout', { hang: true }],
    ['a reset connection', { reset: true }],
  ])('ignores %s from the timer abort', async (_case, fault) => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId, authUserId } = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    stack.current.timer.injectFault({ method: 'POST', path: '/abort', ...fault })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(1)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expectAuth(stack.current, authUserId, removedAuth)
  })

  async function expectRetryFinishes(ids: { userId: string; authUserId: string }) {
    const retry = await stack.call('DELETE', `/users/${ids.userId}`)
    expect(retry.status).toBe(204)
    expect(crudUser(stack.current, ids.userId)).toBeUndefined()
    expectAuth(stack.current, ids.authUserId, removedAuth)
  }

  describe.each(steps)('when the $name fails', (step) => {
    it.each(FAULTS)('answers 500 on %s, leaves the user consistent, and a retry finishes', async (_case, fault, suffix) => {
      const ids = seedUser(stack.current)
      stack.current[step.peer].injectFault({ ...step.rule(ids), ...fault })
      const answer = await stack.call('DELETE', `/users/${ids.userId}`)
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while deleting user: ${step.call} ${suffix}` })
      expectConsistent(stack.current)
      expect(crudUser(stack.current, ids.userId)?.__STATE__).toBe(step.left.state)
      expectAuth(stack.current, ids.authUserId, step.left.auth)

      stack.current[step.peer].clearFaults()
      await expectRetryFinishes(ids)
    })
  })

  it(`answers 500 when any step times out (${steps.length} steps, one user each, side by side), leaving every user consistent`, async () => {
    const cases = steps.map((step) => {
      const ids = seedUser(stack.current)
      stack.current[step.peer].injectFault({ ...step.rule(ids), hang: true })
      return { step, ids }
    })
    const answers = await Promise.all(cases.map(({ ids }) => stack.call('DELETE', `/users/${ids.userId}`)))
    expectConsistent(stack.current)
    for (const [index, { step, ids }] of cases.entries()) {
      expect(answers[index]?.status, step.name).toBe(500)
      expect(answers[index]?.body, step.name).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while deleting user: ${step.call} ${TIMEOUT}` })
      expect(crudUser(stack.current, ids.userId)?.__STATE__, step.name).toBe(step.left.state)
      expectAuth(stack.current, ids.authUserId, step.left.auth)
    }
    for (const { ids } of cases) await expectRetryFinishes(ids)
  })
})

describe.each([
  { hard: true, env: {} },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' } },
])('DELETE /users/:id with AUTH_HARD_DELETE=$hard and the CRUD refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['crud'] })

  it('answers 500 and touches no auth user', async () => {
    const { userId, authUserId } = seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while deleting user: CRUD GET /users/:id failed: connection refused' })
    expectAuth(stack.current, authUserId, 'unblocked')
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe.each([
  { hard: true, env: {} },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' } },
])('DELETE /users/:id with AUTH_HARD_DELETE=$hard and the auth service refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['auth'] })

  it('answers 500 and leaves the CRUD user as it was', async () => {
    const { userId } = seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while deleting user: AUTH PATCH /users/:userID failed: connection refused' })
    expect(crudUser(stack.current, userId)).toMatchObject({ __STATE__: 'PUBLIC' })
    expect(stack.current.crud.requests.filter((r) => r.method !== 'GET')).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('still deletes a user without authUserId', async () => {
    const { userId } = seedUser(stack.current, { auth: false })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
  })
})

describe('DELETE /users/:id with the Timer Service refusing connections', () => {
  const stack = useStack({ unreachable: ['timer'] })

  it('still answers 204 for a user with a pending expiration', async () => {
    const { userId, authUserId } = seedUser(stack.current, { fields: { expirationDate: new Date(Date.now() + HOUR).toISOString(), expirationId: '0123456789abcdef0123abcd' } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expect(stack.current.auth0.getUser(authUserId)).toBeUndefined()
    expectConsistent(stack.current)
  })
})

describe('DELETE /users/:id without TIMER_SERVICE', () => {
  const stack = useStack({ env: { TIMER_SERVICE: undefined } })

  it('deletes a user with a pending expiration without calling the Timer Service', async () => {
    expect(stack.current.config.services.timer).toBeUndefined()
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId } = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(0)
    expect(stack.current.timer.expiration(expirationId)?.expirationStatus.id).toBe(0)
  })
})
