// POST /jobs/reconcile and GET /jobs/reconcile/:id over HTTP: each inconsistency between the CRUD
// users, their auth users and their expiry timers is found, reported without personal data, and
// repaired when asked, access removed first; a second run finds nothing left.
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import { useStack, type StackHandle } from '../helpers/stack.js'
import { waitForJob } from '../helpers/wait.js'

const LONG_AGO = '2026-01-01T00:00:00.000Z'
const MISSING_AUTH_ID = 'auth0|0000000000000000000000aa'

async function reconcile(stack: StackHandle, body: Record<string, unknown> | undefined): Promise<any> {
  const created = await stack.call('POST', '/jobs/reconcile', body === undefined ? {} : { json: body })
  expect(created.status).toBe(202)
  return (await waitForJob(stack.current.url, `/jobs/reconcile/${created.body.jobId}`)).body
}

/** A consistent user: auth user and CRUD user with the same email and username. */
function consistentUser(stack: Stack, name: string, extra: Record<string, unknown> = {}, authExtra: { blocked?: boolean } = {}) {
  const email = `${name}@example.com`
  const authUser = stack.auth0.seedUser({ email, username: name, password: 'Secret-Pass1', created_at: LONG_AGO, ...authExtra })
  const [crudId] = stack.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email, username: name, authUserId: authUser.user_id, updatedAt: LONG_AGO, ...extra }])
  return { crudId: crudId!, authUserId: authUser.user_id }
}

/** Every kind of inconsistency, one user each. */
function seedInconsistencies(stack: Stack) {
  const blocked = consistentUser(stack, 'blocked-one', { blocked: true })
  const trashed = consistentUser(stack, 'trashed-one', { __STATE__: 'TRASH' })
  // The CRUD has a new email the auth user never got.
  const renamed = consistentUser(stack, 'renamed-one', { email: 'renamed-new@example.com' })
  const expired = consistentUser(stack, 'expired-one', { expirationDate: '2026-02-01T00:00:00.000Z' })
  const [untimed] = stack.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email: 'untimed@example.com', expirationDate: '2099-01-01T00:00:00.000Z', updatedAt: LONG_AGO }])
  const [dangling] = stack.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email: 'dangling@example.com', authUserId: MISSING_AUTH_ID, updatedAt: LONG_AGO }])
  const orphan = stack.auth0.seedUser({ email: 'orphan@example.com', username: 'orphan', password: 'Secret-Pass1', created_at: LONG_AGO })
  // Rönd binds another role than the CRUD says (a binding on a resource does not count).
  const rebound = consistentUser(stack, 'rebound-one', { roles: ['customer-basic'] })
  stack.rond.seedBinding({ subjects: [rebound.authUserId], roles: ['customer-premium'] })
  stack.rond.seedBinding({ subjects: [rebound.authUserId], roles: ['customer-basic'], resource: { resourceType: 'shop', resourceId: 's1' } })
  // Bound as the CRUD says: no finding.
  const bound = consistentUser(stack, 'bound-one', { roles: ['customer-basic', 'customer-premium'] })
  stack.rond.seedBinding({ subjects: [bound.authUserId, 'auth0|someone-else'], roles: ['customer-premium', 'customer-basic'] })
  // The CRUD has groups the auth user's app_metadata never got.
  const regrouped = consistentUser(stack, 'regrouped-one', { groups: ['customers', 'vip'] })
  return { blocked, trashed, renamed, expired, untimed: untimed!, dangling: dangling!, orphan: orphan.user_id, rebound, regrouped }
}

