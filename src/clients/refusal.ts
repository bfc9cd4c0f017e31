// What the peers' explanations of their refusals share. Each client explains its own peer's
// refusals (crud-refusals.ts, the auth provider's module); peers' messages may echo the values
// they refused (personal data), so only field names are taken from them.
import type { Refusal, UpstreamError } from '../errors/index.js'

/** How a peer refused the caller's data, from its error answer; undefined when it did not refuse the data. */
export type RefusalExplainer = (error: UpstreamError) => Refusal | undefined

/** The text of a peer's error body: `message` (Mia-wide and CRUD shape) or `error_description` (OAuth shape). */
export function upstreamMessage(error: UpstreamError): string {
  const body = error.upstreamBody as { message?: unknown; error_description?: unknown } | undefined
  if (typeof body?.message === 'string') return body.message
  return typeof body?.error_description === 'string' ? body.error_description : ''
}

/** `email already exists`, `email and username already exist`; undefined without a field. */
export function duplicateReason(fields: readonly string[]): string | undefined {
  if (fields.length === 0) return undefined
  if (fields.length === 1) return `${fields[0]} already exists`
  return `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1]} already exist`
}

/**
 * A login the auth service refused for its credentials, from the OAuth error answer of its token
 * endpoint: `invalid_grant` to a password grant is a wrong username or password (Auth0: "Wrong
 * email or password."), `unauthorized` "user is blocked" a blocked user. ums sends only password
 * grants to `POST /oauth/token`. The peer's description may name the user, so the words are ours.
 */
export function loginRefusal(error: UpstreamError): Refusal | undefined {
  if (error.method !== 'POST' || error.route !== '/oauth/token' || (error.status !== 401 && error.status !== 403)) return undefined
  const body = error.upstreamBody as { error?: unknown } | undefined
  if (body?.error === 'invalid_grant') return { status: error.status, reason: 'wrong username or password', reasonOnly: true }
  if (body?.error === 'unauthorized' && /\bblocked\b/i.test(upstreamMessage(error))) return { status: error.status, reason: 'the user is blocked', reasonOnly: true }
  return undefined
}
