// Why the CRUD Service refused the caller's data: which field another user already holds, which
// field the collection does not declare or requires.
import type { Refusal, UpstreamError } from '../errors/index.js'
import { duplicateReason, upstreamMessage } from './refusal.js'

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

/** `email already exists` from a duplicate-key answer that names its fields; undefined when it names none. */
export function crudDuplicateReason(error: UpstreamError): string | undefined {
  return duplicateReason(duplicateKeyFields(upstreamMessage(error)))
}

/** How the CRUD refused the caller's data; undefined when it did not refuse the data. */
export function crudRefusal(error: UpstreamError): Refusal | undefined {
  if (isDuplicateKey(error)) {
    const reason = crudDuplicateReason(error)
    return error.status === 500 ? { status: 409, reason, answer: 'responded with a duplicate key error' } : { status: 409, reason }
  }
  if (error.status === 400) {
    const message = upstreamMessage(error)
    // A read refused for its filter says why as the CRUD words it, as `GET /users/` relays it:
    // the filter is the caller's own, and the reason (an id that is no ObjectId) is theirs to fix.
    const readReason = error.method === 'GET' && message !== '' ? message : undefined
    return { status: 400, reason: crudFieldReason(message) ?? readReason }
  }
  return undefined
}
