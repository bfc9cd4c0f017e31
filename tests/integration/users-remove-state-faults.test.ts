// POST /users/state with each peer step failing (500, timeout, reset, refused connection): the exact
// 500 message, and users left consistent (the safety order: block before leaving PUBLIC,
// unblock only after reaching PUBLIC).
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { useStack } from '../helpers/stack.js'
import {
  AUTH_BLOCK,
  AUTH_DELETE,
  FAULTS,
  HARD_DELETE_MODES,
  expectUser,
  itTimesOutAtEveryStep,
  losesAnswer,
  seedUser,
  type AuthState,
  type SeededIds,
  type State,
  type Step as RemovalStep,
} from './users-remove-helpers.js'

interface Step extends RemovalStep {
  /** What a retry (no faults) answers and leaves. */
  retry: { count: number; left: [State, AuthState] }
}

interface Scenario {
  from: State
  to: State
  steps: Step[]
}

/** The list of matching users; only the one whose `_q` names this user, so users can run side by side. */
const LIST = {
  name: 'CRUD list',
  peer: 'crud',
  rule: (ids) => ({ method: 'GET', path: '/users/', match: (req) => String((req.query as { _q?: unknown })._q ?? '').includes(ids.userId) }),
  call: 'CRUD GET /users/',
} as const satisfies Partial<Step>
const STATE = { name: 'CRUD state change', peer: 'crud', rule: (ids) => ({ method: 'POST', path: `/users/${ids.userId}/state` }), call: 'CRUD POST /users/:id/state' } as const satisfies Partial<Step>

const toTrash: Scenario = {
  from: 'PUBLIC',
  to: 'TRASH',
  steps: [
    { ...LIST, left: ['PUBLIC', 'unblocked'], retry: { count: 1, left: ['TRASH', 'blocked'] } },
    { ...AUTH_BLOCK, left: ['PUBLIC', 'unblocked'], retry: { count: 1, left: ['TRASH', 'blocked'] } },
    { ...STATE, left: ['PUBLIC', 'blocked'], retry: { count: 1, left: ['TRASH', 'blocked'] } },
  ],
}

const toPublic: Scenario = {
  from: 'DRAFT',
  to: 'PUBLIC',
  steps: [
    { ...LIST, left: ['DRAFT', 'blocked'], retry: { count: 1, left: ['PUBLIC', 'unblocked'] } },
    { ...STATE, left: ['DRAFT', 'blocked'], retry: { count: 1, left: ['PUBLIC', 'unblocked'] } },
    // The safe side of a failed unblock: published but still blocked. The user is no longer
    // DRAFT, so a retry does not match it (unblocking it takes a PATCH of `blocked`).
    { ...AUTH_BLOCK, name: 'auth unblock', left: ['PUBLIC', 'blocked'], retry: { count: 0, left: ['PUBLIC', 'blocked'] } },
  ],
}

const toDeletedHard: Scenario = {
  from: 'TRASH',
  to: 'DELETED',
  steps: [
    { ...LIST, left: ['TRASH', 'blocked'], retry: { count: 1, left: ['DELETED', 'gone'] } },
    // Blocked already (TRASH): a lost answer of the block is read back as done.
    { ...AUTH_BLOCK, left: ['TRASH', 'blocked'], retry: { count: 1, left: ['DELETED', 'gone'] }, settlesWhenLost: ['DELETED', 'gone'] },
    { ...STATE, left: ['TRASH', 'blocked'], retry: { count: 1, left: ['DELETED', 'gone'] } },
    // DELETED already, so a retry of this route skips it (soft-delete finishes the auth delete).
    { ...AUTH_DELETE, left: ['DELETED', 'blocked'], retry: { count: 0, left: ['DELETED', 'blocked'] } },
  ],
}

const toDeletedSoft: Scenario = {
  from: 'TRASH',
  to: 'DELETED',
  steps: toDeletedHard.steps
    .slice(0, 3)
    .map((step) => ({ ...step, retry: { count: 1, left: ['DELETED', 'blocked'] }, ...(step.settlesWhenLost ? { settlesWhenLost: ['DELETED', 'blocked'] } : {}) })),
}

