// PATCH /users/:id over real HTTP against the four emulators: the CRUD update operators, the
// auth, Rönd and Timer side effects with their order, the timer callback, and the 4xx answers
// that must leave every peer untouched. Peer failures are in users-patch-failures.test.ts.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'
import {
  LATER,
  MUCH_LATER,
  callLines,
  crudUser,
  seedPartnerGroup,
  seedUser,
  snapshot,
  traceCalls,
} from './users-patch-helpers.js'

describe('PATCH /users/:id', () => {
  const stack = useStack({ env: { TIMER_SERVICE_HEADERS: 'client-type,x-api-key' } })

  describe('CRUD update operators', () => {
    it('$set of custom fields answers 200 with the user as the CRUD returns it and calls no other peer', async () => {
      const user = await seedUser(stack.current)
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { name: 'Maria', age: 33 } } })
      expect(answer.status).toBe(200)
      const stored = crudUser(stack.current, user.userId)
      expect(answer.body).toEqual(stored)
      expect(answer.body).toMatchObject({ _id: user.userId, name: 'Maria', age: 33, surname: 'Rossi', authUserId: user.authUserId, __STATE__: 'PUBLIC' })
      expect(callLines(calls)).toEqual([`CRUD GET /users/${user.userId}`, `CRUD PATCH /users/${user.userId}`])
      expect(calls.find((call) => call.method === 'PATCH')?.body).toEqual({ $set: { name: 'Maria', age: 33 } })
      expectConsistent(stack.current)
    })

    it.each([
      ['$unset', { $unset: { age: true } }, { fields: { age: 40 } }, (doc: Record<string, unknown>) => expect(doc).not.toHaveProperty('age')],
      ['$push', { $push: { tags: 'vip' } }, { fields: { tags: ['new'] } }, (doc: Record<string, unknown>) => expect(doc.tags).toEqual(['new', 'vip'])],
      ['$push with $each', { $push: { tags: { $each: ['a', 'b'] } } }, {}, (doc: Record<string, unknown>) => expect(doc.tags).toEqual(['a', 'b'])],
      ['$addToSet', { $addToSet: { tags: 'new' } }, { fields: { tags: ['new'] } }, (doc: Record<string, unknown>) => expect(doc.tags).toEqual(['new'])],
      ['$pull', { $pull: { tags: 'old' } }, { fields: { tags: ['old', 'new', 'old'] } }, (doc: Record<string, unknown>) => expect(doc.tags).toEqual(['new'])],
      ['$pull with $in', { $pull: { tags: { $in: ['a', 'c'] } } }, { fields: { tags: ['a', 'b', 'c'] } }, (doc: Record<string, unknown>) => expect(doc.tags).toEqual(['b'])],
      ['$inc', { $inc: { age: 2 } }, { fields: { age: 40 } }, (doc: Record<string, unknown>) => expect(doc.age).toBe(42)],
      ['$mul', { $mul: { age: 2 } }, { fields: { age: 20 } }, (doc: Record<string, unknown>) => expect(doc.age).toBe(40)],
    ])('%s is applied by the CRUD', async (_operator, patch, seed, check) => {
      const user = await seedUser(stack.current, seed)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: patch })
      expect(answer.status).toBe(200)
      check(answer.body)
      expect(answer.body).toEqual(crudUser(stack.current, user.userId))
      expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    })

    it.each([
      ['$unset of the required name', { $unset: { name: true } }, {}, "body must have required property 'name'"],
      ['$set of a wrong type', { $set: { age: 'old' } }, {}, 'body.age must be number'],
      ['$set of an empty name', { $set: { name: '' } }, {}, 'body.name must NOT have fewer than 1 characters'],
      ['$set of a malformed email', { $set: { email: 'not-an-email' } }, {}, 'body.email must match format "email"'],
      ['$set of a malformed expirationDate', { $set: { expirationDate: 'tomorrow' } }, {}, 'body.expirationDate must match format "date-time"'],
      ['$push of a wrong item type', { $push: { tags: 5 } }, { fields: { tags: ['a'] } }, 'body.tags.1 must be string'],
      ['$addToSet of a wrong item type', { $addToSet: { roles: 7 } }, {}, 'body.roles.1 must be string'],
      ['$inc below the minimum', { $inc: { age: -50 } }, { fields: { age: 40 } }, 'body.age must be >= 0'],
      ['$set of a non-boolean blocked', { $set: { blocked: 'yes' } }, {}, 'body.blocked must be boolean'],
    ])('revalidates the result against the group: %s → 400, nothing changed', async (_case, patch, seed, message) => {
      const user = await seedUser(stack.current, { ...seed, expirationDate: LATER })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: patch })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'UMS_GROUP_SCHEMA_MISMATCH' })
      expect(snapshot(stack.current, user)).toEqual(before)
      expect(stack.current.crud.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    })
  })

  describe('auth service sync', () => {
    it('sends the auth service only the changed email and username', async () => {
      const user = await seedUser(stack.current, { email: 'old@example.com', username: 'old-name' })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, {
        json: { $set: { email: 'new@example.com', username: 'old-name', name: 'Luigi' } },
      })
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ email: 'new@example.com', username: 'old-name', name: 'Luigi' })
      const sent = stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`)
      expect(sent.map((request) => request.body)).toEqual([{ email: 'new@example.com' }])
      expect(stack.current.auth0.getUser(user.authUserId)).toMatchObject({ email: 'new@example.com', username: 'old-name' })
      expectConsistent(stack.current)
    })

    it('changes the username alone', async () => {
      const user = await seedUser(stack.current, { username: 'before' })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { username: 'after' } } })
      expect(answer.status).toBe(200)
      expect(stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`).map((request) => request.body)).toEqual([{ username: 'after' }])
      expect(stack.current.auth0.getUser(user.authUserId)?.username).toBe('after')
    })

    it('does not call the auth service when email and username are set to their current values', async () => {
      const user = await seedUser(stack.current, { email: 'same@example.com', username: 'same' })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { email: 'same@example.com', username: 'same' } } })
      expect(answer.status).toBe(200)
      expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    })

    it('blocked: true blocks the auth user before the CRUD says so', async () => {
      const user = await seedUser(stack.current)
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: true } } })
      expect(answer.status).toBe(200)
      expect(answer.body.blocked).toBe(true)
      expect(callLines(calls)).toEqual([`CRUD GET /users/${user.userId}`, `AUTH PATCH /users/${user.authUserId}`, `CRUD PATCH /users/${user.userId}`])
      expect(calls.find((call) => call.peer === 'AUTH')?.body).toEqual({ blocked: true })
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(true)
      expectConsistent(stack.current)
    })

    it('blocked: true is undone in the auth service when the CRUD patch then fails', async () => {
      const user = await seedUser(stack.current)
      stack.current.crud.injectFault({ method: 'PATCH', path: `/users/${user.userId}`, status: 500 })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: true } } })
      expect(answer.status).toBe(500)
      expect(stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`).map((request) => request.body)).toEqual([{ blocked: true }, { blocked: false }])
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(false)
    })

    it('blocked: false updates the CRUD first, then unblocks the auth user', async () => {
      const user = await seedUser(stack.current, { blocked: true })
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: false } } })
      expect(answer.status).toBe(200)
      expect(callLines(calls)).toEqual([`CRUD GET /users/${user.userId}`, `CRUD PATCH /users/${user.userId}`, `AUTH PATCH /users/${user.authUserId}`])
      expect(calls.find((call) => call.peer === 'AUTH')?.body).toEqual({ blocked: false })
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(false)
      expectConsistent(stack.current)
    })

    it('$unset of blocked on a blocked user unblocks the auth user', async () => {
      const user = await seedUser(stack.current, { blocked: true })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { blocked: true } } })
      expect(answer.status).toBe(200)
      expect(answer.body).not.toHaveProperty('blocked')
      expect(stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`).map((request) => request.body)).toEqual([{ blocked: false }])
    })

    it('blocked: false on a user without the flag does not call the auth service', async () => {
      const user = await seedUser(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: false } } })
      expect(answer.status).toBe(200)
      expect(answer.body.blocked).toBe(false)
      expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    })

    it('blocked: false on a TRASH user is stored but the auth user stays blocked', async () => {
      const user = await seedUser(stack.current, { blocked: true, state: 'TRASH' })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: false } } })
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ blocked: false, __STATE__: 'TRASH' })
      expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(true)
      expectConsistent(stack.current)
    })

    it('blocked: true on a TRASH user whose CRUD flag is false sends nothing to auth, and a failure never unblocks it', async () => {
      const user = await seedUser(stack.current, { blocked: false, authBlocked: true, state: 'TRASH' })
      const before = snapshot(stack.current, user)
      stack.current.crud.injectFault({ method: 'PATCH', path: `/users/${user.userId}`, status: 500 })
      const failed = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: true, name: 'X' } } })
      expect(failed.status).toBe(500)
      expect(snapshot(stack.current, user)).toEqual(before)
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(true)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: true } } })
      expect(answer.status).toBe(200)
      expect(stack.current.auth0.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
      expectConsistent(stack.current)
    })

    it('email, username and blocked together go to the auth service in one call, before the CRUD', async () => {
      const user = await seedUser(stack.current, { email: 'a@example.com', username: 'a' })
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { email: 'b@example.com', username: 'b', blocked: true } } })
      expect(answer.status).toBe(200)
      expect(callLines(calls)).toEqual([`CRUD GET /users/${user.userId}`, `AUTH PATCH /users/${user.authUserId}`, `CRUD PATCH /users/${user.userId}`])
      expect(calls.find((call) => call.peer === 'AUTH')?.body).toEqual({ email: 'b@example.com', username: 'b', blocked: true })
      expect(stack.current.auth0.getUser(user.authUserId)).toMatchObject({ email: 'b@example.com', username: 'b', blocked: true })
    })
  })

  describe('roles through Rönd', () => {
    it('revokes the subject before the CRUD patch, then grants the roles the CRUD stored', async () => {
      const user = await seedUser(stack.current, { roles: ['customer-basic'] })
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { roles: ['customer-premium', 'customer-basic'] } } })
      expect(answer.status).toBe(200)
      expect(answer.body.roles).toEqual(['customer-premium', 'customer-basic'])
      // The revoke goes beside the CRUD patch; the grant follows both.
      const lines = callLines(calls)
      expect(lines[0]).toBe(`CRUD GET /users/${user.userId}`)
      expect(lines.slice(1, 3).sort()).toEqual([`CRUD PATCH /users/${user.userId}`, 'ROND POST /revoke/bindings'].sort())
      expect(lines.slice(3)).toEqual(['ROND POST /grant/bindings'])
      const rond = calls.filter((call) => call.peer === 'ROND').map((call) => call.body)
      expect(rond).toEqual([{ subjects: [user.authUserId] }, { subjects: [user.authUserId], roles: ['customer-premium', 'customer-basic'] }])
      expect(stack.current.rond.rolesOf(user.authUserId)).toEqual(['customer-premium', 'customer-basic'])
      expect(stack.current.rond.bindings()).toHaveLength(1)
    })

    it('$push of a role revokes and grants the whole new set', async () => {
      const user = await seedUser(stack.current, { roles: ['customer-basic'] })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $push: { roles: 'customer-premium' } } })
      expect(answer.status).toBe(200)
      expect(stack.current.rond.requestsTo('POST', '/grant/bindings').map((request) => request.body)).toEqual([
        { subjects: [user.authUserId], roles: ['customer-basic', 'customer-premium'] },
      ])
      expect(stack.current.rond.rolesOf(user.authUserId)).toEqual(['customer-basic', 'customer-premium'])
    })

    it.each([
      ['$set of an empty list', { $set: { roles: [] } }],
      ['$unset', { $unset: { roles: true } }],
      ['$pull of the last role', { $pull: { roles: 'customer-basic' } }],
    ])('new empty roles (%s) → revoke only', async (_case, patch) => {
      const user = await seedUser(stack.current, { roles: ['customer-basic'] })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: patch })
      expect(answer.status).toBe(200)
      expect(stack.current.rond.requestsTo('POST', '/revoke/bindings').map((request) => request.body)).toEqual([{ subjects: [user.authUserId] }])
      expect(stack.current.rond.requestsTo('POST', '/grant/bindings')).toHaveLength(0)
      expect(stack.current.rond.rolesOf(user.authUserId)).toEqual([])
    })

    it.each([
      ['$push with $slice', { $push: { roles: { $each: ['customer-premium'], $slice: -1 } } }, ['customer-premium']],
      ['$pull with a $ne condition', { $pull: { roles: { $ne: 'customer-premium' } } }, ['customer-premium']],
      ['$pull with a $nin condition', { $pull: { roles: { $nin: ['customer-basic'] } } }, ['customer-basic']],
    ])('%s: Rönd gets the roles the CRUD stored', async (_case, patch, stored) => {
      const user = await seedUser(stack.current, { roles: ['customer-basic', 'customer-premium'] })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: patch })
      expect(answer.status).toBe(200)
      expect(answer.body.roles).toEqual(stored)
      expect(stack.current.rond.requestsTo('POST', '/revoke/bindings')).toHaveLength(1)
      expect(stack.current.rond.rolesOf(user.authUserId)).toEqual(stored)
    })

    it('does not call Rönd when the roles do not change', async () => {
      const user = await seedUser(stack.current, { roles: ['customer-basic'] })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { roles: ['customer-basic'], name: 'X' } } })
      expect(answer.status).toBe(200)
      expect(stack.current.rond.requests).toHaveLength(0)
    })
  })

  describe('expirationDate and the Timer Service', () => {
    it('set where there was none: schedules the expiry and stores its id', async () => {
      const user = await seedUser(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, {
        json: { $set: { expirationDate: LATER } },
        headers: { 'client-type': 'backoffice', 'x-api-key': 'k-1', 'x-other': 'no' },
      })
      expect(answer.status).toBe(200)
      const [timer] = stack.current.timer.expirations()
      expect(timer).toBeDefined()
      expect(answer.body).toMatchObject({ expirationDate: LATER, expirationId: timer!.expirationId })
      expect(crudUser(stack.current, user.userId)).toMatchObject({ expirationDate: LATER, expirationId: timer!.expirationId })
      expect(timer!.expirationStatus.description).toBe('pending')
      expect(timer!.expirationDate).toBe(LATER)
      expect(timer!.payload).toEqual({ $set: { blocked: true } })
      const ums = new URL(stack.current.url)
      expect(timer!.outputMode).toEqual({
        type: 'rest',
        method: 'patch',
        protocol: 'http',
        hostname: ums.hostname,
        port: Number(ums.port),
        path: `/users/${user.userId}`,
        headers: { 'client-type': 'backoffice', 'x-api-key': 'k-1' },
      })
      expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(0)
    })

    it('changed: schedules the new expiry, aborts the old one and replaces expirationId', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER })
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { expirationDate: MUCH_LATER } } })
      expect(answer.status).toBe(200)
      const timers = stack.current.timer.expirations()
      expect(timers.map((timer) => [timer.expirationId === user.expirationId, timer.expirationStatus.description, timer.expirationDate])).toEqual([
        [true, 'aborted', LATER],
        [false, 'pending', MUCH_LATER],
      ])
      expect(answer.body).toMatchObject({ expirationDate: MUCH_LATER, expirationId: timers[1]!.expirationId })
      expect(crudUser(stack.current, user.userId)).toMatchObject({ expirationDate: MUCH_LATER, expirationId: timers[1]!.expirationId })
      expect(calls.find((call) => call.path === '/abort')?.body).toEqual({ expirationId: user.expirationId })
      expect(callLines(calls)).toEqual([
        `CRUD GET /users/${user.userId}`,
        'TIMER POST /schedule',
        `CRUD PATCH /users/${user.userId}`,
        'TIMER POST /abort',
      ])
    })

    it('set to the same instant: the user keeps its timer, and the one scheduled while reading it is aborted', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { expirationDate: '2031-05-01T12:00:00+02:00' } } })
      expect(answer.status).toBe(200)
      expect(answer.body.expirationId).toBe(user.expirationId)
      expect(stack.current.timer.requestsTo('POST', '/schedule')).toHaveLength(1)
      const [abort] = stack.current.timer.requestsTo('POST', '/abort')
      const earlyId = (abort?.body as { expirationId?: string } | undefined)?.expirationId
      expect(earlyId).not.toBe(user.expirationId)
      expect(stack.current.timer.expiration(earlyId!)?.expirationStatus.description).toBe('aborted')
      expect(stack.current.timer.expiration(user.expirationId!)?.expirationStatus.description).toBe('pending')
    })

    it('$unset: aborts the old expiry and unsets expirationId', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { expirationDate: true } } })
      expect(answer.status).toBe(200)
      expect(answer.body).not.toHaveProperty('expirationDate')
      expect(answer.body).not.toHaveProperty('expirationId')
      const stored = crudUser(stack.current, user.userId)
      expect(stored).not.toHaveProperty('expirationDate')
      expect(stored).not.toHaveProperty('expirationId')
      expect(stack.current.timer.requestsTo('POST', '/abort').map((request) => request.body)).toEqual([{ expirationId: user.expirationId }])
      expect(stack.current.timer.requestsTo('POST', '/schedule')).toHaveLength(0)
      expect(stack.current.timer.expiration(user.expirationId!)?.expirationStatus.description).toBe('aborted')
    })

    it('set on a user whose date was stored without a timer: schedules, aborts nothing', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER, timer: false })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { expirationDate: MUCH_LATER } } })
      expect(answer.status).toBe(200)
      expect(stack.current.timer.requestsTo('POST', '/abort')).toHaveLength(0)
      const [timer] = stack.current.timer.expirations()
      expect(answer.body.expirationId).toBe(timer!.expirationId)
    })

    it('$unset of an expiry the Timer Service no longer knows (abort answers 404) still succeeds', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER, timer: false, fields: { expirationId: '0123456789abcdef01234567' } })
      // reset() does not restore the emulator's settings: put the default back whatever happens.
      stack.current.timer.configure({ unknownAbort: 404 })
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { expirationDate: true } } }).finally(() => {
        stack.current.timer.configure({ unknownAbort: 204 })
      })
      expect(answer.status).toBe(200)
      expect(answer.body).not.toHaveProperty('expirationId')
      const [abort] = stack.current.timer.requestsTo('POST', '/abort')
      expect(abort?.outcome).toBe(404)
      expect(abort?.body).toEqual({ expirationId: '0123456789abcdef01234567' })
    })

    it('the Timer callback blocks the user in the CRUD and in the auth service, with the replayed headers', async () => {
      const user = await seedUser(stack.current)
      const scheduled = await stack.call('PATCH', `/users/${user.userId}`, {
        json: { $set: { expirationDate: LATER } },
        headers: { 'client-type': 'backoffice', 'x-api-key': 'k-1' },
      })
      expect(scheduled.status).toBe(200)
      const expirationId = String(scheduled.body.expirationId)
      const fired = await stack.current.timer.fireNow(expirationId)
      expect(fired.expirationStatus.description).toBe('expired')
      expect(crudUser(stack.current, user.userId)).toMatchObject({ blocked: true, expirationId, expirationDate: LATER })
      expect(stack.current.auth0.getUser(user.authUserId)?.blocked).toBe(true)
      const [authCall] = stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`)
      expect(authCall?.body).toEqual({ blocked: true })
      expect(authCall?.headers).toMatchObject({ 'client-type': 'backoffice' })
      const [crudCall] = stack.current.crud.requestsTo('PATCH', `/users/${user.userId}`).slice(-1)
      expect(crudCall?.body).toEqual({ $set: { blocked: true } })
      expectConsistent(stack.current)
    })
  })

  describe('userGroup change', () => {
    it('validates against the new group: accepted when it fits', async () => {
      seedPartnerGroup(stack.current)
      const user = await seedUser(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { userGroup: 'partner', age: 30 }, $unset: { surname: true } } })
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ userGroup: 'partner', age: 30 })
      expect(answer.body).not.toHaveProperty('surname')
    })

    it('validates against the new group: 400 when it does not fit, nothing changed', async () => {
      seedPartnerGroup(stack.current)
      const user = await seedUser(stack.current, { fields: { age: 16 } })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { userGroup: 'partner' } } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'body.age must be >= 18', code: 'UMS_GROUP_SCHEMA_MISMATCH' })
      expect(snapshot(stack.current, user)).toEqual(before)
    })

    it('a field required only by the new group is not required by the old one', async () => {
      seedPartnerGroup(stack.current)
      const user = await seedUser(stack.current, { fields: { age: 20 } })
      const back = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { userGroup: 'partner' }, $unset: { name: true, surname: true } } })
      expect(back.status).toBe(200)
      const again = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { userGroup: 'customer' } } })
      expect(again.status).toBe(400)
      expect(again.body.message).toBe("body must have required property 'name'")
    })

    it('an unknown new userGroup → 400 Unknown userGroup', async () => {
      const user = await seedUser(stack.current)
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { userGroup: 'nope' } } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Unknown userGroup nope (known groups: customer)', code: 'UMS_UNKNOWN_GROUP' })
      expect(snapshot(stack.current, user)).toEqual(before)
    })
  })

  describe('a user without authUserId', () => {
    it('created with postponeAuthUserCreation: email, blocked and roles change only the CRUD', async () => {
      const created = await stack.call('POST', '/users/?postponeAuthUserCreation=true', {
        json: { userGroup: 'customer', name: 'Ada', surname: 'Lovelace', email: 'ada@example.com', roles: ['customer-basic'] },
      })
      expect(created.status).toBe(200)
      const userId = String(created.body._id)
      const calls = traceCalls(stack.current)
      const answer = await stack.call('PATCH', `/users/${userId}`, {
        json: { $set: { email: 'ada2@example.com', blocked: true, roles: ['customer-premium'] } },
      })
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ email: 'ada2@example.com', blocked: true, roles: ['customer-premium'] })
      expect(answer.body).not.toHaveProperty('authUserId')
      expect(calls.filter((call) => call.peer === 'AUTH' || call.peer === 'ROND')).toEqual([])
      expectConsistent(stack.current)
    })
  })

  describe('4xx answers change nothing', () => {
    it('unknown id → 404 with the standard body', async () => {
      const answer = await stack.call('PATCH', '/users/0123456789abcdef01234567', { json: { $set: { name: 'X' } } })
      expect(answer.status).toBe(404)
      expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'User 0123456789abcdef01234567 not found', code: 'UMS_USER_NOT_FOUND' })
      expect(stack.current.crud.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    })

    it.each([
      ['authUserId', { $set: { authUserId: 'auth0|other' } }, 'authUserId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['dotted authUserId', { $set: { 'authUserId.x': 1 } }, 'authUserId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['expirationId', { $set: { expirationId: 'x' } }, 'expirationId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$unset expirationId', { $unset: { expirationId: true } }, 'expirationId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['_id', { $set: { _id: '0123456789abcdef01234567' } }, '_id cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['__STATE__', { $set: { __STATE__: 'TRASH' } }, '__STATE__ cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$unset __STATE__', { $unset: { __STATE__: true } }, '__STATE__ cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$inc on a dotted forbidden path', { $inc: { 'expirationId.n': 1 } }, 'expirationId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$push authUserId', { $push: { authUserId: 'x' } }, 'authUserId cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$currentDate __STATE__', { $currentDate: { __STATE__: true } }, '__STATE__ cannot be modified', 'UMS_READ_ONLY_FIELD'],
      ['$set and $unset of one field', { $set: { blocked: true }, $unset: { blocked: true } }, 'body: the updates of blocked and blocked conflict', 'UMS_INVALID_UPDATE'],
      ['$set of a field and $push into it', { $set: { tags: ['x'] }, $push: { tags: 'y' } }, 'body: the updates of tags and tags conflict', 'UMS_INVALID_UPDATE'],
      ['$set of a field and of its sub-path', { $set: { name: 'x' }, $unset: { 'name.first': true } }, 'body: the updates of name and name.first conflict', 'UMS_INVALID_UPDATE'],
      ['unknown operator', { $rename: { name: 'first' } }, 'body.$rename is not a supported update operator', 'UMS_INVALID_UPDATE'],
      ['bare field', { name: { first: 'x' } }, 'body.name is not an update operator: expected $set, $unset, $inc, $mul, $currentDate, $push, $pull or $addToSet', 'UMS_INVALID_UPDATE'],
      ['bare field with a scalar value', { name: 'Mario' }, 'body.name is not an update operator: expected $set, $unset, $inc, $mul, $currentDate, $push, $pull or $addToSet', 'UMS_INVALID_UPDATE'],
      ['an operator beside a bare field', { $set: { name: 'Mario' }, surname: 'Rossi' }, 'body.surname is not an update operator: expected $set, $unset, $inc, $mul, $currentDate, $push, $pull or $addToSet', 'UMS_INVALID_UPDATE'],
      ['an empty object', {}, 'body must hold an update operator ($set, $unset, $inc, $mul, $currentDate, $push, $pull or $addToSet)', 'UMS_INVALID_UPDATE'],
    ])('%s → 400', async (_case, patch, message, code) => {
      const user = await seedUser(stack.current, { expirationDate: LATER })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: patch })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code })
      expect(snapshot(stack.current, user)).toEqual(before)
      expect(stack.current.crud.requests).toHaveLength(0)
    })

    it.each([
      ['a non-object operator value', { json: { $set: 'name' } }, 'body.$set must be object'],
      ['an array operator value', { json: { $set: ['name'] } }, 'body.$set must be object'],
      ['an array body', { json: [{ $set: { name: 'x' } }] }, 'body must be object'],
    ])('%s → 400', async (_case, options, message) => {
      const user = await seedUser(stack.current)
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, options)
      expect(answer.status).toBe(400)
      expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message })
      expect(snapshot(stack.current, user)).toEqual(before)
      expect(stack.current.crud.requests).toHaveLength(0)
    })

    it.each([
      ['an empty body', ''],
      ['malformed JSON', '{"$set":'],
    ])('%s with a JSON content type → 400', async (_case, raw) => {
      const user = await seedUser(stack.current)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { raw, headers: { 'content-type': 'application/json' } })
      expect(answer.status).toBe(400)
      expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' })
      expect(stack.current.crud.requests).toHaveLength(0)
    })

    it('$unset of userGroup → 400 without asking for a group named "undefined"', async () => {
      const user = await seedUser(stack.current)
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { userGroup: true } } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'body.userGroup must be a non-empty string', code: 'UMS_INVALID_UPDATE' })
      expect(snapshot(stack.current, user)).toEqual(before)
      expect(stack.current.crud.requestsTo('GET', '/ums-config/')).toHaveLength(0)
    })

    it('a field the CRUD collection does not declare → the CRUD 400 relayed naming the field, the auth block undone', async () => {
      const user = await seedUser(stack.current, { expirationDate: LATER })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { blocked: true, nickname: 'Super', expirationDate: MUCH_LATER } } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Error while updating user: CRUD PATCH /users/:id responded with a 400 status code: nickname is not a field of the collection',
        code: 'UMS_PEER_REFUSED',
      })
      const after = snapshot(stack.current, user)
      expect(after.timers.map((timer) => timer.status)).toEqual(['pending', 'aborted'])
      expect({ ...after, timers: before.timers }).toEqual(before)
      expect(stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`).map((request) => request.body)).toEqual([{ blocked: true }, { blocked: false }])
      expectConsistent(stack.current)
    })

    it('removing the email of a user of the auth service → 400', async () => {
      const user = await seedUser(stack.current)
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { email: true } } })
      expect(answer.status).toBe(400)
      expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'email cannot be removed from a user of the auth service', code: 'UMS_INVALID_UPDATE' })
      expect(snapshot(stack.current, user)).toEqual(before)
    })

    it('a duplicate email in the CRUD → 409 naming the field (not the CRUD 500), nothing changed anywhere', async () => {
      await seedUser(stack.current, { email: 'taken@example.com' })
      const user = await seedUser(stack.current, { email: 'mine@example.com', roles: ['customer-basic'], expirationDate: LATER })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, {
        json: { $set: { email: 'taken@example.com', roles: ['customer-premium'], expirationDate: MUCH_LATER } },
      })
      expect(answer.status).toBe(409)
      expect(answer.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: 'Error while updating user: CRUD PATCH /users/:id responded with a duplicate key error: email already exists',
        code: 'UMS_DUPLICATE_USER',
      })
      expect(answer.text).not.toContain('taken@example.com')
      const after = snapshot(stack.current, user)
      // The expiry scheduled for the new date was aborted again.
      expect(after.timers.slice(0, before.timers.length)).toEqual(before.timers)
      expect(after.timers.slice(before.timers.length).map((timer) => timer.status)).toEqual(['aborted'])
      expect({ ...after, timers: before.timers }).toEqual(before)
      expectConsistent(stack.current)
    })

    it('a duplicate email in the CRUD together with blocked: true → 409 and the auth user restored', async () => {
      await seedUser(stack.current, { email: 'taken@example.com', auth: false })
      const user = await seedUser(stack.current, { email: 'mine@example.com' })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { email: 'taken@example.com', blocked: true } } })
      expect(answer.status).toBe(409)
      expect(stack.current.auth0.requestsTo('PATCH', `/users/${user.authUserId}`).map((request) => request.body)).toEqual([
        { email: 'taken@example.com', blocked: true },
        { email: 'mine@example.com', blocked: false },
      ])
      expect(snapshot(stack.current, user)).toEqual(before)
      expectConsistent(stack.current)
    })

    it('an email taken only in the auth service → 409 naming the field and the CRUD change undone', async () => {
      stack.current.auth0.seedUser({ email: 'elsewhere@example.com', username: 'elsewhere', password: 'Secret-Pass1' })
      const user = await seedUser(stack.current, { email: 'mine@example.com' })
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { email: 'elsewhere@example.com' } } })
      expect(answer.status).toBe(409)
      expect(answer.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: 'Error while updating user: AUTH PATCH /users/:userID responded with a 400 status code: email already exists',
        code: 'UMS_DUPLICATE_USER',
      })
      expect(answer.text).not.toContain('elsewhere@example.com')
      expect(snapshot(stack.current, user)).toEqual(before)
    })

    it('a username taken only in the auth service → 409 naming the field and the CRUD change undone', async () => {
      stack.current.auth0.seedUser({ email: 'elsewhere@example.com', username: 'elsewhere', password: 'Secret-Pass1' })
      const user = await seedUser(stack.current)
      const before = snapshot(stack.current, user)
      const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { username: 'elsewhere' } } })
      expect(answer.status).toBe(409)
      expect(answer.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: 'Error while updating user: AUTH PATCH /users/:userID responded with a 400 status code: username already exists',
        code: 'UMS_DUPLICATE_USER',
      })
      expect(snapshot(stack.current, user)).toEqual(before)
    })
  })
})

