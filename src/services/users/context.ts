// What the user operations share: their dependencies and the steps several of them take
// (scheduling the expiry callback, granting roles).
import type { Config } from '../../config/index.js'
import type { CallContext } from '../../clients/http.js'
import type { CrudClient } from '../../clients/crud.js'
import type { RondClient } from '../../clients/rond.js'
import type { TimerClient } from '../../clients/timer.js'
import { pickHeaders } from '../../clients/headers.js'
import type { AuthAppMetadata, AuthProvider, AuthUserChanges } from '../../auth-providers/provider.js'
import type { GroupSchemaCache } from '../group-schemas.js'
import type { UsersRepository } from './repository.js'
import type { Rollback } from '../rollback.js'
import { repeatIfLost, settleLostWrite, type LostWriteOptions } from '../lost-writes.js'
import { mayHaveLanded } from '../../errors/index.js'
import { isPlainObject } from '../../lib/plain-object.js'
import { sameValue, stringArray } from './fields.js'

export interface UsersDeps {
  config: Config
  crud: CrudClient
  auth: AuthProvider
  rond: RondClient
  timer: TimerClient | undefined
  groups: GroupSchemaCache
  /** The users collection as the operations read it. */
  users: UsersRepository
}

/** What the Timer Service sends back to ums when a user expires: block that user. */
export const EXPIRY_PATCH = { $set: { blocked: true } }

/** Parses an `expirationDate` value; undefined when absent or not a date. */
export function expirationOf(value: unknown): Date | undefined {
  if (typeof value !== 'string' && !(value instanceof Date)) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/**
 * Schedules the expiry callback `PATCH <UMS_SERVICE><SERVICE_PREFIX>/users/:id {$set:{blocked:true}}` carrying
 * the TIMER_SERVICE_HEADERS of the incoming request; registers its abort as an undo.
 * Returns undefined when no Timer Service is configured.
 */
export async function scheduleExpiry(
  deps: Pick<UsersDeps, 'timer' | 'config'>,
  userId: string,
  expiresAt: Date,
  ctx: CallContext,
  rollback: Rollback,
): Promise<string | undefined> {
  const { timer, config } = deps
  if (!timer) return undefined
  const expirationId = await timer.schedule(
    expiresAt,
    {
      method: 'patch',
      target: config.services.ums,
      // The callback reaches this service's own route, which lives under the prefix.
      path: `${config.servicePrefix}/users/${encodeURIComponent(userId)}`,
      headers: pickHeaders(ctx.incoming, config.timerServiceHeaders),
      payload: EXPIRY_PATCH,
    },
    ctx,
  )
  rollback.add('abort the scheduled expiration', () => timer.abort(expirationId, ctx))
  return expirationId
}

/** Grants `roles` to the auth user through Rönd when enabled; registers the revoke as an undo. */
export async function grantRoles(deps: UsersDeps, authUserId: string, roles: string[], ctx: CallContext, rollback: Rollback): Promise<void> {
  if (!deps.config.rondEnabled || roles.length === 0) return
  const revoke = () => deps.rond.revokeSubject(authUserId, ctx)
  try {
    await deps.rond.grantRoles(authUserId, roles, ctx)
  } catch (error) {
    // Rönd cannot be read back, and revoking by subject is harmless when nothing was granted.
    if (mayHaveLanded(error)) rollback.add('revoke the roles a lost grant may have bound', revoke)
    throw error
  }
  rollback.add('revoke the granted roles', revoke)
}

/** The groups the platform's authorization reads from an auth profile (none when absent). */
export function authGroupsOf(profile: Record<string, unknown>): string[] {
  const metadata = profile.app_metadata
  return isPlainObject(metadata, 'not-date') ? stringArray(metadata.groups) : []
}

/** The auth user's `app_metadata` for the CRUD user's `groups` (none when absent). */
export const appMetadataOf = (groups: unknown): AuthAppMetadata => ({ groups: stringArray(groups) })

/**
 * Whether an auth profile shows `changes` (emails compare case-insensitively; no flag means not
 * blocked). A password cannot be read back: a change of it alone is sent again instead.
 */
function showsChanges(profile: Record<string, unknown>, changes: AuthUserChanges): boolean {
  if (changes.email !== undefined && String(profile.email).toLowerCase() !== changes.email.toLowerCase()) return false
  if (changes.username !== undefined && profile.username !== changes.username) return false
  if (changes.app_metadata !== undefined && !sameValue(authGroupsOf(profile), changes.app_metadata.groups)) return false
  return changes.blocked === undefined || (profile.blocked === true) === changes.blocked
}

/** Updates the auth user; when the answer is lost, reads it back: a change that shows is done. */
export async function updateAuthUser(
  deps: Pick<UsersDeps, 'auth'>,
  authUserId: string,
  changes: AuthUserChanges,
  ctx: CallContext,
  options: LostWriteOptions = {},
): Promise<void> {
  if (Object.keys(changes).every((key) => key === 'password')) {
    // Setting the same password twice is harmless.
    await repeatIfLost(() => deps.auth.updateUser(authUserId, changes, ctx), ctx.log)
    return
  }
  try {
    await deps.auth.updateUser(authUserId, changes, ctx)
  } catch (error) {
    await settleLostWrite(
      error,
      ctx.log,
      async () => {
        const [profile] = await deps.auth.listUsersByIds([authUserId], ctx)
        return profile !== undefined && showsChanges(profile, changes) ? profile : undefined
      },
      options,
    )
  }
}
