// POST /users/:id/soft-delete over HTTP against the emulators, with AUTH_HARD_DELETE on and off: the
// walk to DELETED, the auth delete or block, resuming after a partial failure, and every step
// failing (the safety order: access removed first).
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'
import {
  AUTH_DELETE,
  HARD_DELETE_MODES,
  HOUR,
  UNKNOWN_ID,
  WALK_TO_DELETED,
  authCallsTo,
  expectUser,
  itFailsAtEachStep,
  scheduleTimer,
  seedUser,
  stateCalls,
  stateTo,
  type AuthState,
} from './users-remove-helpers.js'

describe.each([
  { hard: true, env: {}, steps: [...WALK_TO_DELETED, AUTH_DELETE] },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' }, steps: WALK_TO_DELETED },
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
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${UNKNOWN_ID} not found`, code: 'UMS_USER_NOT_FOUND' })
    expect(stack.current.crud.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /users/${UNKNOWN_ID}`])
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
  })

  it.each([
    ['aborts', undefined],
    ['ignores a failure to abort', { status: 500 }],
  ] as const)('%s a pending expiry timer', async (_case, fault) => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const ids = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), expirationId } })
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
      code: 'UMS_UPSTREAM_FAILED',
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

  itFailsAtEachStep({
    stack,
    steps,
    send: (ids) => stack.call('POST', `/users/${ids.userId}/soft-delete`),
    error: 'Error while soft deleting user',
    expectRetry: async (ids) => {
      const retry = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
      expect(retry.status).toBe(204)
      expectUser(stack.current, ids, 'DELETED', removedAuth)
      expectConsistent(stack.current)
    },
  })
})

describe('POST /users/:id/soft-delete with the CRUD refusing connections', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it('answers 500 and touches no auth user', async () => {
    const ids = seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while soft deleting user: CRUD GET /users/:id failed: connection refused', code: 'UMS_UPSTREAM_FAILED' })
    expectUser(stack.current, ids, 'PUBLIC', 'unblocked')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe.each(HARD_DELETE_MODES)('POST /users/:id/soft-delete with AUTH_HARD_DELETE=$hard and the auth service refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['auth'] })

  it('answers 500 and leaves the CRUD state unchanged', async () => {
    const ids = seedUser(stack.current)
    const answer = await stack.call('POST', `/users/${ids.userId}/soft-delete`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while soft deleting user: AUTH PATCH /users/:userID failed: connection refused', code: 'UMS_UPSTREAM_FAILED' })
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
