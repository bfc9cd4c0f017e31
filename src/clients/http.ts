// The shared HTTP layer: one pooled keep-alive undici Pool per peer, a per-call timeout, the
// forwarded headers, JSON in/out, and every failure turned into an UpstreamError. Every peer call
// passes here, so each one is measured (ums_peer_request_duration_seconds) and, with tracing on,
// gets its client span here.
import type { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, errors as undiciErrors, type Dispatcher, type FormData } from 'undici'
import type { FastifyBaseLogger } from 'fastify'
import type { Context } from '@opentelemetry/api'
import { UpstreamError } from '../errors/index.js'
import { logsAt } from '../observability/logging.js'
import { observePeerCall } from '../observability/metrics.js'
import { startPeerSpan } from '../observability/tracing.js'
import type { HeaderMap } from './headers.js'
import type { PeerService, TransportOutcome } from './peer.js'
import type { RefusalExplainer } from './refusal.js'

/** What a client needs from the incoming request: headers to forward, a request logger, the trace. */
export interface CallContext {
  /** The platform header set of the incoming request (see headers.ts). */
  forwarded: HeaderMap
  /** The incoming request headers, for call-specific forwarding (credentials, ACLs). */
  incoming: IncomingHttpHeaders
  log: FastifyBaseLogger
  /** The request's server span, parent of the peer calls' spans; absent with tracing off and in jobs. */
  traceContext?: Context | undefined
}

export type QueryValue = string | number | boolean | undefined
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface PeerRequest {
  method: HttpMethod
  /** Path below the peer's base URL, already percent-encoded where needed. */
  path: string
  /** Route template used in error messages and logs, e.g. `/users/:id`. */
  route: string
  query?: Record<string, QueryValue> | string
  json?: unknown
  form?: Record<string, string>
  multipart?: FormData
  /** Per-call headers: they win over the forwarded set. */
  headers?: HeaderMap
  /** Replaces the forwarded set (e.g. the auth service must not get ACL headers). */
  forwarded?: HeaderMap
  /** Non-2xx statuses the caller handles itself instead of getting an UpstreamError. */
  acceptStatus?: readonly number[]
}

export interface PeerResponse<T = unknown> {
  status: number
  headers: IncomingHttpHeaders
  body: T
}

export interface PeerClientOptions {
  timeoutMs: number
  connections?: number
  /** ENABLE_TRACING: each call gets a client span (once the SDK runs). */
  traced?: boolean
  /** Reads the peer's error answers for a refusal of the caller's data. */
  explainRefusal?: RefusalExplainer
}

function buildQuery(query: PeerRequest['query']): string {
  if (query === undefined) return ''
  // A caller's raw query string (proxied reads): passed as it is, one leading `?` dropped.
  if (typeof query === 'string') return query === '' ? '' : query.startsWith('?') ? query : `?${query}`
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.append(key, String(value))
  }
  const encoded = params.toString()
  return encoded === '' ? '' : `?${encoded}`
}

/** The per-call deadline passed. */
class DeadlineError extends Error {
  override name = 'TimeoutError'
}

/**
 * The per-call deadline, handed to undici as the call's `signal`. undici takes an EventEmitter
 * (`once`, `removeListener`, `aborted`, `reason`) as well as an AbortSignal; an AbortController per
 * call costs an EventTarget, its listener records and an Event when it fires, a sizeable share of
 * a proxied read's own CPU, where undici registers one listener and this object holds just that.
 */
class CallDeadline {
  aborted = false
  reason: DeadlineError | undefined = undefined
  private listener: (() => void) | undefined = undefined
  /** Listeners beyond the first (undici registers one; kept for any other taker). */
  private others: Array<() => void> | undefined = undefined
  private readonly timer: NodeJS.Timeout

  constructor(timeoutMs: number) {
    this.timer = setTimeout(expire, timeoutMs, this)
    this.timer.unref()
  }

