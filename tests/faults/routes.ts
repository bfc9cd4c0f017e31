// The rows of the fault matrix: every multi-step route, the peer calls it makes in order, and what
// each call's failure leads to. A call fails one of five ways (FAULTS); unless it says otherwise,
// the route then answers the standard 500 naming that call, with every earlier step undone.
import type { FastifyRequest } from 'fastify'
import type { FaultRule, RecordedRequest } from '../../src/sandbox/emulator-kit.js'
import { CUSTOMER_GROUP, UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import type { Answer, StackHandle } from '../helpers/stack.js'
import { csvOf, uploadCsv } from '../helpers/upload.js'
import { LATER, MUCH_LATER, PASSWORD, clearRequestLogs, seedUser } from '../integration/users-patch-helpers.js'

export type Peer = 'crud' | 'auth0' | 'rond' | 'timer'
export type FaultName = '500' | 'timeout' | 'refused' | 'reset' | 'applied, then timed out'

export const TIMEOUT_MS = 300

/**
 * How each fault is made, how the 500 message ends, and the outcome the peer's request log shows
 * for the faulted call (none for a refused connection: the request never arrives).
 */
export const FAULTS: Array<{ name: FaultName; rule: Partial<FaultRule>; suffix: string; logged?: RecordedRequest['outcome'] }> = [
  { name: '500', rule: { status: 500 }, suffix: 'responded with a 500 status code', logged: 500 },
  { name: 'timeout', rule: { hang: true }, suffix: `failed: timeout after ${TIMEOUT_MS} ms`, logged: 'hang' },
  // Made by the peer going down (see matrix.test.ts and jobs.test.ts).
  { name: 'refused', rule: {}, suffix: 'failed: connection refused' },
  { name: 'reset', rule: { reset: true }, suffix: 'failed: connection reset', logged: 'reset' },
  { name: 'applied, then timed out', rule: { lostAfterApplying: 'hang' }, suffix: `failed: timeout after ${TIMEOUT_MS} ms`, logged: 'hang' },
]

/** What one case works on, seeded before the request. */
export interface Seeded {
  group: string
  userId?: string
  authUserId?: string
  email?: string
  /** Auth users without a CRUD user before the request (the route's input). */
  unlinked?: string[]
}

export interface Call {
  name: string
  peer: Peer
  rule: (seeded: Seeded) => Pick<FaultRule, 'method' | 'path' | 'match'>
  /** The call as the 500 message names it. */
  call: string
  /** Faults after which the route still succeeds (a lost write read back as landed, a repeated idempotent one). */
  succeedsUnder?: FaultName[]
  /**
   * Faults after which something is left for reconciliation to repair: the peer refusing
   * connections from this call on also refuses the undo of an earlier step on it.
   */
  leavesUnder?: FaultName[]
  /**
   * The route has calls to this peer in flight side by side: when the peer goes down, any of them
   * may be the one that fails first, refused or cut.
   */
  concurrent?: boolean
}

export interface Row {
  route: string
  /** `Error while <action> user`. */
  action: string
  /** The success status. */
  success: number
  seed: (stack: Stack) => Promise<Seeded>
  send: (stack: StackHandle, seeded: Seeded) => Promise<Answer>
  calls: Call[]
}

export const ALL_FAULTS: FaultName[] = FAULTS.map((fault) => fault.name)
/** Lost writes ums reads back: found to have landed, the route carries on. */
const READ_BACK: FaultName[] = ['applied, then timed out']
/** Idempotent writes ums sends again when their answer is lost. */
const REPEATED: FaultName[] = ['timeout', 'reset', 'applied, then timed out']

let sequence = 0

/** A group of its own per case, so ums's group cache never spares the group read. */
function seedGroup(stack: Stack): string {
  sequence += 1
  const group = `faults-${sequence}`
  stack.crud.seed(UMS_CONFIG_ENDPOINT, [{ ...CUSTOMER_GROUP, userGroup: group }])
  return group
}

const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString()
const bodyOf = (request: FastifyRequest) => (request.body ?? {}) as Record<string, any>
const setting = (field: string) => (request: FastifyRequest) => typeof bodyOf(request).$set === 'object' && field in bodyOf(request).$set
const queryHas = (text: string) => (request: FastifyRequest) => decodeURIComponent(request.url).includes(text)
const USER_BY_ID = /^\/users\/[^/]+$/

const GROUP_READ: Call = { name: 'group read', peer: 'crud', rule: (s) => ({ method: 'GET', path: `${UMS_CONFIG_ENDPOINT}/`, match: queryHas(s.group) }), call: `CRUD GET ${UMS_CONFIG_ENDPOINT}/` }
const USER_READ: Call = { name: 'user read', peer: 'crud', rule: (s) => ({ method: 'GET', path: `/users/${s.userId}` }), call: 'CRUD GET /users/:id' }
const CRUD_INSERT: Call = { name: 'CRUD insert', peer: 'crud', rule: () => ({ method: 'POST', path: '/users/' }), call: 'CRUD POST /users/', succeedsUnder: READ_BACK }
const AUTH_CREATE: Call = { name: 'auth create', peer: 'auth0', rule: () => ({ method: 'POST', path: '/users' }), call: 'AUTH POST /users', succeedsUnder: READ_BACK }
const SET_AUTH_ID: Call = { name: 'CRUD $set authUserId', peer: 'crud', rule: () => ({ method: 'PATCH', path: USER_BY_ID, match: setting('authUserId') }), call: 'CRUD PATCH /users/:id', succeedsUnder: READ_BACK }
const GRANT: Call = { name: 'Rönd grant', peer: 'rond', rule: () => ({ method: 'POST', path: '/grant/bindings' }), call: 'ROND POST /grant/bindings' }
const SCHEDULE: Call = { name: 'timer schedule', peer: 'timer', rule: () => ({ method: 'POST', path: '/schedule' }), call: 'TIMER POST /schedule' }
const SET_EXPIRATION_ID: Call = { name: 'CRUD $set expirationId', peer: 'crud', rule: () => ({ method: 'PATCH', path: USER_BY_ID, match: setting('expirationId') }), call: 'CRUD PATCH /users/:id', succeedsUnder: READ_BACK }
const EMAIL: Call = { name: 'change-password email', peer: 'auth0', rule: () => ({ method: 'POST', path: '/change-password' }), call: 'AUTH POST /change-password' }

const create: Row = {
  route: 'POST /users/',
  action: 'creating',
  success: 200,
  seed: async (stack) => ({ group: seedGroup(stack) }),
  send: (stack, s) =>
    stack.call('POST', '/users/', {
      json: { userGroup: s.group, name: 'Mario', surname: 'Rossi', email: `create-${s.group}@example.com`, username: `create-${s.group}`, roles: ['customer-basic'], groups: ['customers'], expirationDate: inOneHour() },
    }),
  // The auth user and the timer side by side, then the link, the grant and the email side by side.
  calls: [
    GROUP_READ,
    CRUD_INSERT,
    AUTH_CREATE,
    SCHEDULE,
    // The CRUD user's delete is refused too: a CRUD-only user is left, its expiry timer missing.
    { ...SET_AUTH_ID, name: 'CRUD $set authUserId and expirationId', leavesUnder: ['refused'] },
    GRANT,
    // The auth user's delete is refused too: an orphan auth user is left.
    { ...EMAIL, leavesUnder: ['refused'] },
  ],
}

const selfRegister: Row = {
  route: 'POST /users/self-register',
  action: 'registering',
  success: 202,
  seed: async (stack) => ({ group: seedGroup(stack) }),
  // No password: the change-password email is the "set your password" notification.
  send: (stack, s) =>
    stack.call('POST', '/users/self-register', { json: { userGroup: s.group, name: 'Peach', surname: 'Toadstool', email: `sign-up-${s.group}@example.com`, username: `sign-up-${s.group}` } }),
  calls: [
    GROUP_READ,
    CRUD_INSERT,
    AUTH_CREATE,
    // The CRUD user's delete is refused too: a CRUD-only user is left, which is consistent (it
    // has no expiry to enforce) and can be activated later.
    SET_AUTH_ID,
    GRANT,
    // The auth user's delete is refused too: an orphan auth user is left.
    { ...EMAIL, leavesUnder: ['refused'] },
  ],
}

const withId: Row = {
  route: 'POST /users/with-id',
  action: 'creating',
  success: 200,
  seed: async (stack) => {
    const group = seedGroup(stack)
    const authUser = stack.auth0.seedUser({ email: `with-id-${group}@example.com`, username: `with-id-${group}`, password: PASSWORD, created_at: '2026-01-01T00:00:00.000Z' })
    return { group, authUserId: authUser.user_id, unlinked: [authUser.user_id] }
  },
  send: (stack, s) =>
    stack.call('POST', '/users/with-id', {
      json: { userGroup: s.group, name: 'Mario', surname: 'Rossi', email: `with-id-${s.group}@example.com`, authUserId: s.authUserId, roles: ['customer-basic'], groups: ['customers'], expirationDate: inOneHour() },
    }),
  calls: [
    GROUP_READ,
    { name: 'auth read', peer: 'auth0', rule: (s) => ({ method: 'GET', path: '/users', match: queryHas(s.authUserId!) }), call: 'AUTH GET /users' },
    { name: 'CRUD lookup', peer: 'crud', rule: (s) => ({ method: 'GET', path: '/users/', match: queryHas(s.authUserId!) }), call: 'CRUD GET /users/' },
    CRUD_INSERT,
    { name: 'auth groups', peer: 'auth0', rule: (s) => ({ method: 'PATCH', path: `/users/${s.authUserId}` }), call: 'AUTH PATCH /users/:userID', succeedsUnder: READ_BACK },
    SCHEDULE,
    // The CRUD user's delete is refused too: it is left without its timer, its roles revoked and
    // its auth user's groups put back.
    { ...SET_EXPIRATION_ID, leavesUnder: ['refused'] },
    GRANT,
  ],
}

const register: Row = {
  route: 'POST /users/register',
  action: 'registering',
  success: 204,
  seed: async (stack) => {
    const group = seedGroup(stack)
    const seeded = await seedUser(stack, { auth: false, roles: ['customer-basic'], email: `register-${group}@example.com`, username: `register-${group}`, fields: { userGroup: group, groups: ['customers'] } })
    return { group, userId: seeded.userId }
  },
  send: (stack, s) => stack.call('POST', '/users/register', { json: { _id: s.userId } }),
  // The auth user's delete is refused too: an orphan auth user is left.
  calls: [USER_READ, GROUP_READ, AUTH_CREATE, SET_AUTH_ID, GRANT, { ...EMAIL, leavesUnder: ['refused'] }],
}

const patch: Row = {
  route: 'PATCH /users/:id',
  action: 'updating',
  success: 200,
  seed: async (stack) => {
    const group = seedGroup(stack)
    const seeded = await seedUser(stack, { roles: ['customer-basic'], expirationDate: LATER, email: `patch-${group}@example.com`, username: `patch-${group}`, fields: { userGroup: group, groups: ['customers'] } })
    return { group, userId: seeded.userId, authUserId: seeded.authUserId }
  },
  send: (stack, s) =>
    stack.call('PATCH', `/users/${s.userId}`, {
      json: { $set: { email: `patched-${s.group}@example.com`, roles: ['customer-premium'], expirationDate: MUCH_LATER }, $addToSet: { groups: 'vip' } },
    }),
  // The user read and the new timer side by side; the revoke beside the CRUD patch; then the auth
  // update, the grant and the old timer's abort side by side.
  calls: [
    USER_READ,
    SCHEDULE,
    GROUP_READ,
    { name: 'Rönd revoke', peer: 'rond', rule: () => ({ method: 'POST', path: '/revoke/bindings' }), call: 'ROND POST /revoke/bindings', succeedsUnder: REPEATED },
    { name: 'CRUD patch', peer: 'crud', rule: (s) => ({ method: 'PATCH', path: `/users/${s.userId}` }), call: 'CRUD PATCH /users/:id', succeedsUnder: READ_BACK },
    { name: 'auth update', peer: 'auth0', rule: (s) => ({ method: 'PATCH', path: `/users/${s.authUserId}` }), call: 'AUTH PATCH /users/:userID', succeedsUnder: READ_BACK },
    // Rönd refuses the re-grant of the previous roles too: the user is left with no binding.
    { ...GRANT, leavesUnder: ['refused'] },
    { name: 'timer abort', peer: 'timer', rule: () => ({ method: 'POST', path: '/abort' }), call: 'TIMER POST /abort', succeedsUnder: REPEATED },
  ],
}

/** A PUBLIC user with its auth user, roles bound and a pending expiry. */
async function seedLiveUser(stack: Stack): Promise<Seeded> {
  const group = seedGroup(stack)
  const seeded = await seedUser(stack, { roles: ['customer-basic'], expirationDate: LATER, email: `live-${group}@example.com`, username: `live-${group}`, fields: { userGroup: group, groups: ['customers'] } })
  return { group, userId: seeded.userId, authUserId: seeded.authUserId }
}

const AUTH_BLOCK: Call = { name: 'auth block', peer: 'auth0', rule: (s) => ({ method: 'PATCH', path: `/users/${s.authUserId}` }), call: 'AUTH PATCH /users/:userID', succeedsUnder: READ_BACK }
const stateTo = (state: string) => (request: FastifyRequest) => bodyOf(request).stateTo === state
const TO_TRASH: Call = { name: 'CRUD to TRASH', peer: 'crud', rule: (s) => ({ method: 'POST', path: `/users/${s.userId}/state`, match: stateTo('TRASH') }), call: 'CRUD POST /users/:id/state', succeedsUnder: READ_BACK }
const TO_DELETED: Call = { name: 'CRUD to DELETED', peer: 'crud', rule: (s) => ({ method: 'POST', path: `/users/${s.userId}/state`, match: stateTo('DELETED') }), call: 'CRUD POST /users/:id/state', succeedsUnder: READ_BACK }
const AUTH_DELETE: Call = { name: 'auth delete', peer: 'auth0', rule: (s) => ({ method: 'DELETE', path: `/users/${s.authUserId}` }), call: 'AUTH DELETE /users/:userID', succeedsUnder: READ_BACK }
// A hard delete revokes the deleted auth user's bindings, and a removal aborts the pending expiry
// last; both ignore their failures: the user is gone either way.
const REVOKE_IGNORED: Call = { name: 'Rönd revoke (ignored)', peer: 'rond', rule: () => ({ method: 'POST', path: '/revoke/bindings' }), call: 'ROND POST /revoke/bindings', succeedsUnder: ALL_FAULTS }
const ABORT_IGNORED: Call = { name: 'timer abort (ignored)', peer: 'timer', rule: () => ({ method: 'POST', path: '/abort' }), call: 'TIMER POST /abort', succeedsUnder: ALL_FAULTS }

const remove: Row = {
  route: 'DELETE /users/:id',
  action: 'deleting',
  success: 204,
  seed: seedLiveUser,
  send: (stack, s) => stack.call('DELETE', `/users/${s.userId}`),
  // The auth user deleted beside the CRUD delete (a document deleted beside a failed auth delete is
  // put back); the revoke and the abort follow the answer.
  calls: [
    USER_READ,
    AUTH_DELETE,
    // The walk to DELETED that replaces a failed CRUD delete is refused too: the user is left
    // PUBLIC without its auth user, which reconciliation unlinks.
    { name: 'CRUD delete', peer: 'crud', rule: (s) => ({ method: 'DELETE', path: `/users/${s.userId}` }), call: 'CRUD DELETE /users/:id', succeedsUnder: READ_BACK, leavesUnder: ['refused'] },
    REVOKE_IGNORED,
    ABORT_IGNORED,
  ],
}

const state: Row = {
  route: 'POST /users/state',
  action: 'changing state of',
  success: 200,
  seed: seedLiveUser,
  send: (stack, s) => stack.call('POST', '/users/state', { json: [{ filter: { _id: s.userId }, stateTo: 'TRASH' }] }),
  calls: [
    { name: 'CRUD list', peer: 'crud', rule: (s) => ({ method: 'GET', path: '/users/', match: queryHas(s.userId!) }), call: 'CRUD GET /users/' },
    AUTH_BLOCK,
    { ...TO_TRASH, name: 'CRUD state change' },
  ],
}

const softDelete: Row = {
  route: 'POST /users/:id/soft-delete',
  action: 'soft deleting',
  success: 204,
  seed: seedLiveUser,
  send: (stack, s) => stack.call('POST', `/users/${s.userId}/soft-delete`),
  calls: [USER_READ, AUTH_BLOCK, TO_TRASH, TO_DELETED, AUTH_DELETE, REVOKE_IGNORED, ABORT_IGNORED],
}

const BULK = `${USERS_ENDPOINT}/bulk`

const importCsv: Row = {
  route: 'PATCH /users/import',
  action: 'importing',
  success: 200,
  seed: async (stack) => {
    const seeded = await seedLiveUser(stack)
    clearRequestLogs(stack)
    return seeded
  },
  send: async (stack, s) => {
    const csv = csvOf([
      ['_id', 'userGroup', 'name', 'surname', 'expirationDate'],
      ['', s.group, 'Imported', 'S', MUCH_LATER],
      [s.userId!, s.group, 'Renamed', 'S', ''],
    ])
    return uploadCsv(stack.current.url, csv)
  },
  // The insert and the patch batches go side by side.
  calls: [
    GROUP_READ,
    // A lost bulk insert is read back; what did not land is inserted row by row.
    { name: 'bulk insert', peer: 'crud', rule: () => ({ method: 'POST', path: BULK }), call: `CRUD POST ${BULK}`, succeedsUnder: ['timeout', 'reset', 'applied, then timed out'], concurrent: true },
    {
      name: 'bulk patch',
      peer: 'crud',
      rule: () => ({ method: 'PATCH', path: BULK, match: (request) => JSON.stringify(request.body).includes('Renamed') }),
      call: `CRUD PATCH ${BULK}`,
      concurrent: true,
      // The inserted user's undo is refused too: it is left without its expiry timer.
      leavesUnder: ['refused'],
    },
    SCHEDULE,
    {
      name: 'bulk $set expirationId',
      peer: 'crud',
      rule: () => ({ method: 'PATCH', path: BULK, match: (request) => JSON.stringify(request.body).includes('expirationId') }),
      call: `CRUD PATCH ${BULK}`,
      concurrent: true,
      leavesUnder: ['refused'],
    },
  ],
}

export const ROWS: Row[] = [create, selfRegister, withId, register, patch, remove, state, softDelete, importCsv]
