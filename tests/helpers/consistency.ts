// The invariant every multi-step user operation must leave behind, whatever step failed: no
// orphan document or auth user, no user able to log in that must not, and the auth user's email and
// groups, the Rönd roles and the pending expiry timer as the CRUD user says.
import { expect } from 'vitest'
import type { Stack } from '../../src/sandbox/stack.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'

/** Auth users that are expected to have no CRUD user (they had none before the case). */
export type Unlinked = ReadonlySet<string>

/** Where the stores disagree, one line each; empty when consistent. */
export function inconsistencies(stack: Stack, unlinked: Unlinked = new Set()): string[] {
  const problems: string[] = []
  const users = stack.crud.documents(USERS_ENDPOINT)
  const authUsers = new Map(stack.auth0.listUsers().map((user) => [user.user_id, user]))
  const linked = new Set(users.map((user) => user.authUserId).filter((id): id is string => typeof id === 'string'))
  for (const id of authUsers.keys()) if (!linked.has(id) && !unlinked.has(id)) problems.push(`auth user ${id} has no CRUD user`)
  // A timer that fired counts: the user's expiry ran (the expiration date may be later than the firing, in tests).
  const live = new Set(stack.timer.expirations().filter((timer) => timer.expirationStatus.description !== 'aborted').map((timer) => timer.expirationId))
  const timersInUse = stack.config.services.timer !== undefined
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
    const crudGroups = Array.isArray(user.groups) ? user.groups : []
    const authGroups = Array.isArray(authUser?.app_metadata?.groups) ? authUser.app_metadata.groups : []
    if (authUser && JSON.stringify(crudGroups) !== JSON.stringify(authGroups)) problems.push(`groups of user ${id} are [${authGroups.join(',')}] in the auth service`)
    if (authUser && stack.config.rondEnabled) {
      const roles = Array.isArray(user.roles) ? [...(user.roles as string[])].sort() : []
      const bound = [...stack.rond.rolesOf(authUser.user_id)].sort()
      if (JSON.stringify(roles) !== JSON.stringify(bound)) problems.push(`roles of user ${id} are bound as [${bound.join(',')}]`)
    }
    const expiresAt = typeof user.expirationDate === 'string' ? Date.parse(user.expirationDate) : NaN
    if (timersInUse && expiresAt > now && user.__STATE__ !== 'DELETED' && !live.has(String(user.expirationId))) problems.push(`user ${id} has no expiry timer`)
  }
  return problems
}

export function expectConsistent(stack: Stack, unlinked?: Unlinked): void {
  expect(inconsistencies(stack, unlinked)).toEqual([])
}
