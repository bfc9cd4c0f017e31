// Why a peer refused the caller's data, read from the peer's error answer: which field another
// user already holds, which field the CRUD collection does not declare or requires, which field
// the auth connection requires or refuses. Peers' messages may echo the values they refused
// (personal data), so only field names are taken from them, never the messages themselves.
import type { AuthProvider } from './auth-providers/provider.js'
import type { CallContext } from './clients/http.js'
import type { UpstreamError } from './errors.js'

export interface Refusal {
  /** What the caller gets when the operation lets this kind of refusal through. */
  status: 400 | 409
  /** Why, naming fields only; undefined when the answer does not say. */
  reason: string | undefined
  /** Replaces "responded with a <status> status code" when that status would mislead the caller. */
  answer?: string
}

/** The text of a peer's error body: `message` (Mia-wide and CRUD shape) or `error_description` (OAuth shape). */
function upstreamMessage(error: UpstreamError): string {
  const body = error.upstreamBody as { message?: unknown; error_description?: unknown } | undefined
  if (typeof body?.message === 'string') return body.message
  return typeof body?.error_description === 'string' ? body.error_description : ''
}

/**
 * A unique-index violation of the CRUD: 409 (422 before v6) on inserts; on updates it is not
 * handled and surfaces as a 500 with code 11000 or a message starting with E11000.
 */
export function isDuplicateKey(error: UpstreamError): boolean {
  if (error.service !== 'CRUD') return false
  if (error.status === 409 || error.status === 422) return true
  const body = error.upstreamBody as { code?: unknown } | undefined
  return error.status === 500 && (String(body?.code) === '11000' || upstreamMessage(error).startsWith('E11000'))
}

/** The unique index a duplicate-key message names (`index: unique_email`), when it does. */
export function duplicateIndexName(error: UpstreamError): string | undefined {
  return /\bindex: (\S+)/.exec(upstreamMessage(error))?.[1]
}

/** The fields of `dup key: { email: "…", username: "…" }`, read with the quoted values left out. */
function duplicateKeyFields(message: string): string[] {
  const key = /\bdup key: \{(.*)\}/s.exec(message)?.[1]
  if (key === undefined) return []
  const withoutValues = key.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
  return [...withoutValues.matchAll(/(?:^|,)\s*([A-Za-z_$][\w.$]*)\s*:/g)].map((match) => match[1]!)
}

/** `email already exists`, `email and username already exist`; undefined without a field. */
export function duplicateReason(fields: readonly string[]): string | undefined {
  if (fields.length === 0) return undefined
  if (fields.length === 1) return `${fields[0]} already exists`
  return `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1]} already exist`
}

/**
 * The CRUD's validation message without its JSON paths (`body/0/age must be number` →
 * `age must be number`): it names fields and rules, never values.
 */
export function crudValidationMessage(error: UpstreamError): string {
  return upstreamMessage(error)
    .replace(/\bbody(\/\d+)?(\/(filter|update))?(\/\$set)?\/?/g, '')
    .trim()
}

/** A CRUD 400 about a field: one the collection does not declare, or one it requires. */
function crudFieldReason(message: string): string | undefined {
  const undeclared = /Property "([^"]+)" is not defined in validation schema/.exec(message)?.[1] ?? /^Unknown field: (\S+)$/.exec(message)?.[1]
  if (undeclared !== undefined) return `${undeclared} is not a field of the collection`
  const required = /must have required property '([^']+)'/.exec(message)?.[1]
  if (required !== undefined) return `${required} is required by the collection`
  return undefined
}

/** An auth 400 about a field (Auth0 database-connection rules, relayed by the Auth0 Client). */
function authFieldReason(message: string): string | undefined {
  const missing = /Missing required property: (\w+)/.exec(message)?.[1]
  if (missing !== undefined) return `${missing} is required by the auth connection`
  if (message.startsWith('Cannot set username for connection without requires_username')) return 'username is not accepted by the auth connection'
  if (message.startsWith('PasswordStrengthError')) return 'password is too weak for the auth connection'
  const invalid = /' on property (\w+)/.exec(message)?.[1]
  if (invalid !== undefined) return `${invalid} is not valid for the auth connection`
  return undefined
}

/** How a peer refused the caller's data, from its answer; undefined when it did not refuse the data. */
export function refusalOf(error: UpstreamError): Refusal | undefined {
  const message = upstreamMessage(error)
  if (error.service === 'CRUD') {
    if (isDuplicateKey(error)) {
      const reason = duplicateReason(duplicateKeyFields(message))
      return error.status === 500 ? { status: 409, reason, answer: 'responded with a duplicate key error' } : { status: 409, reason }
    }
    if (error.status === 400) return { status: 400, reason: crudFieldReason(message) }
  }
  if (error.service === 'AUTH') {
    // The auth service's 409 says "The user already exists." whatever the field: see authConflict.
    if (error.status === 409) return { status: 409, reason: undefined }
    if (error.status === 400) {
      // Auth0 refuses an update to a taken email or username with a 400.
      const taken = /^The specified new (email|username) already exists/.exec(message)?.[1]
      if (taken !== undefined) return { status: 409, reason: duplicateReason([taken]) }
      return { status: 400, reason: authFieldReason(message) }
    }
  }
  return undefined
}

/**
 * Completes the auth service's 409 on a user creation with the fields another auth user already
 * holds, looked up by the email and the username that were sent. A failed lookup leaves the
 * reason out: the 409 stands either way.
 */
export async function explainAuthConflict(
  error: UpstreamError,
  auth: AuthProvider,
  user: { email?: string | undefined; username?: string | undefined },
  ctx: CallContext,
): Promise<void> {
  if (error.service !== 'AUTH' || error.status !== 409) return
  try {
    const taken: string[] = []
    // One after the other: lookups spend the management API budget.
    if (user.email !== undefined && (await auth.listUsersByEmails([user.email], ctx)).length > 0) taken.push('email')
    if (user.username !== undefined && (await auth.listUsersByUsernames([user.username], ctx)).length > 0) taken.push('username')
    error.refusal = { status: 409, reason: duplicateReason(taken) }
  } catch (lookupError) {
    ctx.log.warn({ err: lookupError }, 'could not tell which field of the new auth user is taken')
  }
}
