// POST /users/ with each step after the CRUD insert failing (500, timeout, reset, refused
// connection): the answer names the failing call and every earlier step is undone.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { LogCapture, useStack } from '../helpers/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import { MARIO as CUSTOMER, USER_BY_ID, inOneHour, setting, stepFaults, type Step } from './users-create-helpers.js'

/** Mario with the basic role only. */
const MARIO = { ...CUSTOMER, roles: ['customer-basic'] }

type Peer = Step['peer']

const STEPS: Step[] = [
  { name: 'auth create', peer: 'auth0', rule: { method: 'POST', path: '/users' }, call: 'AUTH POST /users' },
  { name: 'CRUD $set authUserId', peer: 'crud', rule: { method: 'PATCH', path: USER_BY_ID, match: setting('authUserId') }, call: 'CRUD PATCH /users/:id' },
  { name: 'Rönd grant', peer: 'rond', rule: { method: 'POST', path: '/grant/bindings' }, call: 'ROND POST /grant/bindings' },
  { name: 'timer schedule', peer: 'timer', rule: { method: 'POST', path: '/schedule' }, call: 'TIMER POST /schedule' },
  { name: 'CRUD $set expirationId', peer: 'crud', rule: { method: 'PATCH', path: USER_BY_ID, match: setting('expirationId') }, call: 'CRUD PATCH /users/:id' },
  { name: 'change-password email', peer: 'auth0', rule: { method: 'POST', path: '/change-password' }, call: 'AUTH POST /change-password' },
]

const CASES = stepFaults(STEPS)

/** The steps of the last round, which run side by side with the change-password email. */
const BESIDE_EMAIL = new Set(['CRUD $set authUserId', 'Rönd grant', 'CRUD $set expirationId'])

/**
 * Nothing left behind: no CRUD user, no auth user, no binding, no live timer; and no email, unless
 * the failing step ran side by side with it (an email cannot be taken back).
 */
function expectNothingLeft(stack: Stack, failedStep?: string): void {
  expect(stack.crud.documents(USERS_ENDPOINT)).toEqual([])
  expect(stack.auth0.listUsers()).toEqual([])
  expect(stack.rond.bindings()).toEqual([])
  for (const expiration of stack.timer.expirations()) expect(expiration.expirationStatus.description).toBe('aborted')
  if (failedStep !== undefined && BESIDE_EMAIL.has(failedStep)) expect(stack.auth0.outbox.length).toBeLessThanOrEqual(1)
  else expect(stack.auth0.outbox).toEqual([])
  expectConsistent(stack)
}

function peerOf(stack: Stack, peer: Peer) {
  return stack[peer]
}

describe('POST /users/ with a failing step', () => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300' } })

  it.each(CASES)('$step.name answering $fault: 500 and everything undone', async ({ step, rule, suffix }) => {
    peerOf(stack.current, step.peer).injectFault({ ...step.rule, ...rule })
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate: inOneHour() } })
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: `Error while creating user: ${step.call} ${suffix}`,
      code: 'UMS_UPSTREAM_FAILED',
    })
    expectNothingLeft(stack.current, step.name)
    // The fault hit a real step: the CRUD insert happened and was undone.
    expect(stack.current.crud.requestsTo('POST', '/users/')).toHaveLength(1)
    expect(stack.current.crud.requestsTo('DELETE', USER_BY_ID)).toHaveLength(1)
  })

  it('aborts the timer and revokes the binding it had made when the email fails last', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/change-password', status: 500 })
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate: inOneHour() } })
    expect(answer.status).toBe(500)
    const [expiration] = stack.current.timer.expirations()
    expect(expiration?.expirationStatus.description).toBe('aborted')
    expect(stack.current.timer.requestsTo('POST', '/abort')[0]?.body).toEqual({ expirationId: expiration?.expirationId })
    const [authCreate] = stack.current.auth0.requestsTo('POST', '/users')
    expect(authCreate?.outcome).toBe(201)
    expect(stack.current.rond.requestsTo('POST', '/revoke/bindings')).toHaveLength(1)
    expect(stack.current.auth0.requestsTo('DELETE', /^\/users\//)).toHaveLength(1)
    expectNothingLeft(stack.current)
  })

  it('treats a CRUD 404 on $set authUserId (user gone meanwhile) as a failure and deletes the auth user', async () => {
    stack.current.crud.injectFault({ method: 'PATCH', path: USER_BY_ID, match: setting('authUserId'), status: 404 })
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD PATCH /users/:id responded with a 404 status code')
    expectNothingLeft(stack.current, 'CRUD $set authUserId')
  })

  it('answers 500 naming the ums-config read when the CRUD fails before anything is written', async () => {
    stack.current.crud.injectFault({ method: 'GET', path: '/ums-config/', status: 503 })
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, userGroup: 'uncached-group' } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD GET /ums-config/ responded with a 503 status code')
    expect(stack.current.crud.requestsTo('POST', '/users/')).toHaveLength(0)
    expectNothingLeft(stack.current)
  })

  it('answers 500 naming the CRUD insert when it fails', async () => {
    stack.current.crud.injectFault({ method: 'POST', path: '/users/', status: 500 })
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD POST /users/ responded with a 500 status code')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expectNothingLeft(stack.current)
  })
})

