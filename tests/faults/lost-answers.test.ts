// Writes whose answer is lost and whose read back fails too: ums cannot tell whether they landed.
// The write counts as failed, an undo that is right either way is run all the same, and the case
// is counted (ums_unconfirmed_writes_total) and logged at error level.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { LogCapture, useStack, type StackHandle } from '../helpers/stack.js'
import { LATER, authView, crudView, seedUser } from '../integration/users-patch-helpers.js'
import { expectConsistent } from '../helpers/consistency.js'
import { expectReconciled } from './oracle.js'
import { TIMEOUT_MS } from './routes.js'

async function unconfirmed(stack: StackHandle, peer: string, verdict: string): Promise<number> {
  const answer = await stack.call('GET', '/-/metrics')
  const line = answer.text.split('\n').find((candidate) => candidate.startsWith(`ums_unconfirmed_writes_total{peer="${peer}",verdict="${verdict}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

describe('a lost answer whose read back fails too', () => {
  const log = new LogCapture()
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS), RECONCILE_RECENT_WINDOW_MS: '0', LOG_LEVEL: 'warn' }, logStream: log })

  it('PATCH: the CRUD patch counts as failed and the CRUD user is restored, whether it landed or not', async () => {
    const user = await seedUser(stack.current, { roles: ['customer-basic'], expirationDate: LATER })
    const before = { crud: crudView(stack.current, user.userId), auth: authView(stack.current, user.authUserId) }
    const unknownBefore = await unconfirmed(stack, 'CRUD', 'unknown')
    // The patch lands but its answer is lost; the read back is refused with a 500.
    stack.current.crud.injectFault({ method: 'PATCH', path: `/users/${user.userId}`, lostAfterApplying: 'reset' })
    stack.current.crud.injectFault({ method: 'GET', path: `/users/${user.userId}`, status: 500, match: () => stack.current.crud.requestsTo('PATCH', `/users/${user.userId}`).length > 0 })
    const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { email: 'landed@example.com', name: 'Landed' } } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while updating user: CRUD PATCH /users/:id failed: connection reset')
    // The patch had landed: the undo put the CRUD user back, and the auth user never changed.
    expect(crudView(stack.current, user.userId)).toEqual(before.crud)
    expect(authView(stack.current, user.authUserId)).toEqual(before.auth)
    expectConsistent(stack.current)
    expect(await unconfirmed(stack, 'CRUD', 'unknown')).toBe(unknownBefore + 1)
    expect(log.records.some((record) => record.level === 50 && String(record.msg).includes('could not be read back'))).toBe(true)
  })

  it('POST /users/: an insert that cannot be found again leaves a CRUD-only user, which reconciliation completes', async () => {
    const landedBefore = await unconfirmed(stack, 'CRUD', 'unknown')
    stack.current.crud.injectFault({ method: 'POST', path: '/users/', lostAfterApplying: 'hang' })
    // The search for the inserted user is refused.
    stack.current.crud.injectFault({ method: 'GET', path: '/users/', status: 503 })
    const answer = await stack.call('POST', '/users/', {
      json: { userGroup: 'customer', name: 'Lost', surname: 'Insert', email: 'lost.insert@example.com', roles: ['customer-basic'], expirationDate: LATER },
    })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe(`Error while creating user: CRUD POST /users/ failed: timeout after ${TIMEOUT_MS} ms`)
    expect(await unconfirmed(stack, 'CRUD', 'unknown')).toBe(landedBefore + 1)
    // Nothing else was done: no auth user, no binding, no timer; the inserted user stays, CRUD-only.
    expect(stack.current.auth0.listUsers()).toEqual([])
    expect(stack.current.rond.bindings()).toEqual([])
    const [stray] = stack.current.crud.documents(USERS_ENDPOINT)
    expect(stray).toMatchObject({ email: 'lost.insert@example.com', __STATE__: 'PUBLIC' })
    expect(stray!.authUserId).toBeUndefined()
    // It is a consistent CRUD-only user once reconciliation has scheduled its expiry.
    await expectReconciled(stack, true, new Set())
  })

  it('counts a lost answer read back as landed, and one read back as not landed', async () => {
    const landed = await unconfirmed(stack, 'CRUD', 'landed')
    const notLanded = await unconfirmed(stack, 'CRUD', 'not_landed')
    const body = { userGroup: 'customer', name: 'Once', surname: 'Only', email: 'once@example.com', username: 'once' }
    stack.current.crud.injectFault({ method: 'POST', path: '/users/', lostAfterApplying: 'hang' })
    const created = await stack.call('POST', '/users/', { json: body })
    expect(created.status).toBe(200)
    // Found again, not inserted twice.
    expect(stack.current.crud.documents(USERS_ENDPOINT).filter((doc) => doc.email === 'once@example.com')).toEqual([expect.objectContaining({ _id: created.body._id })])
    stack.current.crud.injectFault({ method: 'POST', path: '/users/', reset: true })
    const failed = await stack.call('POST', '/users/', { json: { ...body, email: 'twice@example.com', username: 'twice' } })
    expect(failed.status).toBe(500)
    expect(await unconfirmed(stack, 'CRUD', 'landed')).toBe(landed + 1)
    expect(await unconfirmed(stack, 'CRUD', 'not_landed')).toBe(notLanded + 1)
  })
})