  /** What undici is given: it accepts an EventEmitter-like object. */
  get signal(): EventEmitter {
    return this as unknown as EventEmitter
  }

  on(_event: 'abort', listener: () => void): this {
    if (this.listener === undefined) this.listener = listener
    else (this.others ??= []).push(listener)
    return this
  }

  once(event: 'abort', listener: () => void): this {
    // It fires at most once, so every listener is a once-listener.
    return this.on(event, listener)
  }

  removeListener(_event: 'abort', listener: () => void): this {
    if (this.listener === listener) this.listener = undefined
    else if (this.others) this.others = this.others.filter((other) => other !== listener)
    return this
  }

  off(event: 'abort', listener: () => void): this {
    return this.removeListener(event, listener)
  }

  clear(): void {
    clearTimeout(this.timer)
  }

  fire(): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = new DeadlineError()
    const listeners = [this.listener, ...(this.others ?? [])]
    this.listener = undefined
    this.others = undefined
    for (const listener of listeners) listener?.()
  }
}

function expire(deadline: CallDeadline): void {
  deadline.fire()
}

/** How a call failed below HTTP: timed out, refused, reset, or anything else (`error`). */
export function transportOutcome(error: unknown): TransportOutcome {
  const name = (error as { name?: string }).name
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    error instanceof undiciErrors.RequestAbortedError ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return 'timeout'
  }
  const code = (error as { code?: string }).code
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ECONNRESET' || error instanceof undiciErrors.SocketError) return 'reset'
  return 'error'
}

/** Why a call failed below HTTP: the one wording of timeouts, refused and reset connections. */
export function transportReason(error: unknown, timeoutMs: number): string {
  const outcome = transportOutcome(error)
  if (outcome === 'timeout') return `timeout after ${timeoutMs} ms`
  if (outcome === 'refused') return 'connection refused'
  if (outcome === 'reset') return 'connection reset'
  const code = (error as { code?: string }).code
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found'
  return code ?? (error instanceof Error ? error.message : 'unknown error')
}

