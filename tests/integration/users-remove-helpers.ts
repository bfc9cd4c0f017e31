// Shared by the removal route tests (DELETE /users/:id, POST /users/:id/soft-delete and
// POST /users/state): users seeded straight into the emulators, what ums asked of them, where a
// user is left, and the failing steps of the safety order (access removed first) with the tests run against each.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { expectConsistent } from '../helpers/consistency.js'
import type { Answer, StackHandle } from '../helpers/stack.js'
import { postSchedule } from '../helpers/timer.js'

export type State = 'PUBLIC' | 'DRAFT' | 'TRASH' | 'DELETED'
export type AuthState = 'unblocked' | 'blocked' | 'gone'

/** Both settings of AUTH_HARD_DELETE, for `describe.each` (`$hard` in the name, `env` for useStack). */
export const HARD_DELETE_MODES: Array<{ hard: boolean; env: Record<string, string> }> = [
  { hard: true, env: {} },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' } },
]

export const HOUR = 3_600_000
export const UNKNOWN_ID = '0123456789abcdef01234567'

export interface SeededIds {
  userId: string
  /** '' for a CRUD-only user. */
  authUserId: string
}

export interface SeedOptions {
  state?: State
  /** false: a CRUD-only user (no authUserId, no auth user). Default true. */
  auth?: boolean
  /** The auth user's flag (default: blocked unless PUBLIC). */
  blocked?: boolean
  fields?: Record<string, unknown>
}

let sequence = 0

/** A CRUD user (and its auth user unless `auth: false`); TRASH/DRAFT/DELETED users start blocked. */
export function seedUser(stack: Stack, options: SeedOptions = {}): SeededIds {
  sequence += 1
  const state = options.state ?? 'PUBLIC'
  const email = `remove-user-${sequence}@example.com`
  const username = `remove-user-${sequence}`
  const authUser = options.auth === false ? undefined : stack.auth0.seedUser({ email, username, password: 'Secret-Pass1', blocked: options.blocked ?? state !== 'PUBLIC' })
  const [userId] = stack.crud.seed(USERS_ENDPOINT, [
    { userGroup: 'customer', name: 'Mario', surname: 'Rossi', email, username, __STATE__: state, ...(authUser ? { authUserId: authUser.user_id } : {}), ...options.fields },
  ])
  return { userId: userId!, authUserId: authUser?.user_id ?? '' }
}

/** A pending timer in the Timer Service emulator, created through its HTTP API. */
export async function scheduleTimer(stack: Stack, expiresAt: Date): Promise<string> {
  const { expirationId } = await postSchedule(stack, expiresAt, { applicantService: 'tests', hostname: '127.0.0.1', port: 9, path: '/users/x' })
  return expirationId
}

export function crudUser(stack: Stack, userId: string): Record<string, unknown> | undefined {
  return stack.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === userId)
}

/** The auth user's `blocked` flag, or undefined when the auth user is gone. */
export function authBlocked(stack: Stack, authUserId: string): boolean | undefined {
  const user = stack.auth0.getUser(authUserId)
  return user === undefined ? undefined : (user.blocked ?? false)
}

export function expectAuth(stack: Stack, authUserId: string, expected: AuthState): void {
  const authUser = stack.auth0.getUser(authUserId)
  if (expected === 'gone') expect(authUser).toBeUndefined()
  else expect(authUser?.blocked ?? false).toBe(expected === 'blocked')
}

/** The CRUD state of the user and what became of its auth user; `label` names a failing check. */
export function expectUser(stack: Stack, ids: SeededIds, state: State, auth: AuthState, label?: string): void {
  expect(crudUser(stack, ids.userId)?.__STATE__, label).toBe(state)
  expectAuth(stack, ids.authUserId, auth)
}

/**
 * The CRUD state changes ums asked for, in arrival order: of every user (`{ id, stateTo }`), or
 * only the targets of one user's.
 */
export function stateCalls(stack: Stack): Array<{ id: string; stateTo: unknown }>
export function stateCalls(stack: Stack, userId: string): unknown[]
export function stateCalls(stack: Stack, userId?: string): unknown[] {
  if (userId !== undefined) return stack.crud.requestsTo('POST', `/users/${userId}/state`).map((r) => (r.body as { stateTo?: unknown }).stateTo)
  return stack.crud
    .requestsTo('POST', /^\/users\/[^/]+\/state$/)
    .map((r) => ({ id: decodeURIComponent(r.path.split('/')[2]!), stateTo: (r.body as { stateTo?: unknown }).stateTo }))
}

/** The calls ums made to the auth service's user routes. */
export function authCallsTo(stack: Stack) {
  return stack.auth0.requests.filter((r) => r.path.startsWith('/users'))
}

/** Answered faults, one test each; timeouts (about 1 s each) run side by side in one test. */
export const FAULTS = [
  ['a 500', { status: 500 }, 'responded with a 500 status code'],
  ['a reset connection', { reset: true }, 'failed: connection reset'],
] as const
const TIMEOUT = 'failed: timeout after 300 ms'

/** Matches a CRUD state change to `state`. */
export const stateTo = (state: State) => (req: { body: unknown }) => (req.body as { stateTo?: unknown } | undefined)?.stateTo === state

