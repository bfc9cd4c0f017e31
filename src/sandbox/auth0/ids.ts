// Identifier, token and timestamp generators of the Auth0 Client emulator.
import { randomBytes, randomInt } from 'node:crypto'

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** 24 lowercase hexadecimal characters, the id part Auth0 generates for database users. */
export function hex24(): string {
  return randomBytes(12).toString('hex')
}

/** `length` characters from [A-Za-z0-9], as in Auth0 `job_…` and `con_…` ids. */
export function alphanumeric(length: number): string {
  let out = ''
  for (let i = 0; i < length; i += 1) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]
  return out
}

export const jobId = (): string => `job_${alphanumeric(16)}`
export const connectionId = (): string => `con_${alphanumeric(16)}`

/** Opaque random token; callers must never parse it. */
export function opaqueToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * RFC 3339 UTC timestamp with nanosecond precision, like the Go-formatted `expireAt` of the
 * Auth0 Client. JavaScript clocks stop at milliseconds, so the last six digits are random.
 */
export function rfc3339Nano(epochMs: number): string {
  const iso = new Date(epochMs).toISOString()
  const subMillisecond = String(randomInt(1_000_000)).padStart(6, '0')
  return `${iso.slice(0, -1)}${subMillisecond}Z`
}

export const isoMillis = (epochMs: number): string => new Date(epochMs).toISOString()
