// PATCH /users/:id: validate the patched user against its (new or current) group, then change
// the CRUD, the auth service, the Rönd bindings and the expiry timer so they stay consistent.
// Access is removed before anything else and granted last; every step registers its undo.
import type { CallContext } from '../../clients/http.js'
import type { CrudDocument } from '../../clients/crud.js'
import type { AuthUserChanges } from '../../auth-providers/provider.js'
import { badRequest, mayHaveLanded, notFound } from '../../errors/index.js'
import { repeatIfLost } from '../lost-writes.js'
import { Rollback } from '../rollback.js'
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
import { expirationOf, grantRoles, scheduleExpiry, updateAuthUser, type UsersDeps } from './context.js'
import { patchUserReadBack, showsUpdate } from './read-back.js'
import { mustBeBlocked } from './repository.js'
import { isPlainObject } from '../../lib/plain-object.js'

function authChanges(before: CrudDocument, after: Record<string, unknown>): { apply: AuthUserChanges; restore: AuthUserChanges } {
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

export async function patchUser(deps: UsersDeps, userId: string, patch: UserPatch, ctx: CallContext): Promise<CrudDocument> {
  validatePatchShape(patch)
  const { crud, auth, timer, config } = deps
  const rollback = new Rollback('updateUser', ctx.log, { userId })
  const before = await crud.users.getById<CrudDocument>(userId, ctx)
  if (!before) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
  const authUserId = typeof before.authUserId === 'string' && before.authUserId !== '' ? before.authUserId : undefined
  rollback.ids.authUserId = authUserId

  const after = applyPatch(before, patch)
  if (typeof after.userGroup !== 'string' || after.userGroup === '') throw badRequest('body.userGroup must be a non-empty string', 'UMS_INVALID_UPDATE')
  const group = await deps.groups.get(after.userGroup, ctx)
  const problem = group.validate(after)
  if (problem) throw badRequest(problem, 'UMS_GROUP_SCHEMA_MISMATCH')

  const changes = authUserId ? authChanges(before, after) : { apply: {}, restore: {} }
  const oldExpiration = expirationOf(before.expirationDate)
  const newExpiration = expirationOf(after.expirationDate)
  const expirationChanged = timer !== undefined && oldExpiration?.getTime() !== newExpiration?.getTime()
  const oldExpirationId = typeof before.expirationId === 'string' ? before.expirationId : undefined

  return rollback.guard(async () => {
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
    // Blocking removes access: it happens before the CRUD says so.
    if (blocking) await syncAuth()

    const crudPatch: UserPatch = structuredClone(patch)
    if (expirationChanged) {
      const expirationId = newExpiration ? await scheduleExpiry(deps, userId, newExpiration, ctx, rollback) : undefined
      if (expirationId) crudPatch.$set = { ...crudPatch.$set, expirationId }
      else if (oldExpirationId) crudPatch.$unset = { ...crudPatch.$unset, expirationId: true }
    }
    const restoreCrud = () => rollback.add('restore the CRUD user', () => crud.users.patchById(userId, compensatingPatch(before, crudPatch), ctx))
    const updated = await patchUserReadBack(crud.users, userId, crudPatch, (stored) => showsUpdate(before, crudPatch, stored), ctx, { onUnknown: restoreCrud })
    if (!updated) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
    restoreCrud()

    if (!blocking) await syncAuth()
    // The roles bound in Rönd are the ones the CRUD stored, not our prediction of them: the
    // prediction ignores some MongoDB semantics ($push with $slice, $pull with a condition).
    const newRoles = stringArray(updated.roles)
    const rolesChanged = !sameValue(stringArray(before.roles), newRoles)
    if (rolesChanged && authUserId && config.rondEnabled) {
      const grantPrevious = async () => {
        const previous = stringArray(before.roles)
        if (previous.length > 0) await deps.rond.grantRoles(authUserId, previous, ctx)
      }
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
      await grantRoles(deps, authUserId, newRoles, ctx, rollback)
    }
    // The old timer goes last: until the change has fully succeeded it must still fire.
    if (expirationChanged && oldExpirationId && timer) await repeatIfLost(() => timer.abort(oldExpirationId, ctx), ctx.log)
    return updated
  })
}
