import { describe, expect, it } from 'vitest'
import { PASSWORD_POLICIES, passwordProblem, type PasswordPolicy } from '../../src/lib/password-policy.js'

// Each password against each policy, as Auth0's connections define them: accepted (✓) or not (·).
const CASES: Array<[string, Record<PasswordPolicy, boolean>]> = [
  ['a', { none: true, low: false, fair: false, good: false, excellent: false }],
  ['abcdef', { none: true, low: true, fair: false, good: false, excellent: false }],
  ['abcdefgh', { none: true, low: true, fair: false, good: false, excellent: false }],
  ['Abcdefg1', { none: true, low: true, fair: true, good: true, excellent: false }],
  ['abcdefg1!', { none: true, low: true, fair: false, good: true, excellent: false }],
  ['ABCDEFG1!', { none: true, low: true, fair: false, good: true, excellent: false }],
  ['Abcdefgh1!', { none: true, low: true, fair: true, good: true, excellent: true }],
  ['Abbbcdefg1!', { none: true, low: true, fair: true, good: true, excellent: false }],
  ['Ünïcödé-Paß1', { none: true, low: true, fair: true, good: true, excellent: true }],
]

describe('passwordProblem', () => {
  it.each(CASES)('%s', (password, accepted) => {
    for (const policy of PASSWORD_POLICIES) expect(passwordProblem(password, policy) === undefined, policy).toBe(accepted[policy])
  })

  it('says what the policy asks for, never the password', () => {
    const problem = passwordProblem('Secret1', 'excellent')
    expect(problem).toBe('password is too weak: the auth connection asks for at least 10 characters, with 3 of: a lower-case letter, an upper-case letter, a digit, a special character; no character more than twice in a row')
    expect(problem).not.toContain('Secret1')
  })
})
