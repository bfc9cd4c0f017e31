// What the route modules of the Auth0 Client emulator share: the state they act on, the
// client-type resolution and the session credentials.
import type { FastifyRequest } from 'fastify'
import { miaError } from './errors.js'
import type { ImportJobStore } from './import-jobs.js'
import type { ClientConfig, ResolvedOptions } from './options.js'
import type { RateLimiter } from './rate-limit.js'
import type { SessionStore } from './sessions.js'
import type { UserStore } from './users.js'

export interface OutboxEntry {
  /** The change-password email, or the verification email of a new or changed address (`verify_email`). */
  kind: 'change-password' | 'verify-email'
  email: string
  connection: string
  clientType: string
  at: Date
}

export interface EmulatorContext {
  options(): ResolvedOptions
  now(): number
  readonly users: UserStore
  readonly sessions: SessionStore
  readonly jobs: ImportJobStore
  readonly limiter: RateLimiter
  readonly outbox: OutboxEntry[]
}

/** Routes read the context per request: the emulator builds it after registering them. */
export type ContextProvider = () => EmulatorContext

export interface ResolvedClient {
  name: string
  config: ClientConfig
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * The client type of the request: the `client-type` header, else the default client. A value
 * that is not configured is refused (401) everywhere; having no client at all is refused only
 * where `required` (session endpoints and change-password need the Auth0 application).
 */
export function resolveClient(options: ResolvedOptions, request: FastifyRequest, required: true): ResolvedClient
export function resolveClient(options: ResolvedOptions, request: FastifyRequest, required: false): ResolvedClient | undefined
export function resolveClient(options: ResolvedOptions, request: FastifyRequest, required: boolean): ResolvedClient | undefined {
  const requested = header(request, 'client-type')
  if (requested !== undefined && requested !== '') {
    const config = Object.hasOwn(options.clients, requested) ? options.clients[requested] : undefined
    if (!config) throw miaError(401, `client type ${requested} is not configured`)
    return { name: requested, config }
  }
  const fallback = options.defaultClient
  if (fallback !== null && Object.hasOwn(options.clients, fallback)) {
    const config = options.clients[fallback]
    if (config) return { name: fallback, config }
  }
  if (required) throw miaError(401, 'no client type given and no default client configured')
  return undefined
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '')
  return match?.[1]
}

export function sidCookie(request: FastifyRequest): string | undefined {
  for (const pair of (header(request, 'cookie') ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=')
    if (name === 'sid') return value.join('=')
  }
  return undefined
}

export function hasAuthorizationHeader(request: FastifyRequest): boolean {
  return header(request, 'authorization') !== undefined
}
