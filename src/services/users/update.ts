// PATCH /users/:id: validate the patched user against its (new or current) group, then change
// the CRUD, the auth service, the Rönd bindings and the expiry timer so they stay consistent.
// Access is removed before anything else and granted last; every step registers its undo; steps
// that do not depend on each other run side by side.
import type { CallContext } from '../../clients/http.js'
import type { CrudDocument } from '../../clients/crud.js'
import type { AuthUserChanges } from '../../auth-providers/provider.js'
import { badRequest, mayHaveLanded, notFound } from '../../errors/index.js'
import { repeatIfLost } from '../lost-writes.js'
import { Rollback, sideBySide } from '../rollback.js'
import {
  PATCH_OPERATORS,
  applyPatch,
  assertClientWritable,
  compensatingPatch,
  patchedPaths,
  sameValue,
  stringArray,
  type UserPatch,
} from './fields.js'
import { appMetadataOf, expirationOf, grantRoles, scheduleExpiry, updateAuthUser, type UsersDeps } from './context.js'
import { patchUserReadBack, showsUpdate } from './read-back.js'
import { mustBeBlocked } from './repository.js'
import { isPlainObject } from '../../lib/plain-object.js'

export interface PatchOptions {
  /** A new email is unverified: the auth service sends its verification email (self-service). */
  verifyNewEmail?: boolean
  /** The user as the caller has just read it (self-service): spares reading it again. */
  current?: CrudDocument
}

function authChanges(before: CrudDocument, after: Record<string, unknown>, options: PatchOptions): { apply: AuthUserChanges; restore: AuthUserChanges } {
  const apply: AuthUserChanges = {}
  const restore: AuthUserChanges = {}
  for (const field of ['email', 'username'] as const) {
    if (sameValue(before[field], after[field])) continue
    const value = after[field]
    if (typeof value !== 'string') throw badRequest(`${field} cannot be removed from a user of the auth service`, 'UMS_INVALID_UPDATE')
    apply[field] = value
    // A value the CRUD did not have cannot be put back (the auth service has no "unset").
    const previous = before[field]
    if (typeof previous === 'string') restore[field] = previous
  }
  if (apply.email !== undefined && options.verifyNewEmail) {
    apply.email_verified = false
    apply.verify_email = true
  }
  const groupsBefore = appMetadataOf(before.groups)
  const groupsAfter = appMetadataOf(after.groups)
  if (!sameValue(groupsBefore, groupsAfter)) {
    apply.app_metadata = groupsAfter
    restore.app_metadata = groupsBefore
  }
  // The auth service has no "unset" either: a removed blocked flag means not blocked.
  const wasBlocked = mustBeBlocked(before)
  const isBlocked = mustBeBlocked(after)
  if (wasBlocked !== isBlocked) {
    apply.blocked = isBlocked
    restore.blocked = wasBlocked
  }
  return { apply, restore }
}

const RESERVED_PATH_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype'])

const OPERATOR_LIST = `${PATCH_OPERATORS.slice(0, -1).join(', ')} or ${PATCH_OPERATORS[PATCH_OPERATORS.length - 1]}`

function validatePatchShape(patch: UserPatch): void {
  const keys = Object.keys(patch)
  if (keys.length === 0) throw badRequest(`body must hold an update operator (${OPERATOR_LIST})`, 'UMS_INVALID_UPDATE')
  for (const key of keys) {
    // A bare field (`{"name": "x"}`) is the usual mistake: say that an operator was expected.
    if (!key.startsWith('$')) throw badRequest(`body.${key} is not an update operator: expected ${OPERATOR_LIST}`, 'UMS_INVALID_UPDATE')
    if (!(PATCH_OPERATORS as readonly string[]).includes(key)) throw badRequest(`body.${key} is not a supported update operator`, 'UMS_INVALID_UPDATE')
    if (!isPlainObject(patch[key as keyof UserPatch], 'not-date')) throw badRequest(`body.${key} must be object`, 'UMS_INVALID_UPDATE')
  }
  const paths = patchedPaths(patch)
  // The patch is applied to a plain object to predict the user: a `__proto__` segment would reach
  // Object.prototype and change every object of the process.
  const reserved = paths.find((path) => path.split('.').some((segment) => RESERVED_PATH_SEGMENTS.has(segment)))
  if (reserved !== undefined) throw badRequest(`body: the field path ${reserved} names __proto__, constructor or prototype`, 'UMS_INVALID_UPDATE')
  assertClientWritable(paths, 'modified')
  // MongoDB refuses an update touching one path twice (or a path and its parent);
  // the CRUD would answer that with a 500, but it is the caller's mistake.
  const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)
  paths.forEach((path, index) => {
    const other = paths.slice(index + 1).find((candidate) => overlaps(path, candidate))
    if (other !== undefined) throw badRequest(`body: the updates of ${path} and ${other} conflict`, 'UMS_INVALID_UPDATE')
  })
}