describe.each([
  { hard: true, env: {}, scenarios: [toTrash, toPublic, toDeletedHard] },
  { hard: false, env: { AUTH_HARD_DELETE: 'false' }, scenarios: [toDeletedSoft] },
])('POST /users/state with AUTH_HARD_DELETE=$hard', ({ env, scenarios }) => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '300', ...env } })

  async function expectRetry(scenario: Scenario, step: Step, ids: SeededIds) {
    const retry = await stack.call('POST', '/users/state', { json: [{ filter: { _id: ids.userId }, stateTo: scenario.to }] })
    expect(retry.status).toBe(200)
    expect(retry.body).toBe(step.retry.count)
    expectUser(stack.current, ids, ...step.retry.left)
    expectConsistent(stack.current)
  }

  describe.each(scenarios)('from $from to $to', (scenario) => {
    describe.each(scenario.steps)('when the $name fails', (step) => {
      it.each(FAULTS)('answers 500 on %s and leaves the user consistent', async (_case, fault, suffix) => {
        const ids = seedUser(stack.current, { state: scenario.from })
        const bystander = seedUser(stack.current, { state: scenario.from })
        stack.current[step.peer].injectFault({ ...step.rule(ids), ...fault })
        const answer = await stack.call('POST', '/users/state', { json: [{ filter: { _id: ids.userId }, stateTo: scenario.to }] })
        if (step.settlesWhenLost && losesAnswer(fault)) {
          expect(answer.status).toBe(200)
          expect(answer.body).toBe(1)
          expectUser(stack.current, ids, ...step.settlesWhenLost)
          expectConsistent(stack.current)
          return
        }
        expect(answer.status).toBe(500)
        expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while changing state of user: ${step.call} ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
        expectConsistent(stack.current)
        expectUser(stack.current, ids, ...step.left)
        expectUser(stack.current, bystander, scenario.from, scenario.from === 'PUBLIC' ? 'unblocked' : 'blocked')

        stack.current[step.peer].clearFaults()
        await expectRetry(scenario, step, ids)
      })
    })

    itTimesOutAtEveryStep({
      stack,
      steps: scenario.steps,
      seed: () => seedUser(stack.current, { state: scenario.from }),
      send: (ids) => stack.call('POST', '/users/state', { json: [{ filter: { _id: ids.userId }, stateTo: scenario.to }] }),
      error: 'Error while changing state of user',
      expectRetry: (ids, step) => expectRetry(scenario, step, ids),
    })
  })

  it('stops at the first failing user and leaves every user of the batch consistent', async () => {
    const users = Array.from({ length: 24 }, () => seedUser(stack.current, { state: 'PUBLIC', fields: { name: 'Batch' } }))
    // The first user in the CRUD's order (by _id), so that most of the batch is still to start.
    const failing = [...users].sort((a, b) => (a.userId < b.userId ? -1 : 1))[0]!
    stack.current.auth0.injectFault({ method: 'PATCH', path: `/users/${failing.authUserId}`, status: 500 })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Batch' }, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while changing state of user: AUTH PATCH /users/:userID responded with a 500 status code')
    expectConsistent(stack.current)
    const docs = stack.current.crud.documents(USERS_ENDPOINT)
    expect(docs.find((doc) => doc._id === failing.userId)?.__STATE__).toBe('PUBLIC')
    // At most 8 users are in flight: those not started yet stay PUBLIC instead of running to the end.
    expect(docs.filter((doc) => doc.__STATE__ === 'PUBLIC').length).toBeGreaterThanOrEqual(24 - 8)

    const retry = await stack.call('POST', '/users/state', { json: [{ filter: { name: 'Batch' }, stateTo: 'TRASH' }] })
    expect(retry.status).toBe(200)
    expect(stack.current.crud.documents(USERS_ENDPOINT).every((doc) => doc.__STATE__ === 'TRASH')).toBe(true)
    expectConsistent(stack.current)
  })
})

describe('POST /users/state with the CRUD refusing connections', () => {
  const stack = useStack({ unreachable: ['crud'] })

  it('answers 500 and touches no auth user', async () => {
    const ids = seedUser(stack.current, { state: 'PUBLIC' })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: 'TRASH' }] })
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Error while changing state of user: CRUD GET /users/ failed: connection refused', code: 'UMS_UPSTREAM_FAILED' })
    expectUser(stack.current, ids, 'PUBLIC', 'unblocked')
    expect(stack.current.auth0.requests).toHaveLength(0)
    expectConsistent(stack.current)
  })
})

describe.each(HARD_DELETE_MODES)('POST /users/state with AUTH_HARD_DELETE=$hard and the auth service refusing connections', ({ env }) => {
  const stack = useStack({ env, unreachable: ['auth'] })
  const refused = 'Error while changing state of user: AUTH PATCH /users/:userID failed: connection refused'

  it.each([
    ['PUBLIC', 'TRASH', 'PUBLIC', 'unblocked'],
    ['PUBLIC', 'DRAFT', 'PUBLIC', 'unblocked'],
    ['TRASH', 'DELETED', 'TRASH', 'blocked'],
    ['DRAFT', 'PUBLIC', 'PUBLIC', 'blocked'],
  ] as const)('answers 500 moving %s to %s and leaves the user consistent', async (from, to, state, auth) => {
    const ids = seedUser(stack.current, { state: from })
    const answer = await stack.call('POST', '/users/state', { json: [{ filter: {}, stateTo: to }] })
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: refused, code: 'UMS_UPSTREAM_FAILED' })
    expectUser(stack.current, ids, state, auth)
    expectConsistent(stack.current)
  })
})
