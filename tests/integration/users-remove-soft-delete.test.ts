// POST /users/:id/soft-delete over HTTP against the emulators, with AUTH_HARD_DELETE on and off: the
// walk to DELETED, the auth delete or block, resuming after a partial failure, and every step
// failing (SPEC §5 safety order).
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'

type State = 'PUBLIC' | 'DRAFT' | 'TRASH' | 'DELETED'
type AuthState = 'unblocked' | 'blocked' | 'gone'
const UNKNOWN_ID = '0123456789abcdef01234567'
const HOUR = 3_600_000

let sequence = 0

/** A CRUD user (and its auth user unless `auth: false`); TRASH/DRAFT/DELETED users start blocked. */
function seedUser(stack: Stack, options: { state?: State; auth?: boolean; blocked?: boolean; fields?: Record<string, unknown> } = {}) {
  sequence += 1
  const state = options.state ?? 'PUBLIC'
  const email = `soft-user-${sequence}@example.com`
  const authUser = options.auth === false ? undefined : stack.auth0.seedUser({ email, username: `soft-user-${sequence}`, password: 'Secret-Pass1', blocked: options.blocked ?? state !== 'PUBLIC' })
  const [userId] = stack.crud.seed(USERS_ENDPOINT, [
    { userGroup: 'customer', name: 'Mario', surname: 'Rossi', email, __STATE__: state, ...(authUser ? { authUserId: authUser.user_id } : {}), ...options.fields },
  ])
  return { userId: userId!, authUserId: authUser?.user_id ?? '' }
}

function expectUser(stack: Stack, ids: { userId: string; authUserId: string }, state: State, auth: AuthState) {
  expect(stack.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === ids.userId)?.__STATE__).toBe(state)
  const authUser = stack.auth0.getUser(ids.authUserId)
  if (auth === 'gone') expect(authUser).toBeUndefined()
  else expect(authUser?.blocked ?? false).toBe(auth === 'blocked')
}

function stateCalls(stack: Stack, userId: string): unknown[] {
  return stack.crud.requestsTo('POST', `/users/${userId}/state`).map((r) => (r.body as { stateTo?: unknown }).stateTo)
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
  left: [State, AuthState]
}

const STEPS: Step[] = [
  { name: 'CRUD read', peer: 'crud', rule: (ids) => ({ method: 'GET', path: `/users/${ids.userId}` }), call: 'CRUD GET /users/:id', left: ['PUBLIC', 'unblocked'] },
  { name: 'auth block', peer: 'auth0', rule: (ids) => ({ method: 'PATCH', path: `/users/${ids.authUserId}` }), call: 'AUTH PATCH /users/:userID', left: ['PUBLIC', 'unblocked'] },
  { name: 'CRUD move to TRASH', peer: 'crud', rule: (ids) => ({ method: 'POST', path: `/users/${ids.userId}/state`, match: stateTo('TRASH') }), call: 'CRUD POST /users/:id/state', left: ['PUBLIC', 'blocked'] },
  { name: 'CRUD move to DELETED', peer: 'crud', rule: (ids) => ({ method: 'POST', path: `/users/${ids.userId}/state`, match: stateTo('DELETED') }), call: 'CRUD POST /users/:id/state', left: ['TRASH', 'blocked'] },
]
const AUTH_DELETE: Step = { name: 'auth delete', peer: 'auth0', rule: (ids) => ({ method: 'DELETE', path: `/users/${ids.authUserId}` }), call: 'AUTH DELETE /users/:userID', left: ['DELETED', 'blocked'] }

