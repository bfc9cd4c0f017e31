// What the fault matrix checks after each case, beyond the route's answer: the stores agree with
// each other (the invariant every multi-step route keeps), and a reconciliation repairs whatever a
// case documents as left behind, after which another finds nothing.
import { expect } from 'vitest'
import { expectConsistent, type Unlinked } from '../helpers/consistency.js'
import type { StackHandle } from '../helpers/stack.js'
import { waitForJob } from '../helpers/wait.js'

interface ReconcileResult {
  status: string
  summary: { found: Record<string, number>; repaired: number; repairFailed: number }
  findings: Array<{ check: string; authUserId?: string; action: string }>
}

/** Starts the job at `path` (202) and polls `path/:id` until it is no longer pending; answers its end. */
export async function runJob<T = any>(stack: StackHandle, path: string, body: unknown): Promise<T> {
  const created = await stack.call('POST', path, { json: body })
  expect(created.status).toBe(202)
  return (await waitForJob(stack.current.url, `${path}/${created.body.jobId}`)).body as T
}

/**
 * A reconciliation run to its end. One that failed is run again, twice at most: the matrix's stacks
 * time peer calls out after 300 ms, which a read of a loaded machine can take; a reconciliation
 * that fails for any other reason fails every time.
 */
export async function reconcile(stack: StackHandle, body: Record<string, unknown>): Promise<ReconcileResult> {
  let result = await runJob<ReconcileResult>(stack, '/jobs/reconcile', body)
  for (let retry = 0; retry < 2 && result.status === 'failed'; retry += 1) result = await runJob<ReconcileResult>(stack, '/jobs/reconcile', body)
  return result
}

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
  expectConsistent(stack.current, unlinked)
}
