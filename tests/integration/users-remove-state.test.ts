// POST /users/state over HTTP against the emulators, with AUTH_HARD_DELETE on and off: which users
// move and are counted (the CRUD's source-state rule), what happens to their auth users, paging over
// many users, and bad bodies. Failing steps are in users-remove-state-faults.test.ts.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'
import { HARD_DELETE_MODES, HOUR, authBlocked, authCallsTo, crudUser, scheduleTimer, seedUser, stateCalls } from './users-remove-helpers.js'

describe.each(HARD_DELETE_MODES)('POST /users/state with AUTH_HARD_DELETE=$hard', ({ hard, env }) => {
  const stack = useStack({ env })

  it('moves TRASH users to DELETED, skipping every other state, and deletes or blocks their auth users', async () => {
    const published = seedUser(stack.current, { state: 'PUBLIC' })
    const draft = seedUser(stack.current, { state: 'DRAFT' })
    const trashed = seedUser(stack.current, { state: 'TRASH' })
    const deleted = seedUser(stack.current, { state: 'DELETED', auth: false })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'DELETED' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(1)
    expect(stateCalls(stack.current)).toEqual([{ id: trashed.userId, stateTo: 'DELETED' }])
    // Never removed from the CRUD: only its state changes.
    expect(crudUser(stack.current, trashed.userId)).toMatchObject({ __STATE__: 'DELETED', authUserId: trashed.authUserId })
    expect(authBlocked(stack.current, trashed.authUserId)).toBe(hard ? undefined : true)
    expect(crudUser(stack.current, published.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, published.authUserId)).toBe(false)
    expect(crudUser(stack.current, draft.userId)?.__STATE__).toBe('DRAFT')
    expect(crudUser(stack.current, deleted.userId)?.__STATE__).toBe('DELETED')
    expect(authCallsTo(stack.current).every((r) => r.path === `/users/${encodeURIComponent(trashed.authUserId)}`)).toBe(true)
    expectConsistent(stack.current)
  })

  it('restores a DELETED user whose auth user is gone as a CRUD-only user', async () => {
    const gone = seedUser(stack.current, { state: 'DELETED' })
    stack.current.auth0.reset()
    const toTrash = await stack.call('POST', '/users/state', { json: [{ filter: { _id: gone.userId }, stateTo: 'TRASH' }] })
    expect(toTrash.body).toBe(1)
    expect(crudUser(stack.current, gone.userId)?.__STATE__).toBe('TRASH')
    expect(crudUser(stack.current, gone.userId)).not.toHaveProperty('authUserId')
    expectConsistent(stack.current)
  })

  it('publishes a DRAFT user whose auth user is gone as a CRUD-only user', async () => {
    const gone = seedUser(stack.current, { state: 'DRAFT' })
    stack.current.auth0.reset()
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { _id: gone.userId }, stateTo: 'PUBLIC' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(1)
    expect(crudUser(stack.current, gone.userId)).toMatchObject({ __STATE__: 'PUBLIC' })
    expect(crudUser(stack.current, gone.userId)).not.toHaveProperty('authUserId')
    expectConsistent(stack.current)
  })

  it('moves PUBLIC and DRAFT users to TRASH and blocks them; TRASH users are not counted', async () => {
    const published = seedUser(stack.current, { state: 'PUBLIC' })
    const draft = seedUser(stack.current, { state: 'DRAFT', blocked: false })
    const trashed = seedUser(stack.current, { state: 'TRASH' })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(2)
    for (const user of [published, draft, trashed]) {
      expect(crudUser(stack.current, user.userId)?.__STATE__).toBe('TRASH')
      expect(authBlocked(stack.current, user.authUserId)).toBe(true)
    }
    expect(stateCalls(stack.current).map((c) => c.id).sort()).toEqual([published.userId, draft.userId].sort())
    expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//).map((r) => r.body)).toEqual([{ blocked: true }, { blocked: true }])
    expectConsistent(stack.current)
  })

  it('moves DRAFT users to PUBLIC and unblocks them; PUBLIC and TRASH users are not counted', async () => {
    const published = seedUser(stack.current, { state: 'PUBLIC' })
    const draft = seedUser(stack.current, { state: 'DRAFT' })
    const trashed = seedUser(stack.current, { state: 'TRASH' })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'PUBLIC' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(1)
    expect(crudUser(stack.current, draft.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, draft.authUserId)).toBe(false)
    expect(crudUser(stack.current, trashed.userId)?.__STATE__).toBe('TRASH')
    expect(authBlocked(stack.current, trashed.authUserId)).toBe(true)
    expect(authBlocked(stack.current, published.authUserId)).toBe(false)
    expect(stateCalls(stack.current)).toEqual([{ id: draft.userId, stateTo: 'PUBLIC' }])
    expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//).map((r) => r.body)).toEqual([{ blocked: false }])
    expectConsistent(stack.current)
  })

  it('keeps a user blocked in the CRUD blocked in auth when it is published again', async () => {
    const blocked = seedUser(stack.current, { state: 'DRAFT', fields: { blocked: true } })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { _id: blocked.userId }, stateTo: 'PUBLIC' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(1)
    expect(crudUser(stack.current, blocked.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, blocked.authUserId)).toBe(true)
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })

  it('moves PUBLIC and TRASH users to DRAFT, blocking them; DELETED users are not counted', async () => {
    const published = seedUser(stack.current, { state: 'PUBLIC' })
    const trashed = seedUser(stack.current, { state: 'TRASH' })
    const deleted = seedUser(stack.current, { state: 'DELETED', auth: false })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'DRAFT' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(2)
    for (const user of [published, trashed]) {
      expect(crudUser(stack.current, user.userId)?.__STATE__).toBe('DRAFT')
      expect(authBlocked(stack.current, user.authUserId)).toBe(true)
    }
    expect(crudUser(stack.current, deleted.userId)?.__STATE__).toBe('DELETED')
    expectConsistent(stack.current)
  })

  it('moves only the users the filter matches', async () => {
    const target = seedUser(stack.current, { fields: { name: 'Luigi' } })
    const other = seedUser(stack.current, { fields: { name: 'Peach' } })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Luigi' }, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(1)
    expect(crudUser(stack.current, target.userId)?.__STATE__).toBe('TRASH')
    expect(authBlocked(stack.current, target.authUserId)).toBe(true)
    expect(crudUser(stack.current, other.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, other.authUserId)).toBe(false)
  })

  it('runs several commands in order and sums what each moved', async () => {
    const first = seedUser(stack.current)
    const second = seedUser(stack.current)
    const third = seedUser(stack.current, { state: 'DRAFT' })
    const answer = await stack.call('POST', '/users/state', {
      json: [
        { filter: { _id: first.userId }, stateTo: 'TRASH' },
        { filter: { _id: first.userId }, stateTo: 'DELETED' },
        { filter: { _id: second.userId }, stateTo: 'DELETED' },
        { filter: { _id: third.userId }, stateTo: 'PUBLIC' },
      ],
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(3)
    expect(stateCalls(stack.current)).toEqual([
      { id: first.userId, stateTo: 'TRASH' },
      { id: first.userId, stateTo: 'DELETED' },
      { id: third.userId, stateTo: 'PUBLIC' },
    ])
    expect(crudUser(stack.current, first.userId)?.__STATE__).toBe('DELETED')
    expect(authBlocked(stack.current, first.authUserId)).toBe(hard ? undefined : true)
    expect(crudUser(stack.current, second.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, second.authUserId)).toBe(false)
    expect(crudUser(stack.current, third.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, third.authUserId)).toBe(false)
    expectConsistent(stack.current)
  })

  it('makes no auth call for users without authUserId', async () => {
    const crudOnly = seedUser(stack.current, { auth: false })
    const toTrash = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'TRASH' }] })
    const toDeleted = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'DELETED' }] })
    expect([toTrash.body, toDeleted.body]).toEqual([1, 1])
    expect(crudUser(stack.current, crudOnly.userId)?.__STATE__).toBe('DELETED')
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })

  it('answers 0 when nothing matches', async () => {
    seedUser(stack.current)
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Nobody' }, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(0)
    expect(stateCalls(stack.current)).toHaveLength(0)
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })

  it('aborts the pending expiry timer of a user moved to DELETED', async () => {
    const expiresAt = new Date(Date.now() + HOUR)
    const expirationId = await scheduleTimer(stack.current, expiresAt)
    const user = seedUser(stack.current, { state: 'TRASH', fields: { expirationDate: expiresAt.toISOString(), expirationId } })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { _id: user.userId }, stateTo: 'DELETED' }] })
    expect(answer.body).toBe(1)
    expect(stack.current.timer.expiration(expirationId)?.expirationStatus.id).toBe(2)
  })

  it('pages through every matching user (450 without auth users, 3 with)', async () => {
    const docs = Array.from({ length: 450 }, (_, index) => ({ userGroup: 'customer', name: 'Bulk', surname: `N${index}` }))
    const bulkIds = stack.current.crud.seed(USERS_ENDPOINT, docs)
    const withAuth = [seedUser(stack.current, { fields: { name: 'Bulk' } }), seedUser(stack.current, { fields: { name: 'Bulk' } }), seedUser(stack.current, { fields: { name: 'Bulk' } })]
    const bystander = seedUser(stack.current, { fields: { name: 'Other' } })

    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Bulk' }, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(453)
    // Pages of 200 in `_id` order, each starting after the last `_id` of the previous one.
    const pages = stack.current.crud.requestsTo('GET', '/users/').map((r) => new URLSearchParams(r.rawQuery))
    expect(pages.map((q) => [q.get('_l'), q.get('_s')])).toEqual([
      ['200', '_id'],
      ['200', '_id'],
      ['200', '_id'],
    ])
    const sortedIds = [...bulkIds, ...withAuth.map((u) => u.userId)].sort()
    expect(pages.map((q) => JSON.parse(q.get('_q')!))).toEqual([
      { name: 'Bulk' },
      { $and: [{ name: 'Bulk' }, { _id: { $gt: sortedIds[199] } }] },
      { $and: [{ name: 'Bulk' }, { _id: { $gt: sortedIds[399] } }] },
    ])
    const moved = stateCalls(stack.current).map((c) => c.id)
    expect(new Set(moved).size).toBe(453)
    expect(new Set(moved)).toEqual(new Set([...bulkIds, ...withAuth.map((u) => u.userId)]))
    const states = stack.current.crud.documents(USERS_ENDPOINT).filter((doc) => doc.name === 'Bulk').map((doc) => doc.__STATE__)
    expect(states.every((state) => state === 'TRASH')).toBe(true)
    for (const user of withAuth) expect(authBlocked(stack.current, user.authUserId)).toBe(true)
    expect(crudUser(stack.current, bystander.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, bystander.authUserId)).toBe(false)
    expectConsistent(stack.current)

    const again = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Bulk' }, stateTo: 'TRASH' }] })
    expect(again.body).toBe(0)
  })

  it.each([
    ['an empty array', [], 'body must NOT have fewer than 1 items'],
    ['an object instead of an array', { filter: {}, stateTo: 'TRASH' }, 'body must be array'],
    ['an unknown stateTo', [{ filter: {}, stateTo: 'ARCHIVED' }], 'body.0.stateTo must be equal to one of the allowed values (PUBLIC, DRAFT, TRASH, DELETED)'],
    ['a missing filter', [{ stateTo: 'TRASH' }], "body.0 must have required property 'filter'"],
    ['a missing stateTo', [{ filter: {} }], "body.0 must have required property 'stateTo'"],
    ['a filter that is not an object', [{ filter: 'all', stateTo: 'TRASH' }], 'body.0.filter must be object'],
    ['an extra key', [{ filter: {}, stateTo: 'TRASH', force: true }], 'body.0 must NOT have additional properties (property "force")'],
    ['a bad second command', [{ filter: {}, stateTo: 'TRASH' }, { filter: {}, stateTo: 'trash' }], 'body.1.stateTo must be equal to one of the allowed values (PUBLIC, DRAFT, TRASH, DELETED)'],
  ])('rejects %s with 400 and changes nothing', async (_case, body, message) => {
    const user = seedUser(stack.current)
    const answer = await stack.call('POST', '/users/state', { json: body })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
    expect(stack.current.crud.requests).toHaveLength(0)
    expect(stack.current.auth0.requests).toHaveLength(0)
    expect(crudUser(stack.current, user.userId)?.__STATE__).toBe('PUBLIC')
    expect(authBlocked(stack.current, user.authUserId)).toBe(false)
  })

  it.each([
    ['an unknown operator', { name: { $bogus: 1 } }, 'Unsupported operator: $bogus'],
    ['an _id that is no ObjectId', { _id: 'not-an-id' }, 'Invalid objectId'],
  ])('relays a CRUD 400 for a filter it refuses (%s) with the CRUD`s reason, as GET /users/ does, changing nothing', async (_case, filter, reason) => {
    const user = seedUser(stack.current)
    const answer = await stack.call('POST', '/users/state', { json: [{ filter, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: `Error while changing state of user: CRUD GET /users/ responded with a 400 status code: ${reason}`, code: 'UMS_PEER_REFUSED' })
    const read = await stack.call('GET', `/users/?_q=${encodeURIComponent(JSON.stringify(filter))}`)
    expect(read.status).toBe(400)
    expect(read.body.message).toBe(reason)
    expect(crudUser(stack.current, user.userId)?.__STATE__).toBe('PUBLIC')
    expect(authCallsTo(stack.current)).toHaveLength(0)
  })
})
