// The one error the SDK throws. `code` is ums's stable error code (README, Errors) when ums
// answered, or one of CLIENT_CODES when it could not: callers switch on `code`, never on `message`.
import type { components } from './openapi.js'

/** The error body every ums error answer has. */
export type ErrorBody = components['schemas']['ErrorBody']

/** Codes of the failures that happen on this side, where ums gave no error body. */
export const CLIENT_CODES = {
  /** No answer: connection refused or reset, DNS failure, timeout (`status` 0). */
  unreachable: 'UMS_CLIENT_UNREACHABLE',
  /** The caller's signal aborted the call or the wait (`status` 0). */
  aborted: 'UMS_CLIENT_ABORTED',
  /** An error answer without ums's error body (a proxy's page, say): `status` is its status. */
  unexpectedAnswer: 'UMS_CLIENT_UNEXPECTED_ANSWER',
} as const

export class UmsError extends Error {
  override readonly name = 'UmsError'

  constructor(
    /** The HTTP status of the answer; 0 when there was none. */
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  /** The error of an answer that is not 2xx, from its body when it is ums's error body. */
  static fromAnswer(status: number, body: unknown): UmsError {
    if (isErrorBody(body)) return new UmsError(status, body.code, body.message)
    const text = typeof body === 'string' && body !== '' ? `: ${body.slice(0, 200)}` : ''
    return new UmsError(status, CLIENT_CODES.unexpectedAnswer, `ums answered ${status} without an error body${text}`)
  }

  /** The error of a call that got no answer, or that `signal` aborted. */
  static fromFailure(error: unknown, signal?: AbortSignal): UmsError {
    if (error instanceof UmsError) return error
    if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) {
      return new UmsError(0, CLIENT_CODES.aborted, 'The call was aborted', { cause: error })
    }
    // fetch rejects with "fetch failed" and puts the reason (ECONNREFUSED, ...) in its cause.
    const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause
    const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
    return new UmsError(0, CLIENT_CODES.unreachable, `ums could not be reached: ${reason}`, { cause: error })
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false
  const { code, message } = body as Record<string, unknown>
  return typeof code === 'string' && typeof message === 'string'
}
