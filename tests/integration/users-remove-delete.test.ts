// DELETE /users/:id over HTTP against the emulators, with AUTH_HARD_DELETE on and off: the happy
// paths, the Timer Service abort, and every step failing (the safety order: access removed first).
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { LogCapture, useStack } from '../helpers/stack.js'
import { waitForJob, waitUntil } from '../helpers/wait.js'
import {
  AUTH_BLOCK,
  AUTH_DELETE,
  CRUD_READ,
  HARD_DELETE_MODES,
  HOUR,
  UNKNOWN_ID,
  authCallsTo,
  crudUser,
  expectAuth,
  itFailsAtEachStep,
  scheduleTimer,
  seedUser,
  type State,
  type Step,
} from './users-remove-helpers.js'

const STATES: State[] = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']

// The auth user deleted beside the CRUD delete: should the auth delete fail, the document is put
// back as it was; a CRUD delete that fails beside a deleted auth user leaves the document DELETED.
const HARD_STEPS: Step[] = [
  CRUD_READ,
  { ...AUTH_DELETE, left: ['PUBLIC', 'unblocked'] },
  { name: 'CRUD delete', peer: 'crud', rule: ({ userId }) => ({ method: 'DELETE', path: `/users/${userId}` }), call: 'CRUD DELETE /users/:id', left: ['DELETED', 'gone'] },
]

const SOFT_STEPS: Step[] = [
  CRUD_READ,
  AUTH_BLOCK,
  { name: 'CRUD delete', peer: 'crud', rule: ({ userId }) => ({ method: 'DELETE', path: `/users/${userId}` }), call: 'CRUD DELETE /users/:id', left: ['PUBLIC', 'blocked'] },
]

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

  it(hard ? 'revokes the Rönd bindings of the deleted auth user, and only those' : 'keeps the Rönd bindings of the blocked auth user', async () => {
    const { userId, authUserId } = seedUser(stack.current)
    const bystander = seedUser(stack.current)
    stack.current.rond.seedBinding({ subjects: [authUserId], roles: ['customer-basic'] })
    stack.current.rond.seedBinding({ subjects: [bystander.authUserId], roles: ['customer-basic'] })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    // The revoke follows the answer.
    const revoked = () => stack.current.rond.requestsTo('POST', '/revoke/bindings').some((request) => request.outcome !== undefined && JSON.stringify(request.body).includes(authUserId))
    if (hard) await waitUntil(revoked, 'the revoke')
    expect(stack.current.rond.rolesOf(authUserId)).toEqual(hard ? [] : ['customer-basic'])
    expect(stack.current.rond.rolesOf(bystander.authUserId)).toEqual(['customer-basic'])
    // Earlier tests' revokes, which follow their answers, may land in this test's log.
    const ours = stack.current.rond.requestsTo('POST', '/revoke/bindings').filter((request) => [authUserId, bystander.authUserId].some((id) => JSON.stringify(request.body).includes(id)))
    expect(ours.map((request) => request.body)).toEqual(hard ? [{ subjects: [authUserId] }] : [])
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
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: `User ${UNKNOWN_ID} not found`, code: 'UMS_USER_NOT_FOUND' })
    expect(stack.current.crud.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /users/${UNKNOWN_ID}`])
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expect(stack.current.timer.requests).toHaveLength(0)
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(1)
  })

  it('aborts the timer of an expiration in the future, once the user is gone', async () => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId } = seedUser(stack.current, { fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    // The abort follows the answer.
    await waitUntil(() => stack.current.timer.requestsTo('POST', '/abort').length > 0 && stack.current.timer.requests.every((r) => r.outcome !== undefined), 'the abort')
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
    await waitUntil(() => stack.current.timer.requestsTo('POST', '/abort').length > 0, 'the abort')
    expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(1)
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expectAuth(stack.current, authUserId, removedAuth)
  })

  itFailsAtEachStep({
    stack,
    steps,
    send: (ids) => stack.call('DELETE', `/users/${ids.userId}`),
    error: 'Error while deleting user',
    expectRetry: async (ids) => {
      const retry = await stack.call('DELETE', `/users/${ids.userId}`)
      expect(retry.status).toBe(204)
      expect(crudUser(stack.current, ids.userId)).toBeUndefined()
      expectAuth(stack.current, ids.authUserId, removedAuth)
    },
  })
})

describe.each(HARD_DELETE_MODES)('DELETE /users/:id with AUTH_HARD_DELETE=$hard and the CRUD refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['crud'] })

  it('answers 500 and touches no auth user', async () => {
    const { userId, authUserId } = seedUser(stack.current)
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while deleting user: CRUD GET /users/:id failed: connection refused', code: 'UMS_UPSTREAM_FAILED' })
    expectAuth(stack.current, authUserId, 'unblocked')
    expect(authCallsTo(stack.current)).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe.each(HARD_DELETE_MODES)('DELETE /users/:id with AUTH_HARD_DELETE=$hard and the auth service refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['auth'] })

  // The CRUD delete runs beside the auth call: the document is put back when the auth user stays.
  it.each(STATES)('answers 500 and puts the %s CRUD user back as it was', async (state) => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const { userId } = seedUser(stack.current, { state, fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    stack.current.timer.clearRequests()
    const before = crudUser(stack.current, userId)!
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    // Hard delete deletes the auth user at once; without it, the auth user is blocked.
    const call = env.AUTH_HARD_DELETE === 'false' ? 'AUTH PATCH /users/:userID' : 'AUTH DELETE /users/:userID'
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while deleting user: ${call} failed: connection refused`, code: 'UMS_UPSTREAM_FAILED' })
    const withoutMetadata = (document: Record<string, unknown>) => Object.fromEntries(Object.entries(document).filter(([field]) => !['creatorId', 'createdAt', 'updaterId', 'updatedAt'].includes(field)))
    expect(withoutMetadata(crudUser(stack.current, userId)!)).toEqual(withoutMetadata(before))
    expect(stack.current.timer.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })

  it('still deletes a user without authUserId', async () => {
    const { userId } = seedUser(stack.current, { auth: false })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(204)
    expect(crudUser(stack.current, userId)).toBeUndefined()
  })
})

