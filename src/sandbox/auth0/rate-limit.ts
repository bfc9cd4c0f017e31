// Rate limiting of the Auth0 Client emulator: a token bucket
// with an injectable clock, and the per-class limiter that answers 429 with Auth0's headers and
// the body of the API that was hit — or a 5xx when the Auth0 Client is assumed to convert it.
import type { FastifyReply } from 'fastify'
import { EmulatorHttpError, miaBody } from './errors.js'
import type { BucketConfig, RateLimitClass, ResolvedOptions } from './options.js'

export type Clock = () => number

export type TakeResult =
  | { allowed: true; remaining: number; limit: number; resetAtMs: number }
  | { allowed: false; remaining: 0; limit: number; resetAtMs: number; retryAfterMs: number }

export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    readonly config: BucketConfig,
    private readonly clock: Clock = Date.now,
  ) {
    if (!(config.burst >= 1) || !(config.perSecond > 0)) {
      throw new Error(`invalid token bucket ${JSON.stringify(config)}: burst must be >= 1 and perSecond > 0`)
    }
    this.tokens = config.burst
    this.updatedAt = clock()
  }

  /** Tokens available now (whole tokens only). */
  get remaining(): number {
    this.refill()
    return Math.floor(this.tokens)
  }

  take(): TakeResult {
    this.refill()
    const now = this.updatedAt
    const msPerToken = 1000 / this.config.perSecond
    if (this.tokens >= 1) {
      this.tokens -= 1
      // On success the reset is when the bucket is full again; on refusal it is when the next
      // token arrives, so that a client waiting until the reset is guaranteed to get through.
      const resetAtMs = now + Math.ceil((this.config.burst - this.tokens) * msPerToken)
      return { allowed: true, remaining: Math.floor(this.tokens), limit: this.config.burst, resetAtMs }
    }
    const retryAfterMs = Math.ceil((1 - this.tokens) * msPerToken)
    return { allowed: false, remaining: 0, limit: this.config.burst, resetAtMs: now + retryAfterMs, retryAfterMs }
  }

  private refill(): void {
    const now = this.clock()
    const elapsed = Math.max(0, now - this.updatedAt)
    this.tokens = Math.min(this.config.burst, this.tokens + (elapsed * this.config.perSecond) / 1000)
    this.updatedAt = now
  }
}

/** Which Auth0 API answers the 429 (each has its own body). */
export type RateLimitedApi = 'oauth' | 'authentication' | 'userinfo' | 'management'

const AUTH0_RATE_LIMIT_DOC = 'https://auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy'

function rateLimitedBody(api: RateLimitedApi): { body: unknown; contentType?: string } {
  switch (api) {
    case 'oauth':
      return { body: { error: 'access_denied', error_description: 'Global rate limit exceeded', error_uri: AUTH0_RATE_LIMIT_DOC } }
    case 'authentication':
      return { body: { error: 'too_many_requests', error_description: 'Global rate limit exceeded', error_uri: AUTH0_RATE_LIMIT_DOC } }
    case 'userinfo':
      return { body: 'Rate limit exceed', contentType: 'text/plain; charset=utf-8' }
    case 'management':
      return {
        body: { statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' },
      }
  }
}

function rateHeaders(result: TakeResult): Record<string, string> {
  return {
    'x-ratelimit-limit': String(result.limit),
    'x-ratelimit-remaining': String(result.remaining),
    'x-ratelimit-reset': String(Math.ceil(result.resetAtMs / 1000)),
  }
}

export class RateLimiter {
  private readonly global = new Map<string, TokenBucket>()
  private readonly keyed = new Map<string, TokenBucket>()

  constructor(
    private readonly options: () => ResolvedOptions,
    private readonly clock: Clock = Date.now,
  ) {}

  /**
   * Takes a token from the class bucket (per `key` when given). Sets the `x-ratelimit-*`
   * headers on success; throws the 429 (or converted 503) answer when the bucket is empty.
   */
  enforce(reply: FastifyReply, cls: RateLimitClass, api: RateLimitedApi, key?: string): void {
    const config = this.options().rateLimits[cls]
    if (!config) return
    const result = this.bucket(cls, config, key).take()
    if (result.allowed) {
      reply.headers(rateHeaders(result))
      return
    }
    if (this.options().rateLimitForm === 'converted5xx') {
      throw new EmulatorHttpError(503, miaBody(503, 'Auth0 rate limit reached'))
    }
    const { body, contentType } = rateLimitedBody(api)
    const headers = { ...rateHeaders(result), 'retry-after': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) }
    throw new EmulatorHttpError(429, body, headers, contentType)
  }

  clear(): void {
    this.global.clear()
    this.keyed.clear()
  }

  private bucket(cls: RateLimitClass, config: BucketConfig, key: string | undefined): TokenBucket {
    const store: Map<string, TokenBucket> = key === undefined ? this.global : this.keyed
    const id = key === undefined ? cls : `${cls}\n${key}`
    let bucket = store.get(id)
    // A reconfigured class starts with a fresh, full bucket.
    if (!bucket || bucket.config.burst !== config.burst || bucket.config.perSecond !== config.perSecond) {
      bucket = new TokenBucket({ ...config }, this.clock)
      store.set(id, bucket)
    }
    return bucket
  }
}
