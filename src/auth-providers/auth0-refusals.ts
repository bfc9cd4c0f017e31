// Why the Auth0 Client refused the caller's data: Auth0's database-connection rules, relayed.
import type { Refusal, UpstreamError } from '../errors/index.js'
import { duplicateReason, upstreamMessage } from '../clients/refusal.js'

/** An auth 400 about a field: one the connection requires or refuses, or a value it does not accept. */
function authFieldReason(message: string): string | undefined {
  const missing = /Missing required property: (\w+)/.exec(message)?.[1]
  if (missing !== undefined) return `${missing} is required by the auth connection`
  if (message.startsWith('Cannot set username for connection without requires_username')) return 'username is not accepted by the auth connection'
  if (message.startsWith('PasswordStrengthError')) return 'password is too weak for the auth connection'
  const invalid = /' on property (\w+)/.exec(message)?.[1]
  if (invalid !== undefined) return `${invalid} is not valid for the auth connection`
  return undefined
}

/** How the Auth0 Client refused the caller's data; undefined when it did not refuse the data. */
export function auth0Refusal(error: UpstreamError): Refusal | undefined {
  // The 409 says "The user already exists." whatever the field: the user operations complete it.
  if (error.status === 409) return { status: 409, reason: undefined }
  if (error.status !== 400) return undefined
  const message = upstreamMessage(error)
  // Auth0 refuses an update to a taken email or username with a 400.
  const taken = /^The specified new (email|username) already exists/.exec(message)?.[1]
  if (taken !== undefined) return { status: 409, reason: duplicateReason([taken]) }
  return { status: 400, reason: authFieldReason(message) }
}