/**
 * The wait a rate-limited peer asks for: `retry-after` (seconds or an HTTP date), else
 * `x-ratelimit-reset` (epoch seconds, Auth0's convention). Undefined when neither is usable.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const retryAfter = headers['retry-after']
  if (typeof retryAfter === 'string' && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter)
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
    const date = Date.parse(retryAfter)
    if (!Number.isNaN(date)) return Math.max(0, date - now)
  }
  const reset = Number(headers['x-ratelimit-reset'])
  if (headers['x-ratelimit-reset'] !== undefined && Number.isFinite(reset)) return Math.max(0, reset * 1000 - now)
  return undefined
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined
  // Rönd labels its JSON answers text/plain, so JSON is tried whatever the content type says.
  try {
    return JSON.parse(text)
  } catch {
    if (contentType?.includes('json')) return text
    return text
  }
}

export class PeerClient {
  private readonly pool: Pool
  private readonly basePath: string

  constructor(
    readonly service: PeerService,
    readonly baseUrl: URL,
    private readonly options: PeerClientOptions,
  ) {
    this.pool = new Pool(baseUrl.origin, {
      connections: options.connections ?? 64,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
    })
    this.basePath = baseUrl.pathname.replace(/\/+$/, '')
  }

  private buildHeaders(request: PeerRequest, ctx: CallContext): { headers: HeaderMap; body?: Dispatcher.DispatchOptions['body'] } {
    const headers: HeaderMap = {}
    let body: Dispatcher.DispatchOptions['body']
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(request.json)
    } else if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(request.form).toString()
    } else if (request.multipart !== undefined) {
      body = request.multipart as unknown as Dispatcher.DispatchOptions['body']
    }
    Object.assign(headers, request.forwarded ?? ctx.forwarded, request.headers)
    return { headers, body }
  }

  /**
   * Sends the call and returns the raw undici answer (body not consumed); transport errors mapped.
   * The call is measured, and its span ended, when its body is done: a streamed body counts too.
   */
  dispatch(request: PeerRequest, ctx: CallContext): Promise<Dispatcher.ResponseData> {
    // One promise, settled from undici's callback: every proxied read passes here, and the
    // promise form of pool.request inside an async function cost two more and their turns.
    return new Promise((resolve, reject) => {
      const { headers, body } = this.buildHeaders(request, ctx)
      const path = `${this.basePath}${request.path}${buildQuery(request.query)}`
      const started = performance.now()
      const endSpan = this.options.traced
        ? startPeerSpan({ peer: this.service, method: request.method, route: request.route, baseUrl: this.baseUrl }, ctx.traceContext, headers)
        : undefined
      // undici's own timeouts tick in coarse steps; this deadline is exact. It covers the answer
      // and its body, and is cleared as soon as the body is done (no timer left per request).
      const deadline = new CallDeadline(this.options.timeoutMs)
      this.pool.request({ method: request.method, path, headers, body, signal: deadline.signal }, (error, response) => {
        if (error) {
          deadline.clear()
          const outcome = transportOutcome(error)
          this.finish(request, started, endSpan, outcome)
          const reason = transportReason(error, this.options.timeoutMs)
          ctx.log.debug({ peer: this.service, method: request.method, route: request.route, reason }, 'peer call failed')
          reject(new UpstreamError(this.service, request.method, request.route, undefined, reason, undefined, undefined, outcome))
          return
        }
        // Whoever reads the body gets its error too; these listeners only record how the call ended
        // (`on`, not `once`, for 'close': a stream emits it once).
        let bodyError: unknown
        response.body.on('error', (bodyFailure: unknown) => {
          bodyError ??= bodyFailure
        })
        response.body.on('close', () => {
          deadline.clear()
          this.finish(request, started, endSpan, bodyError === undefined ? response.statusCode : transportOutcome(bodyError))
        })
        // The line's fields are only built when it is written: this runs on every proxied read.
        if (logsAt(ctx.log, 'debug')) {
          ctx.log.debug(
            { peer: this.service, method: request.method, route: request.route, statusCode: response.statusCode, responseTime: performance.now() - started },
            'peer call',
          )
        }
        resolve(response)
      })
    })
  }

  /** Records how a call ended: its metric and, with tracing on, its span. */
  private finish(request: PeerRequest, started: number, endSpan: ((outcome: number | TransportOutcome) => void) | undefined, outcome: number | TransportOutcome): void {
    observePeerCall(this.service, request.method, request.route, outcome, (performance.now() - started) / 1000)
    endSpan?.(outcome)
  }

  /** Sends the call and parses the answer; non-2xx (outside `acceptStatus`) throws UpstreamError. */
  async call<T = unknown>(request: PeerRequest, ctx: CallContext): Promise<PeerResponse<T>> {
    const response = await this.dispatch(request, ctx)
    let text: string
    try {
      text = await response.body.text()
    } catch (error) {
      throw new UpstreamError(this.service, request.method, request.route, undefined, transportReason(error, this.options.timeoutMs), undefined, undefined, transportOutcome(error))
    }
    const parsed = parseBody(text, response.headers['content-type'] as string | undefined)
    const ok = response.statusCode >= 200 && response.statusCode < 300
    if (!ok && !request.acceptStatus?.includes(response.statusCode)) {
      ctx.log.debug({ peer: this.service, route: request.route, statusCode: response.statusCode, upstreamBody: parsed }, 'peer error body')
      const wait = response.statusCode === 429 || response.statusCode === 503 ? retryAfterMs(response.headers) : undefined
      const error = new UpstreamError(this.service, request.method, request.route, response.statusCode, undefined, parsed, wait)
      error.refusal = this.options.explainRefusal?.(error)
      throw error
    }
    return { status: response.statusCode, headers: response.headers, body: parsed as T }
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}
