// Bulk activation when `POST /users/import` gets no answer (timeout) although Auth0 created the
// import all the same: the users that import created are found by their generated ids and linked,
// and a second import of the file does not turn them into DUPLICATED_USER failures.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { seedCrudOnlyUsers } from '../helpers/job-users.js'
import { useStack, type StackHandle } from '../helpers/stack.js'
import { waitForJob } from '../helpers/wait.js'

const AUTH_ID = /^auth0\|[0-9a-f]{24}$/

async function activate(stack: StackHandle, ids: string[], query: string): Promise<any> {
  const created = await stack.call('POST', `/jobs/bulk-activation${query}`, { json: ids.map((userId) => ({ filter: { userId } })) })
  expect(created.status).toBe(202)
  return (await waitForJob(stack.current.url, `/jobs/bulk-activation/${created.body.jobId}`)).body
}

/** Each user linked to an auth user of its own, with its email. */
function expectLinked(stack: Stack, ids: string[]): void {
  const docs = new Map(stack.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc]))
  const authIds = ids.map((id) => docs.get(id)!.authUserId as string)
  expect(new Set(authIds).size).toBe(ids.length)
  for (const [index, authUserId] of authIds.entries()) {
    expect(authUserId).toMatch(AUTH_ID)
    expect(stack.auth0.getUser(authUserId)?.email).toBe(`lost-${index}@example.com`)
  }
  expect(stack.auth0.listUsers().filter((user) => user.email?.startsWith('lost-'))).toHaveLength(ids.length)
}

describe('bulk activation after an import start that timed out but was created', () => {
  // ums gives up on the start after 2 s; the emulator creates the import after 2.1 s.
  const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '500', UPSTREAM_TIMEOUT_MS: '2000' } })

  it('links the users the lost import created instead of importing them again', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', delayMs: 2_100 })
    const ids = seedCrudOnlyUsers(stack.current, 3, 'lost')
    const done = await activate(stack, ids, '?upsert=false')
    expect(done).toMatchObject({ status: 'completed', summary: { failed: 0, updated: 0, inserted: 3, total: 3, skipped: 0 }, failures: [] })
    expectLinked(stack.current, ids)
    // The second start was never needed: the lookup found every user.
    expect(stack.current.auth0.requestsTo('POST', '/users/import')).toHaveLength(1)
  })
})

describe('bulk activation after a lost import start the search does not show yet', () => {
  // The lookup before the restart misses the lost import's users (search lags 900 ms behind), so
  // the file is imported again and Auth0 reports them as duplicates: they are linked all the same.
  const stack = useStack({ env: { AUTH0_JOB_POLLING_INTERVAL: '500', UPSTREAM_TIMEOUT_MS: '2000' }, auth0: { searchVisibilityDelayMs: 900 } })

  it('links, rather than fails, the users a second import reports as DUPLICATED_USER (upsert=false)', async () => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/users/import', delayMs: 2_100 })
    const ids = seedCrudOnlyUsers(stack.current, 3, 'lost')
    const done = await activate(stack, ids, '?upsert=false')
    expect(done).toMatchObject({ status: 'completed', summary: { failed: 0, updated: 0, inserted: 3, total: 3, skipped: 0 }, failures: [] })
    expectLinked(stack.current, ids)
    expect(stack.current.auth0.requestsTo('POST', '/users/import')).toHaveLength(2)
  })
})