describe('PATCH /users/:id without TIMER_SERVICE', () => {
  const stack = useStack({ env: { TIMER_SERVICE: undefined } })

  it('stores expirationDate and schedules nothing', async () => {
    const user = await seedUser(stack.current)
    const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { expirationDate: LATER } } })
    expect(answer.status).toBe(200)
    expect(answer.body.expirationDate).toBe(LATER)
    expect(answer.body).not.toHaveProperty('expirationId')
    expect(stack.current.timer.requests).toHaveLength(0)
  })

  it('unsets expirationDate and aborts nothing', async () => {
    const user = await seedUser(stack.current, { expirationDate: LATER, timer: false })
    const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $unset: { expirationDate: true } } })
    expect(answer.status).toBe(200)
    expect(answer.body).not.toHaveProperty('expirationDate')
    expect(stack.current.timer.requests).toHaveLength(0)
  })
})

describe('PATCH /users/:id with ROND_ENABLED=false', () => {
  const stack = useStack({ env: { ROND_ENABLED: 'false' } })

  it('stores the roles and calls no Rönd route', async () => {
    const user = await seedUser(stack.current, { roles: ['customer-basic'] })
    const answer = await stack.call('PATCH', `/users/${user.userId}`, { json: { $set: { roles: ['customer-premium'] } } })
    expect(answer.status).toBe(200)
    expect(answer.body.roles).toEqual(['customer-premium'])
    expect(stack.current.rond.requests).toHaveLength(0)
    expect(stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === user.userId)?.roles).toEqual(['customer-premium'])
  })
})
