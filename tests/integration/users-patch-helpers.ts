// Shared fixtures of the PATCH /users/:id tests: users seeded straight into the four emulators,
// snapshots of everything a PATCH may change, and a cross-peer trace of the calls ums makes.
import { randomBytes } from 'node:crypto'
import { expect } from 'vitest'
import type { Stack } from '../../src/sandbox/stack.js'
import { UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { postSchedule } from '../helpers/timer.js'

export const PASSWORD = 'Secret-Pass1'
/** A date far enough in the future that no timer fires during a test. */
export const LATER = '2031-05-01T10:00:00.000Z'
export const MUCH_LATER = '2032-06-01T12:30:00.000Z'

/** A second group: `age` required and at least 18; no other requirement. */
export const PARTNER_GROUP = {
  userGroup: 'partner',
  label: 'Partners',
  authUserCreationDisabled: false,
  crudSchema: {
    type: 'object',
    required: ['age'],
    properties: {
      name: { type: 'string' },
      surname: { type: 'string' },
      age: { type: 'number', minimum: 18 },
      roles: { type: 'array', items: { type: 'string' } },
      email: { type: 'string', format: 'email' },
      username: { type: 'string' },
    },
  },
}

export interface SeedOptions {
  /** false: a CRUD-only user (no authUserId, no auth user, no bindings). Default true. */
  auth?: boolean
  name?: string
  email?: string
  username?: string
  roles?: string[]
  blocked?: boolean
  /** The auth user's flag when it differs from the CRUD one (default: `blocked`). */
  authBlocked?: boolean
  /** Seeds a pending timer too (when `timer` is not false) and stores its id on the user. */
  expirationDate?: string
  timer?: boolean
  state?: 'PUBLIC' | 'DRAFT' | 'TRASH' | 'DELETED'
  fields?: Record<string, unknown>
}

export interface SeededUser {
  userId: string
  authUserId: string
  expirationId: string | undefined
}

let counter = 0

/** Schedules a timer on the emulator the way ums does (PATCH <ums>/users/:id {$set:{blocked:true}}). */
export async function scheduleTimer(stack: Stack, userId: string, expirationDate: string): Promise<string> {
  const ums = new URL(stack.url)
  const { status, expirationId } = await postSchedule(stack, new Date(expirationDate), {
    applicantService: 'user-manager-service',
    hostname: ums.hostname,
    port: Number(ums.port),
    path: `/users/${userId}`,
    headers: {},
  })
  expect(status).toBe(200)
  return expirationId
}

/**
 * A user as POST /users/ would leave it: the auth user, the CRUD document with its authUserId,
 * a Rönd binding of its roles and a pending timer of its expirationDate. Request logs are cleared
 * afterwards, so a test sees only the calls of its own request.
 */
export async function seedUser(stack: Stack, options: SeedOptions = {}): Promise<SeededUser> {
  counter += 1
  const email = options.email ?? `user${counter}@example.com`
  const username = options.username ?? `user${counter}`
  const roles = options.roles ?? ['customer-basic']
  const withAuth = options.auth ?? true
  const userId = randomBytes(12).toString('hex')
  // Groups the CRUD user has, its auth user has too, as ums keeps them.
  const groups = Array.isArray(options.fields?.groups) ? { app_metadata: { groups: options.fields.groups } } : {}
  const authUserId = withAuth ? stack.auth0.seedUser({ email, username, password: PASSWORD, blocked: options.authBlocked ?? options.blocked === true, ...groups }).user_id : ''
  let expirationId: string | undefined
  if (options.expirationDate !== undefined && options.timer !== false) expirationId = await scheduleTimer(stack, userId, options.expirationDate)
  const doc: Record<string, unknown> = { _id: userId, userGroup: 'customer', email, username, name: options.name ?? 'Mario', surname: 'Rossi', roles, ...options.fields }
  if (withAuth) doc.authUserId = authUserId
  if (options.blocked !== undefined) doc.blocked = options.blocked
  if (options.expirationDate !== undefined) doc.expirationDate = options.expirationDate
  if (expirationId !== undefined) doc.expirationId = expirationId
  if (options.state !== undefined) doc.__STATE__ = options.state
  stack.crud.seed(USERS_ENDPOINT, [doc])
  if (withAuth && roles.length > 0) stack.rond.seedBinding({ subjects: [authUserId], roles })
  clearRequestLogs(stack)
  return { userId, authUserId, expirationId }
}

export function seedPartnerGroup(stack: Stack): void {
  stack.crud.seed(UMS_CONFIG_ENDPOINT, [PARTNER_GROUP])
}

export function clearRequestLogs(stack: Stack): void {
  for (const emulator of [stack.crud, stack.auth0, stack.rond, stack.timer]) emulator.clearRequests()
}

export function crudUser(stack: Stack, userId: string): Record<string, unknown> | undefined {
  return stack.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === userId)
}

/** The CRUD document without the fields every write refreshes. */
export function crudView(stack: Stack, userId: string): Record<string, unknown> | undefined {
  const doc = crudUser(stack, userId)
  if (!doc) return undefined
  const { updatedAt: _updatedAt, updaterId: _updaterId, ...rest } = doc
  return rest
}

/** What ums keeps in step with the auth service. */
export function authView(stack: Stack, authUserId: string): { email: unknown; username: unknown; blocked: boolean } | undefined {
  const user = stack.auth0.getUser(authUserId) as Record<string, unknown> | undefined
  return user && { email: user.email, username: user.username, blocked: user.blocked === true }
}

/** Every state a PATCH may change, for before/after comparisons. */
export function snapshot(stack: Stack, user: SeededUser) {
  return {
    crud: crudView(stack, user.userId),
    auth: user.authUserId === '' ? undefined : authView(stack, user.authUserId),
    roles: user.authUserId === '' ? [] : stack.rond.rolesOf(user.authUserId),
    bindings: stack.rond.bindings().map(({ bindingId: _bindingId, ...binding }) => binding),
    timers: stack.timer.expirations().map((timer) => ({ id: timer.expirationId, status: timer.expirationStatus.description, expirationDate: timer.expirationDate })),
  }
}

export interface TracedCall {
  peer: 'CRUD' | 'AUTH' | 'ROND' | 'TIMER'
  method: string
  path: string
  body: unknown
}

/**
 * Records, in arrival order across the four emulators, every request they receive. It works with
 * a fault rule that never fires, so it must be installed before the test's own faults.
 */
export function traceCalls(stack: Stack): TracedCall[] {
  const calls: TracedCall[] = []
  const peers = [
    ['CRUD', stack.crud],
    ['AUTH', stack.auth0],
    ['ROND', stack.rond],
    ['TIMER', stack.timer],
  ] as const
  for (const [peer, emulator] of peers) {
    emulator.injectFault({
      times: Infinity,
      match: (req) => {
        calls.push({ peer, method: req.method, path: decodeURIComponent(req.url.split('?')[0] ?? ''), body: req.body })
        return false
      },
    })
  }
  return calls
}

/** The traced calls as `PEER METHOD path` lines, without the reads of the group configuration. */
export function callLines(calls: TracedCall[]): string[] {
  return calls.filter((call) => !call.path.startsWith(UMS_CONFIG_ENDPOINT)).map((call) => `${call.peer} ${call.method} ${call.path}`)
}
