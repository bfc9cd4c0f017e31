// What reconciliation looks for, as pure logic: the findings about one CRUD user and its auth
// user. A finding names the check and the ids, never an email, a username or another value.
import { authGroupsOf, expirationOf } from '../users/context.js'
import { mustBeBlocked, type StoredUser } from '../users/repository.js'
import { sameValue, stringArray } from '../users/fields.js'

export type Check =
  /** The CRUD user's `authUserId` names no auth user. */
  | 'auth-user-missing'
  /** An auth user of the connection that no CRUD user points to. */
  | 'orphan-auth-user'
  /** The auth user can log in although the CRUD user is blocked, or not PUBLIC. */
  | 'access-not-removed'
  /** Email or username differ between the CRUD user and its auth user. */
  | 'profile-mismatch'
  /** The expiration date is past and the user is not blocked. */
  | 'expired-not-blocked'
  /** The expiration date is ahead and no expiry timer is recorded (`expirationId`). */
  | 'expiry-timer-missing'
  /** The roles Rönd binds to the auth user differ from the CRUD user's `roles`. */
  | 'roles-mismatch'
  /** The auth user's `app_metadata.groups` differ from the CRUD user's `groups`. */
  | 'groups-mismatch'

export const CHECKS: readonly Check[] = [
  'auth-user-missing',
  'orphan-auth-user',
  'access-not-removed',
  'profile-mismatch',
  'expired-not-blocked',
  'expiry-timer-missing',
  'roles-mismatch',
  'groups-mismatch',
]

/**
 * `reported`: found and left (dry run, or not repairable here); `repaired`; `repair-failed`;
 * `skipped-recent`: changed too recently to tell a half-finished operation from an inconsistency.
 */
export type Action = 'reported' | 'repaired' | 'repair-failed' | 'skipped-recent'

/** The roles behind a roles-mismatch, each list sorted. */
export interface RoleDifferences {
  /** In the CRUD user's `roles`, not bound by Rönd. */
  missing: string[]
  /** Bound by Rönd, not in the CRUD user's `roles`. */
  unexpected: string[]
}

export interface Finding {
  check: Check
  crudId?: string
  authUserId?: string
  /** The fields that differ (profile-mismatch only): names, never values. */
  fields?: string[]
  /** The roles that differ (roles-mismatch only). */
  roles?: RoleDifferences
  action: Action
}

/** The auth profile fields reconciliation compares. */
export interface AuthProfile {
  user_id: string
  email?: unknown
  username?: unknown
  blocked?: unknown
  created_at?: unknown
  app_metadata?: unknown
}

/** A check found on one user, before anything is done about it. */
export type Problem = Omit<Finding, 'action'>

const sameEmail = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase()

/** Email and username the auth user should have and does not (fields the CRUD user has). */
export function profileDifferences(user: StoredUser, profile: AuthProfile): Array<'email' | 'username'> {
  const fields: Array<'email' | 'username'> = []
  if (typeof user.email === 'string' && user.email !== '' && !sameEmail(user.email, profile.email)) fields.push('email')
  if (typeof user.username === 'string' && user.username !== '' && user.username !== profile.username) fields.push('username')
  return fields
}

/**
 * The problems of one CRUD user, given its auth profile (undefined when the user has an
 * `authUserId` that names no auth user), whether expiry timers are in use and AUTH_HARD_DELETE.
 */
export function userProblems(user: StoredUser, profile: AuthProfile | undefined, now: number, timersInUse: boolean, authHardDelete = false): Problem[] {
  const problems: Problem[] = []
  const crudId = user._id
  const authUserId = typeof user.authUserId === 'string' && user.authUserId !== '' ? user.authUserId : undefined
  // With hard delete, a DELETED user keeps the id of the auth user deleted with it: its end state.
  const authUserGoneByDesign = authHardDelete && user.__STATE__ === 'DELETED'
  if (authUserId !== undefined && profile === undefined && !authUserGoneByDesign) problems.push({ check: 'auth-user-missing', crudId, authUserId })
  const expiresAt = expirationOf(user.expirationDate)?.getTime()
  const expired = expiresAt !== undefined && expiresAt <= now
  if (expired && user.blocked !== true) problems.push({ check: 'expired-not-blocked', crudId, ...(authUserId ? { authUserId } : {}) })
  else if (profile && mustBeBlocked(user) && profile.blocked !== true) problems.push({ check: 'access-not-removed', crudId, authUserId })
  if (profile) {
    const fields = profileDifferences(user, profile)
    if (fields.length > 0) problems.push({ check: 'profile-mismatch', crudId, authUserId, fields })
    // In order: the groups are what the platform's authorization reads, and a user sees them in that order.
    if (!sameValue(stringArray(user.groups), authGroupsOf(profile as unknown as Record<string, unknown>))) problems.push({ check: 'groups-mismatch', crudId, authUserId })
  }
  const hasTimer = typeof user.expirationId === 'string' && user.expirationId !== ''
  if (timersInUse && expiresAt !== undefined && !expired && !hasTimer && user.__STATE__ !== 'DELETED') {
    problems.push({ check: 'expiry-timer-missing', crudId })
  }
  return problems
}

/** True when `at` (an ISO date) lies within `windowMs` before `now`. */
export function isRecent(at: unknown, now: number, windowMs: number): boolean {
  if (typeof at !== 'string') return false
  const time = Date.parse(at)
  return !Number.isNaN(time) && now - time < windowMs
}

/**
 * How the roles bound to a user (resource-free bindings naming it) differ from its CRUD `roles`,
 * compared as sets; undefined when they do not.
 */
export function roleDifferences(crudRoles: unknown, bound: Iterable<string>): RoleDifferences | undefined {
  const expected = new Set(stringArray(crudRoles))
  const actual = new Set(bound)
  const missing = [...expected].filter((role) => !actual.has(role)).sort()
  const unexpected = [...actual].filter((role) => !expected.has(role)).sort()
  return missing.length === 0 && unexpected.length === 0 ? undefined : { missing, unexpected }
}
