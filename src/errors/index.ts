// The error types and the one mapping from any failure to the reply: every error body has
// Fastify's shape {statusCode, error, message, code}, its code from codes.ts.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyRequest } from 'fastify'
import { JOB_STORE_UNAVAILABLE, PASSED_THROUGH_CODES, type ErrorCode } from './codes.js'
import { JobStoreUnavailable } from '../jobs/engine.js'
import type { PeerService, TransportOutcome } from '../clients/peer.js'

export function reasonPhrase(statusCode: number): string {
  return STATUS_CODES[statusCode] ?? 'Error'
}

export interface ErrorBody {
  statusCode: number
  error: string
  message: string
  code: string
}

/** An error meant for the client: its status, message and code are sent as they are. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message)
  }

  toBody(): ErrorBody {
    return { statusCode: this.statusCode, error: reasonPhrase(this.statusCode), message: this.message, code: this.code }
  }
}

export const badRequest = (message: string, code: ErrorCode) => new HttpError(400, message, code)
export const notFound = (message: string, code: ErrorCode) => new HttpError(404, message, code)
export const conflict = (message: string, code: ErrorCode) => new HttpError(409, message, code)

/** Why a peer refused the caller's data, as its client read it from the peer's answer. */
export interface Refusal {
  /** What the caller gets when the operation lets this kind of refusal through. */
  status: 400 | 401 | 403 | 409
  /** Why, naming fields only; undefined when the answer does not say. */
  reason: string | undefined
  /** Replaces "responded with a <status> status code" when that status would mislead the caller. */
  answer?: string
  /** The reason says it all, and the call is left out: the caller's own input was refused, no peer failed. */
  reasonOnly?: boolean
}

/**
 * A peer call that did not succeed: a non-2xx answer (`status`) or a transport failure
 * (`reason`: timeout, refused connection, reset). `route` is the peer's route template, e.g.
 * `/users/:id`, so messages never carry ids or other personal data.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError'
  /** How the peer refused the caller's data, when it did: set by the peer's client, which can read its answers. */
  refusal: Refusal | undefined = undefined

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
    /** How the call failed below HTTP (with `reason`). */
    readonly transport?: TransportOutcome,
  ) {
    super(UpstreamError.describe(service, method, route, status, reason))
  }

  static describe(service: PeerService, method: string, route: string, status?: number, reason?: string): string {
    const call = `${service} ${method.toUpperCase()} ${route}`
    return status === undefined ? `${call} failed: ${reason ?? 'unknown error'}` : `${call} responded with a ${status} status code`
  }
}

/**
 * Whether a failed call may still have been carried out by the peer: the request may have been
 * sent, and the answer was lost (timed out, connection reset, body cut). A refused connection
 * and any HTTP answer are definite. The caller reads again before undoing or reporting failure.
 */
export function mayHaveLanded(error: unknown): error is UpstreamError {
  return error instanceof UpstreamError && error.status === undefined && error.transport !== undefined && error.transport !== 'refused'
}

/**
 * Upstream statuses that mean "the caller asked for something wrong" rather than "a peer is
 * broken". Each route chooses which apply: a 404 on reading the user is the caller's unknown id,
 * a 404 in the middle of a multi-step change is a failure.
 */
export type ClientVisibleStatus = 400 | 401 | 403 | 404 | 409 | 429

/** What a route does, for its failures: `Error while <action> user: …`, and the peer statuses its caller gets. */
export interface Operation {
  action: string
  passThrough: readonly ClientVisibleStatus[]
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every route that calls a peer: how its upstream failures read. */
    operation?: Operation
  }
}

export const operation = (action: string, passThrough: readonly ClientVisibleStatus[] = []): { operation: Operation } => ({
  operation: { action, passThrough },
})

/**
 * An upstream failure as the route's caller sees it: 500
 * `Error while <action> user: <SERVICE> <METHOD> <route> responded with a <status> status code`,
 * or the status of a refusal or of a peer answer the route lets through, then with the reason
 * after a colon when the peer said why.
 */