describe.each([
  { peer: 'auth' as const, call: 'AUTH POST /users' },
  { peer: 'rond' as const, call: 'ROND POST /grant/bindings' },
  { peer: 'timer' as const, call: 'TIMER POST /schedule' },
])('POST /users/ with $peer refusing connections', ({ peer, call }) => {
  const stack = useStack({ unreachable: [peer] })

  it('answers 500 "connection refused" and leaves nothing behind', async () => {
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, expirationDate: inOneHour() } })
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: `Error while creating user: ${call} failed: connection refused`,
      code: 'UMS_UPSTREAM_FAILED',
    })
    expect(stack.current.crud.requestsTo('POST', '/users/')).toHaveLength(1)
    expectNothingLeft(stack.current, peer === 'rond' ? 'Rönd grant' : undefined)
  })
})

describe('POST /users/ with the CRUD refusing connections', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it('answers 500 naming the group lookup', async () => {
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD GET /ums-config/ failed: connection refused')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expectNothingLeft(stack.current)
  })
})

describe('POST /users/ with an undo failing too', () => {
  const logs = new LogCapture()
  const stack = useStack({ env: { LOG_LEVEL: 'info' }, logStream: logs })

  function rollbackErrors() {
    return logs.records.filter((record) => record.msg === 'rollback step failed: manual cleanup needed')
  }

  it('logs the failed undo at error level with both ids and still runs the other undos', async () => {
    logs.lines.length = 0
    stack.current.rond.injectFault({ method: 'POST', path: '/grant/bindings', status: 500 })
    stack.current.auth0.injectFault({ method: 'DELETE', path: /^\/users\//, status: 500 })
    const answer = await stack.call('POST', '/users/', { json: { ...MARIO, password: 'Given-Pass1' } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: ROND POST /grant/bindings responded with a 500 status code')

    const [orphan] = stack.current.auth0.listUsers()
    expect(orphan).toBeDefined()
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toEqual([])
    const [deleteCall] = stack.current.crud.requestsTo('DELETE', USER_BY_ID)
    expect(deleteCall).toBeDefined()
    const userId = decodeURIComponent(deleteCall!.path.split('/').pop()!)

    const [record, ...others] = rollbackErrors()
    expect(others).toEqual([])
    expect(record).toMatchObject({ level: 50, undoStep: 'delete the auth user', userId, authUserId: orphan!.user_id })
    expect(logs.lines.join('\n')).not.toContain('Given-Pass1')
  })

  it('logs the auth user id too when storing it on the CRUD user is what failed', async () => {
    logs.lines.length = 0
    stack.current.crud.injectFault({ method: 'PATCH', path: USER_BY_ID, match: setting('authUserId'), status: 500 })
    stack.current.auth0.injectFault({ method: 'DELETE', path: /^\/users\//, status: 500 })
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: CRUD PATCH /users/:id responded with a 500 status code')

    const [orphan] = stack.current.auth0.listUsers()
    expect(orphan).toBeDefined()
    const userId = decodeURIComponent(stack.current.crud.requestsTo('DELETE', USER_BY_ID)[0]!.path.split('/').pop()!)
    const [record, ...others] = rollbackErrors()
    expect(others).toEqual([])
    expect(record).toMatchObject({ level: 50, undoStep: 'delete the auth user', userId, authUserId: orphan!.user_id })
  })

  it('logs both ids when the undo of a registration fails', async () => {
    const created = await stack.call('POST', '/users/?postponeAuthUserCreation=true', { json: MARIO })
    expect(created.status).toBe(200)
    logs.lines.length = 0
    stack.current.crud.injectFault({ method: 'PATCH', path: USER_BY_ID, match: setting('authUserId'), status: 500 })
    stack.current.auth0.injectFault({ method: 'DELETE', path: /^\/users\//, status: 500 })
    const answer = await stack.call('POST', '/users/register', { json: { _id: created.body._id } })
    expect(answer.status).toBe(500)

    const [orphan] = stack.current.auth0.listUsers()
    expect(orphan).toBeDefined()
    const [record, ...others] = rollbackErrors()
    expect(others).toEqual([])
    expect(record).toMatchObject({ level: 50, undoStep: 'delete the auth user', userId: created.body._id, authUserId: orphan!.user_id })
  })

  it('logs a failed CRUD delete with the user id', async () => {
    logs.lines.length = 0
    stack.current.auth0.injectFault({ method: 'POST', path: '/users', status: 500 })
    stack.current.crud.injectFault({ method: 'DELETE', path: USER_BY_ID, status: 500 })
    const answer = await stack.call('POST', '/users/', { json: MARIO })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while creating user: AUTH POST /users responded with a 500 status code')
    const [left] = stack.current.crud.documents(USERS_ENDPOINT)
    const [record, ...others] = rollbackErrors()
    expect(others).toEqual([])
    expect(record).toMatchObject({ level: 50, undoStep: 'delete the CRUD user', userId: left?._id })
  })
})
