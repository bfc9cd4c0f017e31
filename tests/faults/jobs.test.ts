// The fault matrix of the two bulk jobs: each peer call a job makes × the five faults of
// routes.ts. A job answers 202 at once; its documented answer is its end: completed with every user
// either done or listed among the failures (or, for the activation, failed as a whole). Then the
// stores are consistent, or reconciliation repairs what a case documents as left behind.
import { describe, expect } from 'vitest'
import type { FaultRule } from '../../src/sandbox/emulator-kit.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { stackPoolTest } from '../helpers/stack.js'
import { clearRequestLogs, PASSWORD } from '../integration/users-patch-helpers.js'
import { expectConsistent, inconsistencies } from '../helpers/consistency.js'
import { sleep } from '../helpers/wait.js'
import { expectReconciled, runJob } from './oracle.js'
import { ALL_FAULTS, FAULTS, TIMEOUT_MS, type FaultName, type Peer } from './routes.js'

const USERS = 3

interface JobCall {
  name: string
  peer: Peer
  rule: Pick<FaultRule, 'method' | 'path' | 'match'>
  /** Faults after which every user still ends done (the job retries, or reads the lost write back). */
  allDoneUnder?: FaultName[]
  /** Faults after which something is left for reconciliation. */
  leavesUnder?: FaultName[]
}

interface JobRow {
  job: string
  path: string
  seed: (stack: Stack) => { ids: string[]; body: unknown }
  /** The users the job finished, and the ones its result lists as failed (or every one when the job failed). */
  outcome: (stack: Stack, ids: string[], result: any) => { done: string[]; failed: string[] }
  calls: JobCall[]
}

let sequence = 0
/** How long a peer refuses connections: a job retries past it. */
const DOWN_MS = 1_000

const activation: JobRow = {
  job: 'bulk activation',
  path: '/jobs/bulk-activation',
  seed: (stack) => {
    sequence += 1
    const ids = stack.crud.seed(
      USERS_ENDPOINT,
      Array.from({ length: USERS }, (_unused, index) => ({ userGroup: 'customer', name: 'N', surname: 'S', email: `job-${sequence}-${index}@example.com`, username: `job-${sequence}-${index}` })),
    )
    return { ids, body: ids.map((userId) => ({ filter: { userId } })) }
  },
  outcome: (stack, ids, result) => {
    const docs = new Map(stack.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc]))
    const done = ids.filter((id) => {
      const authUserId = docs.get(id)?.authUserId
      return typeof authUserId === 'string' && stack.auth0.getUser(authUserId)?.email === docs.get(id)?.email
    })
    const failed = result.status === 'failed' ? ids : (result.failures as Array<{ userId: string }>).map((failure) => failure.userId)
    return { done, failed }
  },
  calls: [
    { name: 'CRUD read of the users', peer: 'crud', rule: { method: 'GET', path: '/users/' } },
    // A failed or lost start is retried, a lost one found again by its external id: every user ends linked.
    { name: 'auth import start', peer: 'auth0', rule: { method: 'POST', path: '/users/import' }, allDoneUnder: ALL_FAULTS },
    // Polls are repeated.
    { name: 'auth import status', peer: 'auth0', rule: { method: 'GET', path: /^\/users\/import\/status\/[^/]+$/ }, allDoneUnder: ALL_FAULTS },
    // A lost link is read back.
    { name: 'CRUD $set authUserId', peer: 'crud', rule: { method: 'PATCH', path: `${USERS_ENDPOINT}/bulk` }, allDoneUnder: ['timeout', 'reset', 'applied, then timed out'] },
  ],
}

const changePassword: JobRow = {
  job: 'change-password bulk',
  path: '/jobs/change-password/bulk',
  seed: (stack) => {
    sequence += 1
    const ids = Array.from({ length: USERS }, (_unused, index) => {
      const email = `cp-${sequence}-${index}@example.com`
      const authUser = stack.auth0.seedUser({ email, username: `cp-${sequence}-${index}`, password: PASSWORD })
      stack.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email, username: `cp-${sequence}-${index}`, authUserId: authUser.user_id }])
      return authUser.user_id
    })
    return { ids, body: { authUsersIds: ids } }
  },
  outcome: (_stack, _ids, result) => ({
    done: (result.completed as Array<{ authUserId: string }>).map((entry) => entry.authUserId),
    failed: (result.failures as Array<{ authUserId: string }>).map((entry) => entry.authUserId),
  }),
  calls: [
    // The emails missing from the CRUD are read from the auth profiles.
    { name: 'CRUD read of the users', peer: 'crud', rule: { method: 'GET', path: '/users/' }, allDoneUnder: ALL_FAULTS },
    { name: 'change-password email', peer: 'auth0', rule: { method: 'POST', path: '/change-password' } },
  ],
}

// Cases run side by side, each on a stack of its own: most of a case is waiting (timeouts, retries).
const it = stackPoolTest({
  env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS), RECONCILE_RECENT_WINDOW_MS: '0', AUTH0_JOB_POLLING_INTERVAL: '50', AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '50' },
})

describe.concurrent.each([activation, changePassword])('$job job', (row) => {
  const cases = row.calls.flatMap((call) => FAULTS.map((fault) => ({ call, fault })))

  it.for(cases)('$call.name: $fault.name', async ({ call, fault }, { stack }) => {
    const { ids, body } = row.seed(stack.current)
    clearRequestLogs(stack.current)
    const peer = stack.current[call.peer]
    // The job's first call to the peer is refused: the peer is down as the job starts, for a second.
    let back: Promise<void> | undefined
    if (fault.name === 'refused') {
      peer.down()
      back = sleep(DOWN_MS).then(() => peer.up())
    } else {
      peer.injectFault({ ...call.rule, ...fault.rule })
    }
    let result: any
    try {
      result = await runJob(stack, row.path, body)
    } finally {
      await back
      await peer.up()
    }
    if (fault.logged !== undefined) expect(peer.requests.some((request) => request.outcome === fault.logged), 'the fault was met').toBe(true)

    expect(['completed', 'failed']).toContain(result.status)
    const { done, failed } = row.outcome(stack.current, ids, result)
    // Every user is accounted for: done, or reported as failed (never both, never neither).
    expect([...done, ...failed].sort()).toEqual([...ids].sort())
    if (call.allDoneUnder?.includes(fault.name)) expect(failed).toEqual([])
    else expect(failed.length, 'the fault shows in the result').toBeGreaterThan(0)

    const leftover = call.leavesUnder?.includes(fault.name) ?? false
    if (leftover) expect(inconsistencies(stack.current), 'the leftover this case documents').not.toEqual([])
    else expectConsistent(stack.current)
    await expectReconciled(stack, leftover, new Set())
  })
})