describe('reconciliation', () => {
  const stack = useStack()

  it('finds nothing on consistent users (a dry run by default)', async () => {
    consistentUser(stack.current, 'fine-one')
    consistentUser(stack.current, 'fine-two', { blocked: true }, { blocked: true })
    const done = await reconcile(stack, undefined)
    expect(done).toMatchObject({ status: 'completed', dryRun: true, findings: [], findingsTruncated: false })
    expect(done.summary).toMatchObject({ usersChecked: 2, authUsersChecked: 2, repaired: 0, repairFailed: 0 })
    expect(Object.values(done.summary.found).every((count) => count === 0)).toBe(true)
  })

  it('reports every inconsistency in a dry run, by ids only, and changes nothing', async () => {
    const seeded = seedInconsistencies(stack.current)
    const requestsBefore = stack.current.auth0.requests.length
    const done = await reconcile(stack, { dryRun: true })
    expect(done.summary.found).toEqual({
      'auth-user-missing': 1,
      'orphan-auth-user': 1,
      'access-not-removed': 2,
      'profile-mismatch': 1,
      'expired-not-blocked': 1,
      'expiry-timer-missing': 1,
      'roles-mismatch': 1,
      'groups-mismatch': 1,
    })
    expect(done.findings).toEqual(
      expect.arrayContaining([
        { check: 'access-not-removed', crudId: seeded.blocked.crudId, authUserId: seeded.blocked.authUserId, action: 'reported' },
        { check: 'access-not-removed', crudId: seeded.trashed.crudId, authUserId: seeded.trashed.authUserId, action: 'reported' },
        { check: 'profile-mismatch', crudId: seeded.renamed.crudId, authUserId: seeded.renamed.authUserId, fields: ['email'], action: 'reported' },
        { check: 'expired-not-blocked', crudId: seeded.expired.crudId, authUserId: seeded.expired.authUserId, action: 'reported' },
        { check: 'expiry-timer-missing', crudId: seeded.untimed, action: 'reported' },
        { check: 'auth-user-missing', crudId: seeded.dangling, authUserId: MISSING_AUTH_ID, action: 'reported' },
        { check: 'orphan-auth-user', authUserId: seeded.orphan, action: 'reported' },
        { check: 'roles-mismatch', crudId: seeded.rebound.crudId, authUserId: seeded.rebound.authUserId, roles: { missing: ['customer-basic'], unexpected: ['customer-premium'] }, action: 'reported' },
        { check: 'groups-mismatch', crudId: seeded.regrouped.crudId, authUserId: seeded.regrouped.authUserId, action: 'reported' },
      ]),
    )
    expect(JSON.stringify(done.findings)).not.toMatch(/@|renamed|orphan@/)
    // Only reads reached the auth service.
    expect(stack.current.auth0.requests.slice(requestsBefore).every((request) => request.method === 'GET')).toBe(true)
    expect(stack.current.auth0.getUser(seeded.blocked.authUserId)!.blocked).not.toBe(true)
  })

  it('repairs what it safely can, removing access first, and a second run finds nothing left', async () => {
    const seeded = seedInconsistencies(stack.current)
    const done = await reconcile(stack, { dryRun: false })
    expect(done.summary).toMatchObject({ repaired: 8, repairFailed: 0 })
    const orphanFinding = done.findings.find((finding: { check: string }) => finding.check === 'orphan-auth-user')
    expect(orphanFinding.action).toBe('reported')

    const { auth0, crud, timer } = stack.current
    const docs = new Map(crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc]))
    expect(auth0.getUser(seeded.blocked.authUserId)!.blocked).toBe(true)
    expect(auth0.getUser(seeded.trashed.authUserId)!.blocked).toBe(true)
    expect(auth0.getUser(seeded.renamed.authUserId)!.email).toBe('renamed-new@example.com')
    expect(auth0.getUser(seeded.regrouped.authUserId)!.app_metadata?.groups).toEqual(['customers', 'vip'])
    expect(auth0.getUser(seeded.expired.authUserId)!.blocked).toBe(true)
    expect(docs.get(seeded.expired.crudId)!.blocked).toBe(true)
    expect(docs.get(seeded.dangling)!.authUserId).toBeUndefined()
    const expirationId = docs.get(seeded.untimed)!.expirationId as string
    expect(expirationId).toEqual(expect.any(String))
    expect(timer.requestsTo('POST', '/schedule')).toHaveLength(1)
    // The expired user's auth user was blocked before its CRUD user.
    const blockAt = auth0.requestsTo('PATCH', /^\/users\//).find((request) => decodeURIComponent(request.path).endsWith(seeded.expired.authUserId))!.at.getTime()
    const crudBlockAt = crud.requestsTo('PATCH', `${USERS_ENDPOINT}/${seeded.expired.crudId}`)[0]!.at.getTime()
    expect(blockAt).toBeLessThanOrEqual(crudBlockAt)
    expect(auth0.getUser(seeded.orphan)).toBeDefined()
    // Rebound as a PATCH of the roles does it: the subject revoked everywhere, the CRUD roles granted.
    expect(stack.current.rond.rolesOf(seeded.rebound.authUserId)).toEqual(['customer-basic'])
    expect(stack.current.rond.bindings().filter((binding) => binding.subjects?.includes(seeded.rebound.authUserId))).toEqual([
      { bindingId: expect.any(String), subjects: [seeded.rebound.authUserId], roles: ['customer-basic'] },
    ])

    const again = await reconcile(stack, { dryRun: false })
    expect(again.summary.found).toMatchObject({ 'auth-user-missing': 0, 'access-not-removed': 0, 'profile-mismatch': 0, 'expired-not-blocked': 0, 'expiry-timer-missing': 0, 'roles-mismatch': 0, 'groups-mismatch': 0, 'orphan-auth-user': 1 })
  })

  it('deletes orphan auth users only when asked, and never one created in the last minutes', async () => {
    const old = stack.current.auth0.seedUser({ email: 'old-orphan@example.com', username: 'old-orphan', password: 'Secret-Pass1', created_at: LONG_AGO })
    const fresh = stack.current.auth0.seedUser({ email: 'fresh-orphan@example.com', username: 'fresh-orphan', password: 'Secret-Pass1' })
    const done = await reconcile(stack, { dryRun: false, deleteOrphanAuthUsers: true })
    expect(done.findings).toEqual(
      expect.arrayContaining([
        { check: 'orphan-auth-user', authUserId: old.user_id, action: 'repaired' },
        { check: 'orphan-auth-user', authUserId: fresh.user_id, action: 'skipped-recent' },
      ]),
    )
    expect(stack.current.auth0.getUser(old.user_id)).toBeUndefined()
    expect(stack.current.auth0.getUser(fresh.user_id)).toBeDefined()
  })

  it('leaves a user changed in the last minutes alone, except to take its access away', async () => {
    const { auth0, crud, rond, timer } = stack.current
    const now = { updatedAt: new Date().toISOString() }
    const [dangling] = crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email: 'recent@example.com', authUserId: MISSING_AUTH_ID, ...now }])
    const renamed = consistentUser(stack.current, 'renamed-recent', { email: 'renamed-recent-new@example.com', ...now })
    const [untimed] = crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'N', surname: 'S', email: 'untimed-recent@example.com', expirationDate: '2099-01-01T00:00:00.000Z', ...now }])
    const rebound = consistentUser(stack.current, 'rebound-recent', { roles: ['customer-basic'], ...now })
    rond.seedBinding({ subjects: [rebound.authUserId], roles: ['customer-premium'] })
    const blocked = consistentUser(stack.current, 'blocked-recent', { blocked: true, ...now })
    const expired = consistentUser(stack.current, 'expired-recent', { expirationDate: '2026-02-01T00:00:00.000Z', ...now })

    const done = await reconcile(stack, { dryRun: false })
    expect(done.findings).toEqual(
      expect.arrayContaining([
        { check: 'auth-user-missing', crudId: dangling, authUserId: MISSING_AUTH_ID, action: 'skipped-recent' },
        { check: 'profile-mismatch', crudId: renamed.crudId, authUserId: renamed.authUserId, fields: ['email'], action: 'skipped-recent' },
        { check: 'expiry-timer-missing', crudId: untimed, action: 'skipped-recent' },
        { check: 'roles-mismatch', crudId: rebound.crudId, authUserId: rebound.authUserId, roles: { missing: ['customer-basic'], unexpected: ['customer-premium'] }, action: 'skipped-recent' },
        { check: 'access-not-removed', crudId: blocked.crudId, authUserId: blocked.authUserId, action: 'repaired' },
        { check: 'expired-not-blocked', crudId: expired.crudId, authUserId: expired.authUserId, action: 'repaired' },
      ]),
    )
    expect(done.findings).toHaveLength(6)
    expect(crud.documents(USERS_ENDPOINT).find((doc) => doc._id === dangling)!.authUserId).toBe(MISSING_AUTH_ID)
    expect(auth0.getUser(renamed.authUserId)!.email).toBe('renamed-recent@example.com')
    expect(timer.requestsTo('POST', '/schedule')).toEqual([])
    expect(rond.rolesOf(rebound.authUserId)).toEqual(['customer-premium'])
    expect(auth0.getUser(blocked.authUserId)!.blocked).toBe(true)
    expect(auth0.getUser(expired.authUserId)!.blocked).toBe(true)
  })

  it.each([[{ dryRun: 'maybe' }], [{ deleteOrphans: true }]])('rejects %j with 400 and starts nothing', async (body) => {
    const answer = await stack.call('POST', '/jobs/reconcile', { json: body })
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('FST_ERR_VALIDATION')
  })
})

describe('reconciliation without BINDINGS_CRUD_ENDPOINT', () => {
  const stack = useStack({ env: { BINDINGS_CRUD_ENDPOINT: undefined } })

  it('does not compare the Rönd bindings (it cannot read them)', async () => {
    const user = consistentUser(stack.current, 'unbound-one', { roles: ['customer-basic'] })
    const done = await reconcile(stack, { dryRun: true })
    expect(done.summary.found['roles-mismatch']).toBe(0)
    expect(stack.current.crud.requestsTo('GET', '/bindings/')).toEqual([])
    expect(stack.current.rond.rolesOf(user.authUserId)).toEqual([])
  })
})
