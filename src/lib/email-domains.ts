// E-mail domains compared as the DNS compares them: without regard to case, internationalized
// names in their ASCII (punycode) form.
import { domainToASCII } from 'node:url'

/** `Exämple.COM` → `xn--exmple-cua.com`; a name the URL parser refuses is kept in lower case. */
export function asciiDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, '')
  return domainToASCII(trimmed) || trimmed.toLowerCase()
}

/** An allow-list entry in ASCII form, its `*.` prefix kept. */
export function asciiDomainPattern(pattern: string): string {
  return pattern.startsWith('*.') ? `*.${asciiDomain(pattern.slice(2))}` : asciiDomain(pattern)
}

/** The domain after the last `@`, in ASCII form; undefined without one. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@')
  if (at === -1 || at === email.length - 1) return undefined
  return asciiDomain(email.slice(at + 1))
}

/**
 * Whether `email`'s domain is allowed by `patterns` (ASCII, from asciiDomainPattern): equal to an
 * entry, or a subdomain of a `*.` entry (which does not cover the domain itself). An empty list
 * allows every domain.
 */
export function isDomainAllowed(email: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true
  const domain = emailDomain(email)
  if (domain === undefined) return false
  return patterns.some((pattern) => (pattern.startsWith('*.') ? domain.endsWith(pattern.slice(1)) : domain === pattern))
}