/** The expiration a patch sets outright (`$set.expirationDate`), known before the user is read. */
function expirationSetBy(patch: UserPatch): Date | undefined {
  const set = patch.$set
  return isPlainObject(set, 'not-date') ? expirationOf(set.expirationDate) : undefined
}

export async function patchUser(deps: UsersDeps, userId: string, patch: UserPatch, ctx: CallContext, options: PatchOptions = {}): Promise<CrudDocument> {
  validatePatchShape(patch)
  const { crud, auth, timer, config } = deps
  const rollback = new Rollback('updateUser', ctx.log, { userId })
  return rollback.guard(async () => {
    // A timer for an expiration the patch sets is scheduled while the user is read: it needs only
    // the id and the date. Should the date turn out unchanged, or the patch be refused, it is aborted.
    const earlyExpiration = timer ? expirationSetBy(patch) : undefined
    const [before, earlyTimerId] = await sideBySide(
      async () => options.current ?? crud.users.getById<CrudDocument>(userId, ctx),
      async () => (earlyExpiration ? scheduleExpiry(deps, userId, earlyExpiration, ctx, rollback) : undefined),
    )
    if (!before) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
    const authUserId = typeof before.authUserId === 'string' && before.authUserId !== '' ? before.authUserId : undefined
    rollback.ids.authUserId = authUserId

    const after = applyPatch(before, patch)
    if (typeof after.userGroup !== 'string' || after.userGroup === '') throw badRequest('body.userGroup must be a non-empty string', 'UMS_INVALID_UPDATE')
    const group = await deps.groups.get(after.userGroup, ctx)
    const problem = group.validate(after)
    if (problem) throw badRequest(problem, 'UMS_GROUP_SCHEMA_MISMATCH')

    const changes = authUserId ? authChanges(before, after, options) : { apply: {}, restore: {} }
    const oldExpiration = expirationOf(before.expirationDate)
    const newExpiration = expirationOf(after.expirationDate)
    const expirationChanged = timer !== undefined && oldExpiration?.getTime() !== newExpiration?.getTime()
    const oldExpirationId = typeof before.expirationId === 'string' ? before.expirationId : undefined
    const earlyTimerFits = earlyTimerId !== undefined && expirationChanged && newExpiration?.getTime() === earlyExpiration?.getTime()
    const predictedRolesChange = !sameValue(stringArray(before.roles), stringArray(after.roles))
    const bindsRoles = authUserId !== undefined && config.rondEnabled
    const abortsOldTimer = expirationChanged && oldExpirationId !== undefined && timer !== undefined
    const blocking = changes.apply.blocked === true

    const syncAuth = async () => {
      if (!authUserId || Object.keys(changes.apply).length === 0) return
      const restore = () => {
        if (Object.keys(changes.restore).length > 0) rollback.add('restore the auth user', () => auth.updateUser(authUserId, changes.restore, ctx))
      }
      // Restoring is harmless when the change did not land: it is registered when that is unknown too.
      await updateAuthUser(deps, authUserId, changes.apply, ctx, { onUnknown: restore })
      restore()
    }
    const grantPrevious = async () => {
      const previous = stringArray(before.roles)
      if (authUserId && previous.length > 0) await deps.rond.grantRoles(authUserId, previous, ctx)
    }
    const revokeRoles = async () => {
      if (!authUserId) return
      try {
        await repeatIfLost(() => deps.rond.revokeSubject(authUserId, ctx), ctx.log)
      } catch (error) {
        // A lost revoke may have landed: revoking again first makes the re-grant right either way.
        if (mayHaveLanded(error)) {
          rollback.add('bind the previous roles again', async () => {
            await deps.rond.revokeSubject(authUserId, ctx)
            await grantPrevious()
          })
        }
        throw error
      }
      rollback.add('grant the previous roles again', grantPrevious)
    }
    const crudPatch: UserPatch = structuredClone(patch)
    const newTimer = async () => {
      if (!expirationChanged) return
      const expirationId = earlyTimerFits ? earlyTimerId : newExpiration ? await scheduleExpiry(deps, userId, newExpiration, ctx, rollback) : undefined
      if (expirationId) crudPatch.$set = { ...crudPatch.$set, expirationId }
      else if (oldExpirationId) crudPatch.$unset = { ...crudPatch.$unset, expirationId: true }
    }

    // The old timer is aborted together with the last steps. Should one of them fail after it was,
    // its expiration is scheduled again: registered before the CRUD user's restore, this undo runs
    // after it, and leaves the restored user with a timer that fires.
    let oldTimerAborted = false
    if (abortsOldTimer && oldExpiration) {
      rollback.add('schedule the previous expiration again', async () => {
        if (!oldTimerAborted) return
        const expirationId = await scheduleExpiry(deps, userId, oldExpiration, ctx, new Rollback('updateUser', ctx.log, { userId }))
        if (expirationId) await crud.users.patchById(userId, { $set: { expirationId } }, ctx)
      })
    }

    // Access is removed first: the auth user blocked, the roles revoked (the new ones are granted
    // once the CRUD has stored them). Blocking goes before the CRUD write; the revoke goes beside it.
    const revokedEarly = predictedRolesChange && bindsRoles
    const restoreCrud = () => rollback.add('restore the CRUD user', () => crud.users.patchById(userId, compensatingPatch(before, crudPatch), ctx))
    const writeCrud = async () => {
      await newTimer()
      const stored = await patchUserReadBack(crud.users, userId, crudPatch, (doc) => showsUpdate(before, crudPatch, doc), ctx, { onUnknown: restoreCrud })
      if (!stored) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
      restoreCrud()
      return stored
    }
    let updated: CrudDocument
    if (blocking) {
      await sideBySide(syncAuth, async () => (revokedEarly ? revokeRoles() : undefined))
      updated = await writeCrud()
    } else {
      ;[updated] = await sideBySide(writeCrud, async () => (revokedEarly ? revokeRoles() : undefined))
    }

    // The groups the auth user gets are the ones the CRUD stored, as are the roles Rönd binds: the
    // prediction ignores some MongoDB semantics ($push with $slice, $pull with a condition).
    if (!blocking) {
      const storedGroups = appMetadataOf(updated.groups)
      const groupsBefore = appMetadataOf(before.groups)
      if (sameValue(storedGroups, groupsBefore)) delete changes.apply.app_metadata
      else Object.assign(changes, { apply: { ...changes.apply, app_metadata: storedGroups }, restore: { ...changes.restore, app_metadata: groupsBefore } })
    }
    const newRoles = stringArray(updated.roles)
    const storedRolesChange = !sameValue(stringArray(before.roles), newRoles)
    const bindNewRoles = async () => {
      if (!bindsRoles || !authUserId) return
      if (revokedEarly) return grantRoles(deps, authUserId, newRoles, ctx, rollback)
      if (!storedRolesChange) return
      await revokeRoles()
      await grantRoles(deps, authUserId, newRoles, ctx, rollback)
    }
    const abortOldTimer = async () => {
      if (!abortsOldTimer) return
      try {
        await repeatIfLost(() => timer!.abort(oldExpirationId!, ctx), ctx.log)
        oldTimerAborted = true
      } catch (error) {
        if (mayHaveLanded(error)) oldTimerAborted = true
        throw error
      }
    }
    // A timer scheduled early for a date that did not change is not needed.
    const abortUnneededTimer = async () => {
      if (earlyTimerId !== undefined && !earlyTimerFits) await repeatIfLost(() => timer!.abort(earlyTimerId, ctx), ctx.log)
    }
    // Access is granted last: the auth user unblocked or changed, and the new roles, side by side.
    await sideBySide(async () => (blocking ? undefined : syncAuth()), bindNewRoles, abortOldTimer, abortUnneededTimer)
    return updated
  })
}