export function upstreamFailure(error: UpstreamError, op: Operation | undefined): HttpError {
  const refusal = error.refusal
  const status = refusal?.status ?? error.status
  const passed = status !== undefined && op !== undefined && (op.passThrough as readonly number[]).includes(status)
  const prefix = op === undefined ? '' : `Error while ${op.action} user: `
  if (!passed) return new HttpError(500, `${prefix}${error.message}`, 'UMS_UPSTREAM_FAILED')
  const code = PASSED_THROUGH_CODES[status] ?? 'UMS_UPSTREAM_FAILED'
  if (refusal?.reasonOnly === true && refusal.reason !== undefined) return new HttpError(status, `${prefix}${refusal.reason}`, code)
  const call = refusal?.answer === undefined ? error.message : `${error.service} ${error.method.toUpperCase()} ${error.route} ${refusal.answer}`
  const reason = refusal?.reason === undefined ? '' : `: ${refusal.reason}`
  return new HttpError(status, `${prefix}${call}${reason}`, code)
}

/** custom-plugin-lib style: the first ajv error, data path with dots (`body.name must be string`). */
function validationMessage(error: FastifyError): string {
  const [first] = error.validation ?? []
  if (!first) return error.message
  const path = `${error.validationContext ?? 'body'}${first.instancePath.replace(/\//g, '.')}`
  const params = first.params as { additionalProperty?: string; allowedValues?: unknown[] }
  if (first.keyword === 'additionalProperties' && params.additionalProperty) {
    return `${path} must NOT have additional properties (property "${params.additionalProperty}")`
  }
  // A closed list is short: naming its values saves the caller a trip to the documentation.
  if (first.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${path} ${first.message ?? 'is invalid'} (${params.allowedValues.map(String).join(', ')})`
  }
  return `${path} ${first.message ?? 'is invalid'}`
}

/** The content type a route reads its body in: its documented `consumes`, else JSON. */
function acceptedContentType(request: FastifyRequest): string {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes
  return Array.isArray(consumes) && consumes.length > 0 ? consumes.join(' or ') : 'application/json'
}

function unsupportedMediaType(request: FastifyRequest): string {
  const sent = request.headers['content-type']
  return `Unsupported Media Type: ${sent === undefined || sent === '' ? 'no content-type' : sent.split(';')[0]!.trim()}; send the body as ${acceptedContentType(request)}`
}

/**
 * Any failure of a request as its reply body: HttpErrors as they are, upstream failures through
 * the route's operation, an unavailable job store as a 503, Fastify's own client errors with their code, everything else masked
 * (its message may carry personal data). `error` is what to log for a 5xx.
 */
export function errorReply(thrown: FastifyError | Error, request: FastifyRequest): { body: ErrorBody; error: Error } {
  const error =
    thrown instanceof UpstreamError
      ? upstreamFailure(thrown, request.routeOptions.config.operation)
      : thrown instanceof JobStoreUnavailable
        ? new HttpError(503, thrown.message, JOB_STORE_UNAVAILABLE)
        : thrown
  if (error instanceof HttpError) return { body: error.toBody(), error }
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    return { body: { statusCode: 400, error: reasonPhrase(400), message: validationMessage(fastifyError), code: 'FST_ERR_VALIDATION' }, error }
  }
  // The client went away mid-body (it aborted, or Node ended it after the request timeout): its
  // request could not be read, which is no failure of ums. Nobody is left to answer.
  if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' && request.raw.readableAborted) {
    return { body: { statusCode: 400, error: reasonPhrase(400), message: 'The request was aborted before its body was received', code: 'UMS_INVALID_REQUEST' }, error }
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const code: string = fastifyError.code ?? 'UMS_INVALID_REQUEST'
    const message = code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedMediaType(request) : error.message
    return { body: { statusCode: status, error: reasonPhrase(status), message, code }, error }
  }
  return { body: { statusCode: 500, error: reasonPhrase(500), message: 'Internal Server Error', code: 'UMS_INTERNAL_ERROR' }, error }
}

/** The body of a request no route matches: Fastify's own, with its code. */
export function routeNotFound(request: FastifyRequest): ErrorBody {
  return { message: `Route ${request.method}:${request.url.split('?')[0]} not found`, error: 'Not Found', statusCode: 404, code: 'FST_ERR_NOT_FOUND' }
}