/** One peer call of a removal, made to fail. */
export interface Step {
  name: string
  peer: 'crud' | 'auth0'
  rule: (ids: SeededIds) => FaultRule
  /** The failing call, as the error message names it. */
  call: string
  /** Where the user is left: CRUD state and auth user. */
  left: [State, AuthState]
  /**
   * Where the route leaves the user, with a 2xx, when this step's answer is lost (timeout, reset):
   * its target already holds (e.g. blocking a blocked user), so the read back settles it as done.
   */
  settlesWhenLost?: [State, AuthState]
}

/** Whether a fault loses the answer of a call that may have landed (timeout, reset). */
export const losesAnswer = (fault: Partial<FaultRule>) => fault.reset === true || fault.hang === true

/** The walk to DELETED (block before leaving PUBLIC), then the auth delete of AUTH_HARD_DELETE. */
export const CRUD_READ: Step = { name: 'CRUD read', peer: 'crud', rule: (ids) => ({ method: 'GET', path: `/users/${ids.userId}` }), call: 'CRUD GET /users/:id', left: ['PUBLIC', 'unblocked'] }
export const AUTH_BLOCK: Step = { name: 'auth block', peer: 'auth0', rule: (ids) => ({ method: 'PATCH', path: `/users/${ids.authUserId}` }), call: 'AUTH PATCH /users/:userID', left: ['PUBLIC', 'unblocked'] }
export const MOVE_TO_TRASH: Step = { name: 'CRUD move to TRASH', peer: 'crud', rule: (ids) => ({ method: 'POST', path: `/users/${ids.userId}/state`, match: stateTo('TRASH') }), call: 'CRUD POST /users/:id/state', left: ['PUBLIC', 'blocked'] }
export const MOVE_TO_DELETED: Step = { name: 'CRUD move to DELETED', peer: 'crud', rule: (ids) => ({ method: 'POST', path: `/users/${ids.userId}/state`, match: stateTo('DELETED') }), call: 'CRUD POST /users/:id/state', left: ['TRASH', 'blocked'] }
export const AUTH_DELETE: Step = { name: 'auth delete', peer: 'auth0', rule: (ids) => ({ method: 'DELETE', path: `/users/${ids.authUserId}` }), call: 'AUTH DELETE /users/:userID', left: ['DELETED', 'blocked'] }
export const WALK_TO_DELETED: Step[] = [CRUD_READ, AUTH_BLOCK, MOVE_TO_TRASH, MOVE_TO_DELETED]

/** A removal route whose steps are made to fail, one user per case. */
export interface FailingRoute<S extends Step> {
  stack: StackHandle
  steps: S[]
  /** Sends the request under test for the user. */
  send: (ids: SeededIds) => Promise<Answer>
  /** What the 500 message says before the failing call, e.g. `Error while deleting user`. */
  error: string
  /** The user of one case (default: a PUBLIC user with its auth user). */
  seed?: () => SeededIds
  /** Retries without faults, and checks what the retry answers and leaves. */
  expectRetry: (ids: SeededIds, step: S) => Promise<void>
}

/**
 * For each step and answered fault: a 500 naming the failing call, every user consistent, the user
 * left where the step leaves it, and a retry that finishes. Then the timeouts of every step.
 */
export function itFailsAtEachStep(route: FailingRoute<Step>): void {
  const { stack } = route
  const seed = route.seed ?? (() => seedUser(stack.current))
  describe.each(route.steps)('when the $name fails', (step) => {
    it.each(FAULTS)('answers 500 on %s, leaves the user consistent, and a retry finishes', async (_case, fault, suffix) => {
      const ids = seed()
      stack.current[step.peer].injectFault({ ...step.rule(ids), ...fault })
      const answer = await route.send(ids)
      if (step.settlesWhenLost && losesAnswer(fault)) {
        expect(answer.status).toBeLessThan(300)
        expectConsistent(stack.current)
        expectUser(stack.current, ids, ...step.settlesWhenLost)
        return
      }
      expect(answer.status).toBe(500)
      expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `${route.error}: ${step.call} ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
      expectConsistent(stack.current)
      expectUser(stack.current, ids, ...step.left)

      stack.current[step.peer].clearFaults()
      await route.expectRetry(ids, step)
    })
  })
  itTimesOutAtEveryStep(route)
}

/** Every step hangs, one user each, side by side (a timeout takes about 1 s): 500s, consistent users, retries. */
export function itTimesOutAtEveryStep<S extends Step>(route: FailingRoute<S>): void {
  const { stack, steps } = route
  const seed = route.seed ?? (() => seedUser(stack.current))
  it(`answers 500 when any step times out (${steps.length} steps, one user each, side by side), leaving every user consistent`, async () => {
    const cases = steps.map((step) => {
      const ids = seed()
      stack.current[step.peer].injectFault({ ...step.rule(ids), hang: true })
      return { step, ids }
    })
    const answers = await Promise.all(cases.map(({ ids }) => route.send(ids)))
    expectConsistent(stack.current)
    for (const [index, { step, ids }] of cases.entries()) {
      if (step.settlesWhenLost) {
        expect(answers[index]?.status, step.name).toBeLessThan(300)
        expectUser(stack.current, ids, ...step.settlesWhenLost, step.name)
        continue
      }
      expect(answers[index]?.status, step.name).toBe(500)
      expect(answers[index]?.body, step.name).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `${route.error}: ${step.call} ${TIMEOUT}`, code: 'UMS_UPSTREAM_FAILED' })
      expectUser(stack.current, ids, ...step.left, step.name)
    }
    for (const { step, ids } of cases) if (!step.settlesWhenLost) await route.expectRetry(ids, step)
  })
}
