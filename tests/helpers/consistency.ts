// The invariant every multi-step user operation must leave behind, whatever step failed:
// no orphan document or auth user, no TRASH/DELETED user able to log in.
import { expect } from 'vitest'
import type { Stack } from '../../src/sandbox/stack.js'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'

export function expectConsistent(stack: Stack): void {
  const users = stack.crud.documents(USERS_ENDPOINT)
  const authUsers = stack.auth0.listUsers()
  const authIds = new Set(authUsers.map((user) => user.user_id))
  const linked = new Set(users.map((user) => user.authUserId).filter((id): id is string => typeof id === 'string'))

  for (const authUser of authUsers) {
    expect(linked.has(authUser.user_id), `auth user ${authUser.user_id} has no CRUD user`).toBe(true)
  }
  for (const user of users) {
    const authUserId = user.authUserId
    if (typeof authUserId !== 'string') continue
    const state = user.__STATE__
    if (state === 'DELETED' && stack.config.authHardDelete) continue
    expect(authIds.has(authUserId), `CRUD user ${String(user._id)} points at missing auth user ${authUserId}`).toBe(true)
    if (state === 'TRASH' || state === 'DELETED' || state === 'DRAFT') {
      expect(stack.auth0.getUser(authUserId)?.blocked, `${String(state)} user ${String(user._id)} is not blocked in auth`).toBe(true)
    }
  }
}
