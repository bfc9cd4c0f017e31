// Taking access away: DELETE /users/:id, POST /users/state and POST /users/:id/soft-delete.
// The auth user is blocked before the CRUD document leaves PUBLIC and unblocked only after it
// is back, so no TRASH or DELETED user can log in, whichever step fails. DELETE removes the auth
// user beside the CRUD delete instead, and puts the document back should the auth user stay.
// Every step is idempotent, so calling again after a partial failure resumes from where the user
// was left.
import type { CallContext } from '../../clients/http.js'
import { CRUD_METADATA_FIELDS, type CrudDocument, type CrudState } from '../../clients/crud.js'
import { UpstreamError, mayHaveLanded, notFound } from '../../errors/index.js'
import { settleLostWrite } from '../lost-writes.js'
import { Rollback } from '../rollback.js'
import { expirationOf, updateAuthUser, type UsersDeps } from './context.js'
import type { StateChanges } from '../../schemas/users.js'

/** Source states the CRUD's `POST /state` accepts per target (its transition table). */
export const STATE_SOURCES: Record<CrudState, CrudState[]> = {
  PUBLIC: ['DRAFT'],
  DRAFT: ['PUBLIC', 'TRASH'],
  TRASH: ['PUBLIC', 'DRAFT', 'DELETED'],
  DELETED: ['TRASH'],
}

/** Targets the CRUD's `POST /:id/state` accepts from each state (one document, no-ops aside). */
const SINGLE_TRANSITIONS: Record<CrudState, CrudState[]> = {
  PUBLIC: ['DRAFT', 'TRASH'],
  DRAFT: ['PUBLIC', 'TRASH'],
  TRASH: ['DRAFT', 'DELETED'],
  DELETED: ['TRASH'],
}

/** The shortest series of single-document transitions from `from` to `to`. */
export function walkBetween(from: CrudState, to: CrudState): CrudState[] {
  const paths = new Map<CrudState, CrudState[]>([[from, []]])
  const queue = [from]
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    for (const next of SINGLE_TRANSITIONS[state]) {
      if (paths.has(next)) continue
      paths.set(next, [...paths.get(state)!, next])
      queue.push(next)
    }
  }
  return paths.get(to)!
}

const STATE_CHANGE_CONCURRENCY = 8
/** What a state change reads of each user. */
const STATE_CHANGE_FIELDS = '_id,authUserId,blocked,__STATE__,expirationId,expirationDate'

type StoredUser = CrudDocument & { authUserId?: unknown; blocked?: unknown; __STATE__?: CrudState; expirationId?: unknown; expirationDate?: unknown }

function authIdOf(user: StoredUser): string | undefined {
  return typeof user.authUserId === 'string' && user.authUserId !== '' ? user.authUserId : undefined
}

/**
 * Sets `blocked` on the auth user; false when the auth user no longer exists (a hard delete
 * earlier): it has no access either way.
 */
async function setAuthBlocked(deps: UsersDeps, authUserId: string, blocked: boolean, ctx: CallContext): Promise<boolean> {
  try {
    await updateAuthUser(deps, authUserId, { blocked }, ctx)
    return true
  } catch (error) {
    if (error instanceof UpstreamError && error.status === 404) return false
    throw error
  }
}

const blockAuthUser = (deps: UsersDeps, authUserId: string, ctx: CallContext) => setAuthBlocked(deps, authUserId, true, ctx)

/** Moves the CRUD document to `stateTo`; when the answer is lost, the state read back tells whether it did. */
async function setState(deps: UsersDeps, userId: string, stateTo: CrudState, ctx: CallContext): Promise<void> {
  try {
    await deps.crud.users.setState(userId, stateTo, ctx)
  } catch (error) {
    await settleLostWrite(error, ctx.log, async () => {
      const stored = await deps.crud.users.getById<StoredUser>(userId, ctx)
      return stored?.__STATE__ === stateTo ? stored : undefined
    })
  }
}

/** Deletes the CRUD document; when the answer is lost, a read back finding nothing says it did. */
async function deleteDocument(deps: UsersDeps, userId: string, ctx: CallContext): Promise<void> {
  try {
    await deps.crud.users.deleteById(userId, ctx)
  } catch (error) {
    await settleLostWrite(error, ctx.log, async () => ((await deps.crud.users.getById(userId, ctx)) === undefined ? true : undefined))
  }
}

/** Deletes the auth user (hard delete); when the answer is lost, a read back finding nothing says it did. */
async function deleteAuthUserOnly(deps: UsersDeps, authUserId: string, ctx: CallContext): Promise<void> {
  try {
    await deps.auth.deleteUser(authUserId, ctx)
  } catch (error) {
    await settleLostWrite(error, ctx.log, async () => ((await deps.auth.listUsersByIds([authUserId], ctx)).length === 0 ? true : undefined))
  }
}

