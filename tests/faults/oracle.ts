// What the fault matrix checks after each case, beyond the route's answer: the stores agree with
// each other (the invariant every multi-step route keeps), and a reconciliation repairs whatever a
// case documents as left behind, after which another finds nothing.
import { expect } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { Stack } from '../../src/sandbox/stack.js'
import type { StackHandle } from '../helpers/stack.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Auth users that are expected to have no CRUD user (they had none before the case). */
export type Unlinked = ReadonlySet<string>

/** Where the stores disagree, one line each; empty when consistent. */
export function inconsistencies(stack: Stack, unlinked: Unlinked = new Set()): string[] {
  const problems: string[] = []
  const users = stack.crud.documents(USERS_ENDPOINT)
  const authUsers = new Map(stack.auth0.listUsers().map((user) => [user.user_id, user]))
  const linked = new Set(users.map((user) => user.authUserId).filter((id): id is string => typeof id === 'string'))
  for (const id of authUsers.keys()) if (!linked.has(id) && !unlinked.has(id)) problems.push(`auth user ${id} has no CRUD user`)
  const pending = new Set(stack.timer.expirations().filter((timer) => timer.expirationStatus.description === 'pending').map((timer) => timer.expirationId))
  const now = Date.now()
  for (const user of users) {
    const id = String(user._id)
    const authUserId = typeof user.authUserId === 'string' ? user.authUserId : undefined
    const hardDeleted = user.__STATE__ === 'DELETED' && stack.config.authHardDelete
    const authUser = authUserId === undefined ? undefined : authUsers.get(authUserId)
    if (authUserId !== undefined && !authUser && !hardDeleted) problems.push(`CRUD user ${id} points at missing auth user ${authUserId}`)
    const mustBeBlocked = user.blocked === true || (user.__STATE__ !== undefined && user.__STATE__ !== 'PUBLIC')
    if (authUser && mustBeBlocked && authUser.blocked !== true) problems.push(`auth user of ${String(user.__STATE__)} user ${id} is not blocked`)
    if (authUser && typeof user.email === 'string' && authUser.email !== user.email.toLowerCase()) problems.push(`email of user ${id} differs`)
    if (authUser && stack.config.rondEnabled) {
      const roles = Array.isArray(user.roles) ? [...(user.roles as string[])].sort() : []
      const bound = [...stack.rond.rolesOf(authUser.user_id)].sort()
      if (JSON.stringify(roles) !== JSON.stringify(bound)) problems.push(`roles of user ${id} are bound as [${bound.join(',')}]`)
    }
    const expiresAt = typeof user.expirationDate === 'string' ? Date.parse(user.expirationDate) : NaN
    if (expiresAt > now && user.__STATE__ !== 'DELETED' && !pending.has(String(user.expirationId))) problems.push(`user ${id} has no pending expiry timer`)
  }
  return problems
}

export function expectConsistentStores(stack: Stack, unlinked?: Unlinked): void {
  expect(inconsistencies(stack, unlinked)).toEqual([])
}

interface ReconcileResult {
  status: string
  summary: { found: Record<string, number>; repaired: number; repairFailed: number }
  findings: Array<{ check: string; authUserId?: string; action: string }>
}

/** Starts the job at `path` (202) and polls `path/:id` until it is no longer pending; answers its end. */
export async function runJob<T = any>(stack: StackHandle, path: string, body: unknown): Promise<T> {
  const created = await stack.call('POST', path, { json: body })
  expect(created.status).toBe(202)
  const deadline = Date.now() + 15_000
  for (;;) {
    const answer = await stack.call('GET', `${path}/${created.body.jobId}`)
    expect(answer.status).toBe(200)
    if (answer.body.status !== 'pending') return answer.body as T
    if (Date.now() > deadline) throw new Error(`${path} still pending after 15 s`)
    await sleep(20)
  }
}

export const reconcile = (stack: StackHandle, body: Record<string, unknown>) => runJob<ReconcileResult>(stack, '/jobs/reconcile', body)

/**
 * A repairing reconciliation: it completes, fails no repair, and finds something exactly when the
 * case left something (`leftover`); a dry run after it finds nothing but the `unlinked` auth users.
 */
export async function expectReconciled(stack: StackHandle, leftover: boolean, unlinked: Unlinked): Promise<void> {
  // Orphan auth users the case made are deleted; the ones it started with are only reported.
  const repair = await reconcile(stack, { dryRun: false, deleteOrphanAuthUsers: unlinked.size === 0 })
  expect(repair.status).toBe('completed')
  expect(repair.summary.repairFailed).toBe(0)
  const repairable = repair.findings.filter((finding) => !(finding.check === 'orphan-auth-user' && unlinked.has(finding.authUserId ?? '')))
  if (leftover) expect(repairable.length, 'the reconciliation repairs what the case left').toBeGreaterThan(0)
  else expect(repairable, 'nothing left to repair').toEqual([])
  for (const finding of repairable) expect(finding.action, finding.check).toBe('repaired')
  const check = await reconcile(stack, { dryRun: true })
  expect(check.findings.filter((finding) => !(finding.check === 'orphan-auth-user' && unlinked.has(finding.authUserId ?? '')))).toEqual([])
  expectConsistentStores(stack.current, unlinked)
}
