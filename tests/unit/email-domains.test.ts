import { describe, expect, it } from 'vitest'
import { asciiDomainPattern, emailDomain, isDomainAllowed } from '../../src/lib/email-domains.js'

const allow = (...patterns: string[]) => patterns.map(asciiDomainPattern)

describe('isDomainAllowed', () => {
  it('matches the domain after the last @, without regard to case', () => {
    expect(isDomainAllowed('Mario@EXAMPLE.com', allow('example.com'))).toBe(true)
    expect(isDomainAllowed('"a@b"@example.com', allow('example.com'))).toBe(true)
    expect(isDomainAllowed('mario@example.com.evil.io', allow('example.com'))).toBe(false)
    expect(isDomainAllowed('mario@notexample.com', allow('example.com'))).toBe(false)
  })

  it('lets *. cover subdomains only', () => {
    const patterns = allow('*.example.org')
    expect(isDomainAllowed('a@shop.example.org', patterns)).toBe(true)
    expect(isDomainAllowed('a@a.b.example.org', patterns)).toBe(true)
    expect(isDomainAllowed('a@example.org', patterns)).toBe(false)
    expect(isDomainAllowed('a@badexample.org', patterns)).toBe(false)
  })

  it('compares internationalized domains in their ASCII form', () => {
    expect(emailDomain('a@Bücher.DE')).toBe('xn--bcher-kva.de')
    expect(isDomainAllowed('a@bücher.de', allow('xn--bcher-kva.de'))).toBe(true)
    expect(isDomainAllowed('a@xn--bcher-kva.de', allow('BÜCHER.de'))).toBe(true)
  })

  it('allows every domain with an empty list, and no address without a domain', () => {
    expect(isDomainAllowed('a@anything.io', [])).toBe(true)
    expect(isDomainAllowed('no-at-sign', allow('example.com'))).toBe(false)
    expect(isDomainAllowed('trailing@', allow('example.com'))).toBe(false)
  })
})
