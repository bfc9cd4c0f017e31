// Repairing what reconciliation found, unless it is a dry run. Repairs remove access before
// anything else, act only toward what the CRUD says, and leave alone what changed in the last
// minutes (an operation still under way looks like an inconsistency, and a repair could undo it),
// except blocking: taking access away is always safe.
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES } from '../../clients/crud.js'
import { UpstreamError } from '../../errors/index.js'
import type { UsersDeps } from '../users/context.js'
import { appMetadataOf, expirationOf, scheduleExpiry } from '../users/context.js'
import type { StoredUser } from '../users/repository.js'
import { stringArray } from '../users/fields.js'
import { Rollback } from '../rollback.js'
import { isRecent, type Action, type AuthProfile, type Check, type Problem } from './checks.js'
import type { ReconcileBody } from '../../schemas/jobs.js'

/** What the caller asks of a reconciliation (dryRun, deleteOrphanAuthUsers), as its request schema says. */
export type ReconcileOptions = ReconcileBody

/** What repairing writes through, and what it may do. */
export interface RepairScope {
  deps: Pick<UsersDeps, 'config' | 'crud' | 'auth' | 'timer' | 'rond'>
  ctx: CallContext
  /** When the run started (epoch ms): recency is judged at that time. */
  now: number
  options: ReconcileOptions
}

/** The repairs that only block: safe whatever is under way, so never held back by the recent window. */
const REMOVES_ACCESS: ReadonlySet<Check> = new Set(['access-not-removed', 'expired-not-blocked'])

/** Repairs toward what the CRUD user says, access removed first. */
export async function repairUser(scope: RepairScope, problem: Problem, user: StoredUser): Promise<Action> {
  if (scope.options.dryRun) return 'reported'
  const { deps, ctx } = scope
  const { crud, auth } = deps
  if (!REMOVES_ACCESS.has(problem.check) && isRecent(user.updatedAt, scope.now, deps.config.reconcileRecentWindowMs)) return 'skipped-recent'
  try {
    switch (problem.check) {
      case 'expired-not-blocked':
        if (problem.authUserId) await blockIfPresent(scope, problem.authUserId)
        await crud.users.patchById(user._id, { $set: { blocked: true } }, ctx)
        return 'repaired'
      case 'access-not-removed':
        await auth.updateUser(problem.authUserId!, { blocked: true }, ctx)
        return 'repaired'
      case 'profile-mismatch': {
        const changes: { email?: string; username?: string } = {}
        for (const field of problem.fields ?? []) changes[field as 'email' | 'username'] = user[field as 'email' | 'username'] as string
        await auth.updateUser(problem.authUserId!, changes, ctx)
        return 'repaired'
      }
      case 'auth-user-missing':
        // Guarded: only while the user still points to the missing auth user.
        await crud.users.patchBulk([{ filter: { _id: user._id, _st: ALL_STATES, _q: JSON.stringify({ authUserId: problem.authUserId }) }, update: { $unset: { authUserId: true } } }], ctx)
        return 'repaired'
      case 'expiry-timer-missing':
        return await scheduleMissingTimer(scope, user)
      case 'groups-mismatch':
        await auth.updateUser(problem.authUserId!, { app_metadata: appMetadataOf(user.groups) }, ctx)
        return 'repaired'
      case 'roles-mismatch': {
        // As a PATCH of the roles does: every binding naming the user revoked, then the CRUD roles granted.
        await deps.rond.revokeSubject(problem.authUserId!, ctx)
        const roles = stringArray(user.roles)
        if (roles.length > 0) await deps.rond.grantRoles(problem.authUserId!, roles, ctx)
        return 'repaired'
      }
      default:
        return 'reported'
    }
  } catch (error) {
    ctx.log.warn({ err: error, check: problem.check, crudId: problem.crudId, authUserId: problem.authUserId }, 'reconciliation: repair failed')
    return 'repair-failed'
  }
}

async function blockIfPresent(scope: RepairScope, authUserId: string): Promise<void> {
  try {
    await scope.deps.auth.updateUser(authUserId, { blocked: true }, scope.ctx)
  } catch (error) {
    if (!(error instanceof UpstreamError) || error.status !== 404) throw error
  }
}

async function scheduleMissingTimer(scope: RepairScope, user: StoredUser): Promise<Action> {
  const { deps, ctx } = scope
  const expiresAt = expirationOf(user.expirationDate)
  if (!expiresAt) return 'reported'
  const rollback = new Rollback('reconcile', ctx.log, { userId: user._id })
  await rollback.guard(async () => {
    const expirationId = await scheduleExpiry(deps, user._id, expiresAt, ctx, rollback)
    if (expirationId) await deps.crud.users.patchById(user._id, { $set: { expirationId } }, ctx)
  })
  return 'repaired'
}

/** Deletes an auth user no CRUD user points to, when the run was asked to. */
export async function repairOrphan(scope: RepairScope, profile: AuthProfile): Promise<Action> {
  const { dryRun, deleteOrphanAuthUsers } = scope.options
  if (dryRun || !deleteOrphanAuthUsers) return 'reported'
  // An auth user a moment old may be one whose CRUD user is being linked right now.
  if (isRecent(profile.created_at, scope.now, scope.deps.config.reconcileRecentWindowMs)) return 'skipped-recent'
  try {
    await scope.deps.auth.deleteUser(profile.user_id, scope.ctx)
    return 'repaired'
  } catch (error) {
    scope.ctx.log.warn({ err: error, authUserId: profile.user_id }, 'reconciliation: orphan auth user not deleted')
    return 'repair-failed'
  }
}
