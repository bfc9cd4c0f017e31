// After an import job completed: its per-user errors mapped back to CRUD users, the auth id of
// every other user resolved, and `authUserId` written to the CRUD. Every step can run again with
// the same result (a resumed run links what an earlier one left unlinked): the writes are guarded
// and idempotent, and an auth user nobody links is deleted only when the CRUD said so for sure.
import type { AuthProvider, ImportError, ImportJob, ImportUser } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import type { CrudClient } from '../../clients/crud.js'
import type { UsersRepository } from '../users/repository.js'
import { writeLinks, type Link } from './crud-users.js'
import { AUTH0_USER_ID_PREFIX } from '../../auth-providers/auth0-contract.js'
import { messageOf } from '../../lib/message-of.js'
import { sleep } from '../../lib/sleep.js'
import { generatedAuthId, resolveAuthIds } from './resolve.js'
import { ACTIVATION_ERROR_CODES, failure, type BulkActivationFailure } from './result.js'

export interface LinkingDeps {
  crud: CrudClient
  users: UsersRepository
  auth: AuthProvider
  lookupDelaysMs: readonly number[]
  /** Serializes the CRUD writes of the process: several 200-item bulk writes at once only queue up there. */
  serializeCrudWrites: <T>(write: () => Promise<T>) => Promise<T>
}

export interface ImportToLink {
  /** The users the import job carried. */
  users: ImportUser[]
  /** Generated id → CRUD `_id`. */
  crudIds: Map<string, string>
  summary: ImportJob['summary']
  /**
   * An earlier start of this file got no answer: that import may have created some of these
   * users, which this one then reports as duplicates. Such a user is ours all the same.
   */
  mayOverlapLostImport: boolean
}

export interface LinkOutcome {
  inserted: number
  updated: number
  failures: BulkActivationFailure[]
}

/** The generated id an error entry is about: its `user_id`, else its email. */
function generatedIdOf(entry: ImportError, crudIds: Map<string, string>, byEmail: Map<string, string>): string | undefined {
  const user = typeof entry === 'object' && entry !== null && typeof entry.user === 'object' && entry.user !== null ? entry.user : {}
  if (typeof user.user_id === 'string') {
    const id = user.user_id.replace(/^auth0\|/, '')
    if (crudIds.has(id)) return id
  }
  return typeof user.email === 'string' ? byEmail.get(user.email.toLowerCase()) : undefined
}

/** The generated ids among `ids` whose auth user `auth0|<id>` exists; nobody but this job can hold such an id. */
export async function existingGeneratedIds(auth: AuthProvider, ids: string[], ctx: CallContext): Promise<Set<string>> {
  const found = new Set<string>()
  if (ids.length === 0) return found
  const wanted = new Set(ids)
  const profiles = await auth.listUsersByIds(ids.map(generatedAuthId), ctx)
  for (const profile of profiles) {
    const id = typeof profile.user_id === 'string' && profile.user_id.startsWith(AUTH0_USER_ID_PREFIX) ? profile.user_id.slice(AUTH0_USER_ID_PREFIX.length) : ''
    if (wanted.has(id)) found.add(id)
  }
  return found
}

/**
 * Writes `authUserId` for each link and turns the links the CRUD refused into failures. An auth
 * user created for nobody is deleted; a pre-existing one (`updated`) is left alone.
 */
export async function writeAuthLinks(
  deps: LinkingDeps,
  links: Link[],
  updated: Set<string>,
  ctx: CallContext,
): Promise<{ linked: number; failures: BulkActivationFailure[] }> {
  const notLinked = await deps.serializeCrudWrites(() => writeLinks(deps.crud, deps.users, links, ctx))
  const failures: BulkActivationFailure[] = []
  for (const link of notLinked) {
    const message = link.certain ? `authUserId could not be set: ${link.reason}` : `authUserId could not be confirmed (it may still be set): ${link.reason}`
    failures.push(failure(link.crudId, ACTIVATION_ERROR_CODES.crudUpdateFailed, message))
    if (!updated.has(link.crudId) && link.certain) {
      try {
        await deps.auth.deleteUser(link.authUserId, ctx)
      } catch (error) {
        ctx.log.error({ err: error, crudId: link.crudId, authUserId: link.authUserId }, 'bulk activation: orphan auth user not deleted')
      }
    } else {
      ctx.log.error({ crudId: link.crudId, authUserId: link.authUserId }, 'bulk activation: auth user not linked to its CRUD user')
    }
  }
  return { linked: links.length - notLinked.length, failures }
}