describe('DELETE /users/:id with the document not put back either', () => {
  const logs = new LogCapture()
  const stack = useStack({ env: { LOG_LEVEL: 'info', RECONCILE_RECENT_WINDOW_MS: '0' }, logStream: logs })

  it('logs the failed undo with both ids, and reconciliation deletes the auth user left behind', async () => {
    const { userId, authUserId } = seedUser(stack.current)
    stack.current.auth0.injectFault({ method: 'DELETE', path: `/users/${authUserId}`, status: 500 })
    stack.current.crud.injectFault({ method: 'POST', path: '/users/upsert-one', status: 500 })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while deleting user: AUTH DELETE /users/:userID responded with a 500 status code')
    expect(crudUser(stack.current, userId)).toBeUndefined()
    expectAuth(stack.current, authUserId, 'unblocked')
    const undoFailures = logs.records.filter((record) => record.msg === 'rollback step failed: manual cleanup needed')
    expect(undoFailures).toEqual([expect.objectContaining({ level: 50, undoStep: 'restore the CRUD user', userId, authUserId })])

    const started = await stack.call('POST', '/jobs/reconcile', { json: { dryRun: false, deleteOrphanAuthUsers: true } })
    const { body: job } = await waitForJob(stack.current.url, `/jobs/reconcile/${started.body.jobId}`)
    expect(job.findings).toEqual([expect.objectContaining({ check: 'orphan-auth-user', authUserId, action: 'repaired' })])
    expectAuth(stack.current, authUserId, 'gone')
    expectConsistent(stack.current)
  })

  it('counts a copy its _id does not reach as no restore', async () => {
    logs.lines.length = 0
    const { userId, authUserId } = seedUser(stack.current)
    stack.current.auth0.injectFault({ method: 'DELETE', path: `/users/${authUserId}`, status: 500 })
    // The CRUD answers as though it had inserted the document, and did not.
    stack.current.crud.injectFault({ method: 'POST', path: '/users/upsert-one', status: 200, body: { _id: userId, __STATE__: 'PUBLIC' } })
    const answer = await stack.call('DELETE', `/users/${userId}`)
    expect(answer.status).toBe(500)
    const undoFailures = logs.records.filter((record) => record.msg === 'rollback step failed: manual cleanup needed')
    expect(undoFailures).toEqual([expect.objectContaining({ undoStep: 'restore the CRUD user', userId, authUserId, err: expect.objectContaining({ message: expect.stringContaining('not where its _id finds it') }) })])
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
