// Finding what is inconsistent in one page: the CRUD users with their auth users and the roles
// Rönd binds to them, or the auth users of the connection with the CRUD users pointing to them.
// What counts as a problem is pure logic (checks.ts); this module does the reading.
import type { CallContext } from '../../clients/http.js'
import { UpstreamError } from '../../errors/index.js'
import { sleep } from '../../lib/sleep.js'
import type { UsersDeps } from '../users/context.js'
import { USERS_PAGE_SIZE, type StoredUser } from '../users/repository.js'
import { roleDifferences, userProblems, type AuthProfile, type Problem } from './checks.js'

/** Tries of an auth call the provider answers 429. */
const RATE_LIMITED_ATTEMPTS = 5
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000

/** What finding reads through. */
export interface FindScope {
  deps: Pick<UsersDeps, 'config' | 'crud' | 'auth' | 'timer' | 'users'>
  ctx: CallContext
  /** When the run started (epoch ms): expiry is judged at that time. */
  now: number
}

/** A problem of one CRUD user. */
export interface UserProblem {
  user: StoredUser
  problem: Problem
}

/** Retries an auth call the provider rate-limits, as long as it asks. */
export async function paced<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call()
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.status !== 429 || attempt >= RATE_LIMITED_ATTEMPTS) throw error
      await sleep(error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS)
    }
  }
}

/** The problems of a page of CRUD users, user after user, in page order. */
export async function userPageProblems(scope: FindScope, users: StoredUser[]): Promise<UserProblem[]> {
  const { deps, ctx } = scope
  const authIds = users.flatMap((user) => (typeof user.authUserId === 'string' && user.authUserId !== '' ? [user.authUserId] : []))
  const profiles = new Map<string, AuthProfile>()
  if (authIds.length > 0) {
    for (const profile of await paced(() => deps.auth.listUsersByIds(authIds, ctx))) {
      if (typeof profile.user_id === 'string') profiles.set(profile.user_id, profile as unknown as AuthProfile)
    }
  }
  const bound = await boundRoles(scope, [...profiles.keys()])
  const found: UserProblem[] = []
  for (const user of users) {
    const profile = typeof user.authUserId === 'string' ? profiles.get(user.authUserId) : undefined
    const problems = userProblems(user, profile, scope.now, deps.timer !== undefined, deps.config.authHardDelete)
    const roles = bound && profile ? roleDifferences(user.roles, bound.get(profile.user_id) ?? []) : undefined
    if (roles) problems.push({ check: 'roles-mismatch', crudId: user._id, authUserId: profile!.user_id, roles })
    for (const problem of problems) found.push({ user, problem })
  }
  return found
}

/**
 * The roles of the resource-free bindings naming each of `authIds`, read from the collection
 * Rönd keeps them in; undefined when Rönd is off or that collection is not configured.
 */
async function boundRoles(scope: FindScope, authIds: string[]): Promise<Map<string, Set<string>> | undefined> {
  const { bindings } = scope.deps.crud
  if (!scope.deps.config.rondEnabled || !bindings) return undefined
  const roles = new Map<string, Set<string>>(authIds.map((id) => [id, new Set()]))
  if (authIds.length === 0) return roles
  const query = JSON.stringify({ subjects: { $in: authIds } })
  for (let skip = 0; ; skip += USERS_PAGE_SIZE) {
    const page = await bindings.list<{ subjects?: unknown; roles?: unknown; resource?: unknown }>({ _q: query, _l: USERS_PAGE_SIZE, _sk: skip, _s: '_id' }, scope.ctx)
    for (const binding of page) {
      if (binding.resource !== undefined || !Array.isArray(binding.subjects)) continue
      for (const subject of binding.subjects) {
        const held = roles.get(subject as string)
        if (held) for (const role of Array.isArray(binding.roles) ? binding.roles : []) held.add(String(role))
      }
    }
    if (page.length < USERS_PAGE_SIZE) return roles
  }
}

/** The auth users of `page` that no CRUD user points to, in page order. */
export async function unlinkedAuthUsers(scope: FindScope, page: AuthProfile[]): Promise<AuthProfile[]> {
  const ids = page.map((profile) => profile.user_id)
  const linked = new Set((await scope.deps.users.byAuthUserIds<StoredUser>(ids, scope.ctx, '_id,authUserId')).map((user) => user.authUserId))
  return page.filter((profile) => !linked.has(profile.user_id))
}