describe.each([
  { hard: true, env: {}, steps: [...STEPS, AUTH_DELETE] },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' }, steps: STEPS },
])('POST /users/:id/soft-delete with AUTH_HARD_DELETE=$hard', ({ hard, env, steps }) => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300', ...env } })
  const removedAuth: AuthState = hard ? 'gone' : 'blocked'

  it.each([
    ['PUBLIC', ['TRASH', 'DELETED']],
    ['DRAFT', ['TRASH', 'DELETED']],
    ['TRASH', ['DELETED']],
    ['DELETED', []],
  ] as const)('walks a %s user to DELETED and deletes or blocks its auth user', async (state, calls) => {
    // Unblocked even when not PUBLIC, so that the block is visible whatever the state.
    const ids = seedUser(stack.current, { state, blocked: false })
    const bystander = seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(stateCalls(stack.current, ids.userId)).toEqual(calls)
    expectUser(stack.current, ids, 'DELETED', removedAuth)
    expectUser(stack.current, bystander, 'PUBLIC', 'unblocked')
    expect(stack.current.crud.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('blocks the auth user before the CRUD document leaves PUBLIC', async () => {
    const ids = seedUser(stack.current)
    await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    const block = stack.current.auth0.requestsTo('PATCH', `/users/${ids.authUserId}`)
    expect(block.map((r) => r.body)).toEqual([{ blocked: true }])
    const [firstState] = stack.current.crud.requestsTo('POST', `/users/${ids.userId}/state`)
    expect(block[0]!.at.getTime()).toBeLessThanOrEqual(firstState!.at.getTime())
  })

  it('makes no auth call for a user without authUserId', async () => {
    const ids = seedUser(stack.current, { auth: false })
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(204)
    expect(stateCalls(stack.current, ids.userId)).toEqual(['TRASH', 'DELETED'])
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })

  it('treats an auth user that no longer exists (404) as removed', async () => {
    const ids = seedUser(stack.current, { state: 'TRASH', auth: false, fields: { authUserId: 'auth0|000000000000000000000404' } })
    stack.current.auth0.injectFault({ path: '/users/auth0|000000000000000000000404', status: 404, times: Infinity })
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(204)
    expect(stateCalls(stack.current, ids.userId)).toEqual(['DELETED'])
    expect(authCallsTo(stack.current).length).toBeGreaterThan(0)
  })

  it('answers 404 for an unknown id and calls nothing else', async () => {
    seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${UNKNOWN_ID}/soft-delete`)
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${UNKNOWN_ID} not found` })
    expect(stack.current.crud.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /users/${UNKNOWN_ID}`])
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
  })

  it.each([
    ['aborts', undefined],
    ['ignores a failure to abort', { status: 500 }],
  ] as const)('%s a pending expiry timer', async (_case, fault) => {
    const schedule = await request(`${stack.current.timer.url}/schedule`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        startDate: new Date().toISOString(),
        expirationIntervalMs: HOUR,
        applicantService: 'tests',
        outputMode: { type: 'rest', method: 'patch', protocol: 'http', hostname: '127.0.0.1', port: 9, path: '/users/x' },
      }),
    })
    const { expirationId } = (await schedule.body.json()) as { expirationId: string }
    const ids = seedUser(stack.current, { fields: { expirationDate: new Date(Date.now() + HOUR).toISOString(), expirationId } })
    if (fault) stack.current.timer.injectFault({ method: 'POST', path: '/abort', ...fault })
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(204)
    expect(stack.current.timer.requestsTo('POST', '/abort').map((r) => r.body)).toEqual([{ expirationId }])
    expect(stack.current.timer.expiration(expirationId)?.expirationStatus.id).toBe(fault ? 0 : 2)
    expectUser(stack.current, ids, 'DELETED', removedAuth)
  })

  it('resumes from TRASH after the move to DELETED failed', async () => {
    const ids = seedUser(stack.current)
    stack.current.crud.injectFault({ method: 'POST', path: `/users/${ids.userId}/state`, match: stateTo('DELETED'), status: 500 })
    const failed = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(failed.status).toBe(500)
    expect(failed.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Error while soft deleting user: CRUD POST /users/:id/state responded with a 500 status code',
    })
    expectUser(stack.current, ids, 'TRASH', 'blocked')
    expectConsistent(stack.current)

    stack.current.crud.clearRequests()
    const resumed = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(resumed.status).toBe(204)
    expect(stateCalls(stack.current, ids.userId)).toEqual(['DELETED'])
    expectUser(stack.current, ids, 'DELETED', removedAuth)
    expectConsistent(stack.current)
  })

  async function expectRetryFinishes(ids: { userId: string; authUserId: string }) {
    const retry = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(retry.status).toBe(204)
    expectUser(stack.current, ids, 'DELETED', removedAuth)
    expectConsistent(stack.current)
  }

  describe.each(steps)('when the $name fails', (step) => {
    it.each(FAULTS)('answers 500 on %s, leaves the user consistent, and a retry finishes', async (_case, fault, suffix) => {
      const ids = seedUser(stack.current)
      stack.current[step.peer].injectFault({ ...step.rule(ids), ...fault })
      const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while soft deleting user: ${step.call} ${suffix}` })
      expectConsistent(stack.current)
      expectUser(stack.current, ids, ...step.left)

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
    const answers = await Promise.all(cases.map(({ ids }) => stack.call('POST', `/users/${ids.userId}/soft-delete`)))
    expectConsistent(stack.current)
    for (const [index, { step, ids }] of cases.entries()) {
      expect(answers[index]?.status, step.name).toBe(500)
      expect(answers[index]?.body, step.name).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while soft deleting user: ${step.call} ${TIMEOUT}` })
      expectUser(stack.current, ids, ...step.left)
    }
    for (const { ids } of cases) await expectRetryFinishes(ids)
  })
})

describe('POST /users/:id/soft-delete with the CRUD refusing connections', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it('answers 500 and touches no auth user', async () => {
    const ids = seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while soft deleting user: CRUD GET /users/:id failed: connection refused' })
    expectUser(stack.current, ids, 'PUBLIC', 'unblocked')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe.each([
  { hard: true, env: {} },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' } },
])('POST /users/:id/soft-delete with AUTH_HARD_DELETE=$hard and the auth service refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['auth'] })

  it('answers 500 and leaves the CRUD state unchanged', async () => {
    const ids = seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while soft deleting user: AUTH PATCH /users/:userID failed: connection refused' })
    expectUser(stack.current, ids, 'PUBLIC', 'unblocked')
    expect(stack.current.crud.requests.filter((r) => r.method !== 'GET')).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('still soft-deletes a user without authUserId', async () => {
    const ids = seedUser(stack.current, { auth: false })
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(204)
    expect(stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === ids.userId)?.__STATE__).toBe('DELETED')
  })
})
