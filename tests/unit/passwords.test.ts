import { describe, expect, it } from 'vitest'
import { generatePassword } from '../../src/services/passwords.js'

describe('generatePassword', () => {
  it.each([8, 12, 64])('has length %i and every character class', (length) => {
    for (let i = 0; i < 200; i += 1) {
      const password = generatePassword(length)
      expect(password).toHaveLength(length)
      expect(password).toMatch(/[a-z]/)
      expect(password).toMatch(/[A-Z]/)
      expect(password).toMatch(/[0-9]/)
      expect(password).toMatch(/[^a-zA-Z0-9]/)
    }
  })

  it('does not repeat itself', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generatePassword(12)))
    expect(seen.size).toBe(1000)
  })

  it('refuses lengths that cannot hold every class', () => {
    expect(() => generatePassword(3)).toThrow(RangeError)
  })
})