/**
 * Links the users of a completed import. Undefined when `signal` aborted the search of upserted
 * users: nothing was written, and a later run links the file again.
 */
export async function linkImport(
  deps: LinkingDeps,
  file: ImportToLink,
  errors: ImportError[],
  signal: AbortSignal,
  ctx: CallContext,
): Promise<LinkOutcome | undefined> {
  const failures: BulkActivationFailure[] = []
  const byEmail = new Map<string, string>()
  for (const entry of file.users) if (!byEmail.has(entry.email.toLowerCase())) byEmail.set(entry.email.toLowerCase(), entry.user_id)

  const failed = new Map<string, BulkActivationFailure>()
  let unmapped = 0
  for (const entry of errors) {
    const generated = generatedIdOf(entry, file.crudIds, byEmail)
    if (generated === undefined) {
      unmapped += 1
      continue
    }
    if (failed.has(generated)) continue
    const list = Array.isArray(entry.errors) ? entry.errors : []
    failed.set(generated, {
      userId: file.crudIds.get(generated)!,
      errors: (list.length > 0 ? list : [{ code: 'UNKNOWN', message: 'The auth service gave no reason' }]).map((error) => ({
        code: String(error?.code ?? 'UNKNOWN'),
        message: String(error?.message ?? ''),
      })),
    })
  }
  if (unmapped > 0) ctx.log.warn({ unmapped }, 'bulk activation: import errors naming no user of the file')

  // Search lags behind imports: the lookup is tried again, as for upserted users, until each
  // failed user is found or the waits run out.
  const ours = new Set<string>()
  if (file.mayOverlapLostImport && failed.size > 0) {
    for (const delay of deps.lookupDelaysMs) {
      await sleep(delay, undefined, { unref: true })
      if (signal.aborted || ours.size === failed.size) break
      try {
        for (const id of await existingGeneratedIds(deps.auth, [...failed.keys()].filter((id) => !ours.has(id)), ctx)) ours.add(id)
      } catch (error) {
        ctx.log.warn({ err: error }, 'bulk activation: cannot check whether failed users were created by an earlier import')
      }
    }
    if (signal.aborted) return undefined
    for (const id of ours) failed.delete(id)
  }
  failures.push(...failed.values())

  const candidates = file.users.filter((entry) => !failed.has(entry.user_id) && !ours.has(entry.user_id))
  const resolution = await resolveAuthIds(
    deps.auth,
    candidates,
    { summary: file.summary, unmappedFailures: unmapped, delaysMs: deps.lookupDelaysMs, isClosed: () => signal.aborted },
    ctx,
  )
  if (signal.aborted) return undefined
  for (const entry of resolution.unresolved) {
    failures.push(failure(file.crudIds.get(entry.user_id)!, ACTIVATION_ERROR_CODES.authUserNotResolved, 'The auth user could not be found after the import'))
  }
  for (const id of ours) resolution.ids.set(id, { authUserId: generatedAuthId(id), updated: false })

  const links: Link[] = []
  const updated = new Set<string>()
  for (const entry of file.users) {
    const resolved = resolution.ids.get(entry.user_id)
    if (!resolved) continue
    const crudId = file.crudIds.get(entry.user_id)!
    if (resolved.updated && entry.blocked === true) {
      // An upsert does not change `blocked`: an existing auth user linked to a user that must
      // not log in is blocked first (access is removed before anything grants it).
      try {
        await deps.auth.updateUser(resolved.authUserId, { blocked: true }, ctx)
      } catch (error) {
        failures.push(failure(crudId, ACTIVATION_ERROR_CODES.authBlockFailed, `The existing auth user could not be blocked: ${messageOf(error, 'unknown error')}`))
        continue
      }
    }
    links.push({ crudId, authUserId: resolved.authUserId })
    if (resolved.updated) updated.add(crudId)
  }

  const written = await writeAuthLinks(deps, links, updated, ctx)
  failures.push(...written.failures)
  const failedLinks = new Set(written.failures.map((entry) => entry.userId))
  let inserted = 0
  let updatedCount = 0
  for (const link of links) {
    if (failedLinks.has(link.crudId)) continue
    if (updated.has(link.crudId)) updatedCount += 1
    else inserted += 1
  }
  return { inserted, updated: updatedCount, failures }
}