/**
 * The Rönd bindings of a deleted auth user go too: they name a subject that no longer exists.
 * Best effort, like the timer's abort: the user is gone either way.
 */
async function revokeBindings(deps: UsersDeps, authUserId: string, ctx: CallContext): Promise<void> {
  if (!deps.config.rondEnabled) return
  try {
    await deps.rond.revokeSubject(authUserId, ctx)
  } catch (error) {
    ctx.log.warn({ err: error, authUserId }, 'could not revoke the bindings of a deleted auth user')
  }
}

/** Deletes the auth user and its Rönd bindings. */
async function deleteAuthUser(deps: UsersDeps, authUserId: string, ctx: CallContext): Promise<void> {
  await deleteAuthUserOnly(deps, authUserId, ctx)
  await revokeBindings(deps, authUserId, ctx)
}

/** Moves the CRUD document from `from` to `to` one allowed transition at a time. */
async function walkState(deps: UsersDeps, userId: string, from: CrudState | undefined, to: CrudState, ctx: CallContext): Promise<void> {
  // A document without a state may be moved anywhere.
  for (const stateTo of from === undefined ? [to] : walkBetween(from, to)) await setState(deps, userId, stateTo, ctx)
}

/** Walks the CRUD document to DELETED, through TRASH where the single-document transitions need it. */
const moveToDeleted = (deps: UsersDeps, user: StoredUser, ctx: CallContext) => walkState(deps, user._id, user.__STATE__, 'DELETED', ctx)

/** Aborts a pending expiry timer; failures are logged and ignored (the user is going away). */
async function abortPendingExpiry(deps: UsersDeps, user: StoredUser, ctx: CallContext): Promise<void> {
  const expiresAt = expirationOf(user.expirationDate)
  if (!deps.timer || typeof user.expirationId !== 'string' || !expiresAt || expiresAt.getTime() <= Date.now()) return
  try {
    await deps.timer.abort(user.expirationId, ctx)
  } catch (error) {
    ctx.log.warn({ err: error, userId: user._id }, 'could not abort the expiry timer of a removed user')
  }
}

/**
 * Puts a deleted CRUD document back, with its `_id`, its fields and its state: the undo of a delete
 * whose auth user could not be removed. Only its creation metadata is new. Harmless when the
 * delete did not land: the document is then found and left as it is.
 */
async function restoreDocument(deps: UsersDeps, user: StoredUser, ctx: CallContext): Promise<void> {
  const fields = Object.fromEntries(Object.entries(user).filter(([field]) => !(CRUD_METADATA_FIELDS as readonly string[]).includes(field)))
  let restored: StoredUser | undefined
  try {
    restored = await deps.crud.users.upsertOne<StoredUser>({ _id: user._id }, { $setOnInsert: fields }, ctx)
  } catch (error) {
    restored = await settleLostWrite(error, ctx.log, () => deps.crud.users.getById<StoredUser>(user._id, ctx))
  }
  if (restored._id !== user._id) throw new Error(`the CRUD restored user ${user._id} under another _id, ${restored._id}`)
  if (user.__STATE__ !== undefined && restored.__STATE__ !== user.__STATE__) {
    await walkState(deps, user._id, restored.__STATE__, user.__STATE__, ctx)
  } else if (!(await deps.crud.users.getById(user._id, ctx))) {
    // The state walk reads it by id; without one, so does this: a copy the id does not reach is no restore.
    throw new Error(`the CRUD restored user ${user._id}, but not where its _id finds it`)
  }
}

/**
 * DELETE /users/:id in two round trips: the read, then side by side the auth user's removal
 * (deleted, or blocked without AUTH_HARD_DELETE) and the CRUD delete. Should the auth user stay,
 * the document is put back, so that the user is as it was and a retry starts over. Should the
 * CRUD delete fail after the auth user is gone, the document is walked to DELETED instead, where
 * it may point at a deleted auth user (a retry finishes the job); if even that fails,
 * reconciliation finds the missing auth user. The revoke of a deleted auth user's bindings and
 * the abort of a pending expiry follow the answer: both are best effort.
 */
