// What reconciliation finds on one user, as pure logic.
import { describe, expect, it } from 'vitest'
import { isRecent, profileDifferences, roleDifferences, userProblems } from '../../src/services/reconcile/checks.js'

const NOW = Date.parse('2026-06-01T00:00:00.000Z')
const user = { _id: 'c1', authUserId: 'auth0|a1', email: 'Ann@Example.com', username: 'ann', __STATE__: 'PUBLIC' }
const profile = { user_id: 'auth0|a1', email: 'ann@example.com', username: 'ann', blocked: false }

describe('reconciliation checks', () => {
  it('finds nothing on a consistent user (emails compared without case)', () => {
    expect(userProblems(user, profile, NOW, true)).toEqual([])
  })

  it.each([
    [{ blocked: true }, 'access-not-removed'],
    [{ __STATE__: 'TRASH' }, 'access-not-removed'],
    [{ __STATE__: 'DRAFT' }, 'access-not-removed'],
  ])('finds an auth user that can log in for %j', (changes, check) => {
    expect(userProblems({ ...user, ...changes }, profile, NOW, true)).toEqual([{ check, crudId: 'c1', authUserId: 'auth0|a1' }])
  })

  it('finds groups that differ from the auth user app_metadata.groups, absent reading as none', () => {
    const withGroups = { ...user, groups: ['customers'] }
    expect(userProblems(withGroups, { ...profile, app_metadata: { groups: ['customers'] } }, NOW, true)).toEqual([])
    expect(userProblems(user, { ...profile, app_metadata: { groups: [] } }, NOW, true)).toEqual([])
    expect(userProblems(withGroups, profile, NOW, true)).toEqual([{ check: 'groups-mismatch', crudId: 'c1', authUserId: 'auth0|a1' }])
    expect(userProblems(user, { ...profile, app_metadata: { groups: ['admins'] } }, NOW, true)).toEqual([{ check: 'groups-mismatch', crudId: 'c1', authUserId: 'auth0|a1' }])
  })

  it('names the differing fields, never their values', () => {
    expect(profileDifferences({ ...user, email: 'new@example.com', username: 'anna' }, profile)).toEqual(['email', 'username'])
    expect(profileDifferences({ _id: 'c1' }, profile)).toEqual([])
  })

  it('finds an expired user that is not blocked, and a future expiry without a timer when timers are used', () => {
    expect(userProblems({ ...user, expirationDate: '2026-05-01T00:00:00.000Z' }, profile, NOW, true).map((problem) => problem.check)).toEqual(['expired-not-blocked'])
    expect(userProblems({ ...user, expirationDate: '2026-07-01T00:00:00.000Z' }, profile, NOW, true).map((problem) => problem.check)).toEqual(['expiry-timer-missing'])
    expect(userProblems({ ...user, expirationDate: '2026-07-01T00:00:00.000Z', expirationId: 'e1' }, profile, NOW, true)).toEqual([])
    expect(userProblems({ ...user, expirationDate: '2026-07-01T00:00:00.000Z' }, profile, NOW, false)).toEqual([])
  })

  it('finds an authUserId that names no auth user', () => {
    expect(userProblems(user, undefined, NOW, true)).toEqual([{ check: 'auth-user-missing', crudId: 'c1', authUserId: 'auth0|a1' }])
    expect(userProblems({ _id: 'c2', email: 'x@example.com' }, undefined, NOW, true)).toEqual([])
    // AUTH_HARD_DELETE: a DELETED user keeps the id of its deleted auth user by design.
    expect(userProblems({ ...user, __STATE__: 'DELETED' }, undefined, NOW, true, true)).toEqual([])
    expect(userProblems({ ...user, __STATE__: 'DELETED' }, undefined, NOW, true, false).map((problem) => problem.check)).toEqual(['auth-user-missing'])
  })

  it('tells recent changes', () => {
    expect(isRecent('2026-05-31T23:58:00.000Z', NOW, 5 * 60_000)).toBe(true)
    expect(isRecent('2026-05-31T23:50:00.000Z', NOW, 5 * 60_000)).toBe(false)
    expect(isRecent(undefined, NOW, 5 * 60_000)).toBe(false)
  })

  it('compares bound roles with the CRUD roles as sets, naming the roles that differ', () => {
    expect(roleDifferences(['a', 'b'], ['b', 'a', 'a'])).toBeUndefined()
    expect(roleDifferences(undefined, [])).toBeUndefined()
    expect(roleDifferences(['a', 7], ['a'])).toBeUndefined()
    expect(roleDifferences(['a'], [])).toEqual({ missing: ['a'], unexpected: [] })
    expect(roleDifferences([], ['a'])).toEqual({ missing: [], unexpected: ['a'] })
    expect(roleDifferences(['c', 'a', 'b'], ['b', 'e', 'd'])).toEqual({ missing: ['a', 'c'], unexpected: ['d', 'e'] })
  })
})
