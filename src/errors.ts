// The error catalogue and the one mapping from upstream failures to client replies.
// Every error body the service sends has Fastify's shape {statusCode, error, message[, code]}.
import { STATUS_CODES } from 'node:http'

export type PeerService = 'CRUD' | 'AUTH' | 'ROND' | 'TIMER'

export function reasonPhrase(statusCode: number): string {
  return STATUS_CODES[statusCode] ?? 'Error'
}

export interface ErrorBody {
  statusCode: number
  error: string
  message: string
  code?: string
}

/** An error meant for the client: its status and message are sent as they are. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { statusCode: this.statusCode, error: reasonPhrase(this.statusCode), message: this.message }
    if (this.code) body.code = this.code
    return body
  }
}

export const badRequest = (message: string) => new HttpError(400, message)
export const unauthorized = (message: string) => new HttpError(401, message)
export const notFound = (message: string) => new HttpError(404, message)
export const conflict = (message: string) => new HttpError(409, message)

/**
 * A peer call that did not succeed: a non-2xx answer (`status`) or a transport failure
 * (`reason`: timeout, refused connection, reset). `route` is the peer's route template, e.g.
 * `/users/:id`, so messages never carry ids or other personal data.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError'
  constructor(
    readonly service: PeerService,
    readonly method: string,
    readonly route: string,
    readonly status: number | undefined,
    readonly reason: string | undefined,
    /** Upstream body, for debug logs only: it may hold personal data and is never returned. */
    readonly upstreamBody?: unknown,
    /** How long the peer asked us to wait before trying again (429 `retry-after`/`x-ratelimit-reset`). */
    readonly retryAfterMs?: number,
  ) {
    super(UpstreamError.describe(service, method, route, status, reason))
  }

  static describe(service: PeerService, method: string, route: string, status?: number, reason?: string): string {
    const call = `${service} ${method.toUpperCase()} ${route}`
    return status === undefined ? `${call} failed: ${reason ?? 'unknown error'}` : `${call} responded with a ${status} status code`
  }
}

/**
 * Upstream statuses that mean "the caller asked for something wrong" rather than "a peer is
 * broken". Each call site chooses which apply: a 404 on reading the user is
 * the caller's unknown id, a 404 in the middle of a multi-step change is a failure.
 */
export type ClientVisibleStatus = 400 | 401 | 403 | 404 | 409 | 429

/** The CRUD answers a unique-index violation on PATCH with 500 and code 11000, not 409. */
function isDuplicateKeyOnUpdate(error: UpstreamError): boolean {
  if (error.service !== 'CRUD' || error.status !== 500) return false
  const body = error.upstreamBody as { code?: unknown; message?: unknown } | undefined
  return String(body?.code) === '11000' || (typeof body?.message === 'string' && body.message.startsWith('E11000'))
}

/**
 * Turns any failure of a user operation into the reply error: an UpstreamError becomes
 * `Error while <action> user: <SERVICE> <METHOD> <route> responded with a <status> status code`
 * with status 500, or the upstream status when it is one of `passThrough`.
 * HttpErrors pass unchanged; anything else is rethrown (the error handler masks it).
 */
export function userOperationError(
  error: unknown,
  action: string,
  passThrough: readonly ClientVisibleStatus[] = [],
): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof UpstreamError) {
    const upstreamStatus = isDuplicateKeyOnUpdate(error) ? 409 : error.status
    const status =
      upstreamStatus !== undefined && (passThrough as readonly number[]).includes(upstreamStatus) ? upstreamStatus : 500
    return new HttpError(status, `Error while ${action} user: ${error.message}`)
  }
  throw error
}