export async function deleteUser(deps: UsersDeps, userId: string, ctx: CallContext): Promise<void> {
  const user = await deps.crud.users.getById<StoredUser>(userId, ctx)
  if (!user) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
  const authUserId = authIdOf(user)
  const hardDelete = authUserId !== undefined && deps.config.authHardDelete
  const removeAccess = async () => {
    if (!authUserId) return
    if (hardDelete) await deleteAuthUserOnly(deps, authUserId, ctx)
    else await blockAuthUser(deps, authUserId, ctx)
  }
  const [access, document] = await Promise.allSettled([removeAccess(), deleteDocument(deps, userId, ctx)])
  if (access.status === 'rejected') {
    // A delete refused outright changed nothing; any other may have landed.
    if (document.status === 'fulfilled' || mayHaveLanded(document.reason)) {
      const rollback = new Rollback('deleteUser', ctx.log, { userId, authUserId })
      rollback.add('restore the CRUD user', () => restoreDocument(deps, user, ctx))
      await rollback.run()
    }
    throw access.reason
  }
  // Not awaited: nothing the caller is told depends on them.
  if (hardDelete) void revokeBindings(deps, authUserId!, ctx)
  if (document.status === 'rejected') {
    if (hardDelete) await moveToDeleted(deps, user, ctx).catch((walkError: unknown) => ctx.log.warn({ err: walkError, userId }, 'a user whose auth user is deleted could not be moved to DELETED either'))
    throw document.reason
  }
  // Only once the document is gone: a user left in place keeps its timer. Should the abort not
  // happen, the timer's callback finds no user.
  void abortPendingExpiry(deps, user, ctx)
}

/**
 * A user restored out of DELETED whose auth user was hard-deleted: its `authUserId` is removed so
 * it becomes a CRUD-only user that `POST /users/register` can give a new auth user.
 */
async function forgetDeletedAuthUser(deps: UsersDeps, user: StoredUser, ctx: CallContext): Promise<void> {
  await deps.crud.users.patchById(user._id, { $unset: { authUserId: true } }, ctx)
}

/** Moves one user to `stateTo` in the safe order. */
async function moveUser(deps: UsersDeps, user: StoredUser, stateTo: CrudState, ctx: CallContext): Promise<void> {
  const authUserId = authIdOf(user)
  if (stateTo === 'PUBLIC') {
    await setState(deps, user._id, stateTo, ctx)
    // A user blocked in the CRUD (e.g. expired) stays blocked in auth when it is restored.
    if (authUserId && user.blocked !== true && !(await setAuthBlocked(deps, authUserId, false, ctx))) {
      await forgetDeletedAuthUser(deps, user, ctx)
    }
    return
  }
  const authUserExists = authUserId !== undefined && (await blockAuthUser(deps, authUserId, ctx))
  await setState(deps, user._id, stateTo, ctx)
  if (stateTo === 'DELETED') {
    if (authUserExists && deps.config.authHardDelete) await deleteAuthUser(deps, authUserId, ctx)
    await abortPendingExpiry(deps, user, ctx)
  } else if (authUserId && !authUserExists) {
    await forgetDeletedAuthUser(deps, user, ctx)
  }
}

/** Every user matching `filter` in one of `states`. */
function usersMatching(deps: UsersDeps, filter: Record<string, unknown>, states: CrudState[], ctx: CallContext): Promise<StoredUser[]> {
  return deps.users.all<StoredUser>(filter, ctx, { states: states.join(','), fields: STATE_CHANGE_FIELDS })
}

/** Runs `task` over `items` with at most `limit` at once; the first failure stops new starts. */
async function forEachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!
      try {
        await task(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.error
}

/** POST /users/state: every user matching each filter, in a state the CRUD can move, is moved. */
export async function changeUsersState(
  deps: UsersDeps,
  commands: StateChanges,
  ctx: CallContext,
): Promise<number> {
  let changed = 0
  for (const { filter, stateTo } of commands) {
    const users = await usersMatching(deps, filter, STATE_SOURCES[stateTo], ctx)
    await forEachLimited(users, STATE_CHANGE_CONCURRENCY, async (user) => {
      await moveUser(deps, user, stateTo, ctx)
      changed += 1
    })
  }
  return changed
}

/**
 * POST /users/:id/soft-delete: block, walk the CRUD to DELETED (through TRASH when needed), then
 * delete or keep blocked the auth user. Each step is idempotent, so a call after a partial
 * failure resumes from the state the user was left in.
 */
export async function softDeleteUser(deps: UsersDeps, userId: string, ctx: CallContext): Promise<void> {
  const user = await deps.crud.users.getById<StoredUser>(userId, ctx)
  if (!user) throw notFound(`User ${userId} not found`, 'UMS_USER_NOT_FOUND')
  const authUserId = authIdOf(user)
  if (authUserId) await blockAuthUser(deps, authUserId, ctx)
  await moveToDeleted(deps, user, ctx)
  if (authUserId && deps.config.authHardDelete) await deleteAuthUser(deps, authUserId, ctx)
  await abortPendingExpiry(deps, user, ctx)
}
