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
