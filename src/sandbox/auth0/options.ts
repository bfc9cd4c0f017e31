// Configuration of the Auth0 Client emulator: the public options, their
// defaults, and the resolved form the stores and routes read on every request.
import { miaError } from './errors.js'
import { connectionId } from './ids.js'

export type SameSite = 'Lax' | 'None' | 'Strict'
export type RateLimitClass = 'authApi' | 'changePasswordPerEmail' | 'managementApi'

export interface BucketConfig {
  burst: number
  perSecond: number
}

export interface ClientConfig {
  website: boolean
  sameSite?: SameSite
}

export type ImportTiming =
  /** `processingMs: Infinity` keeps jobs processing forever. */
  | { mode: 'automatic'; pendingMs?: number; processingMs?: number }
  | { mode: 'manual' }

export interface Auth0EmulatorOptions {
  clients?: Record<string, ClientConfig>
  /** Client used when `client-type` is absent; `null` for none. Default `backoffice`. */
  defaultClient?: string | null
  connections?: Record<string, { id?: string; requiresUsername: boolean }>
  /** `null` for none. Default: the connection when exactly one is configured. */
  defaultConnection?: string | null
  passwordPolicy?: (password: string) => boolean
  tokenLifetimeSeconds?: number
  sessionDurationSeconds?: number
  importTiming?: ImportTiming
  rateLimits?: Partial<Record<RateLimitClass, BucketConfig | null>>
  rateLimitForm?: 'relay429' | 'converted5xx'
  searchVisibilityDelayMs?: number
  /** Age after which a completed job reads as `expired` (Auth0: 2 hours). */
  importJobExpireAfterMs?: number
  /** Age after which a job is forgotten and reads as 404 (Auth0: 24 hours). */
  importJobRetentionMs?: number
}

export interface ResolvedOptions {
  clients: Record<string, ClientConfig>
  defaultClient: string | null
  connections: Record<string, { id: string; requiresUsername: boolean }>
  defaultConnection: string | null
  passwordPolicy: (password: string) => boolean
  tokenLifetimeSeconds: number
  sessionDurationSeconds: number
  importTiming: { mode: 'automatic'; pendingMs: number; processingMs: number } | { mode: 'manual' }
  rateLimits: Record<RateLimitClass, BucketConfig | null>
  rateLimitForm: 'relay429' | 'converted5xx'
  searchVisibilityDelayMs: number
  importJobExpireAfterMs: number
  importJobRetentionMs: number
}

export const DEFAULT_CONNECTION_NAME = 'Username-Password-Authentication'

export function defaultPasswordPolicy(password: string): boolean {
  return password.length >= 8 && /[a-z]/.test(password) && /[A-Z]/.test(password) && /\d/.test(password)
}

/** Later options override earlier ones; rate limits merge per class. */
export function mergeOptions(base: Auth0EmulatorOptions, partial: Auth0EmulatorOptions): Auth0EmulatorOptions {
  return { ...base, ...partial, rateLimits: { ...base.rateLimits, ...partial.rateLimits } }
}

/**
 * Fills defaults. `connectionIds` remembers the ids generated per connection name so that a
 * connection keeps its `con_…` id across `configure()` and `reset()`.
 */
export function resolveOptions(options: Auth0EmulatorOptions, connectionIds: Map<string, string>): ResolvedOptions {
  const connections: ResolvedOptions['connections'] = {}
  const configured = options.connections ?? { [DEFAULT_CONNECTION_NAME]: { requiresUsername: true } }
  for (const [name, connection] of Object.entries(configured)) {
    let id = connection.id ?? connectionIds.get(name)
    if (id === undefined) {
      id = connectionId()
      connectionIds.set(name, id)
    }
    connections[name] = { id, requiresUsername: connection.requiresUsername }
  }
  const names = Object.keys(connections)
  const timing = options.importTiming ?? { mode: 'automatic' }
  return {
    clients: options.clients ?? { backoffice: { website: false }, website: { website: true, sameSite: 'Lax' } },
    defaultClient: options.defaultClient === undefined ? 'backoffice' : options.defaultClient,
    connections,
    defaultConnection:
      options.defaultConnection === undefined ? (names.length === 1 ? (names[0] ?? null) : null) : options.defaultConnection,
    passwordPolicy: options.passwordPolicy ?? defaultPasswordPolicy,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 86400,
    sessionDurationSeconds: options.sessionDurationSeconds ?? 86400,
    importTiming:
      timing.mode === 'manual'
        ? { mode: 'manual' }
        : { mode: 'automatic', pendingMs: timing.pendingMs ?? 20, processingMs: timing.processingMs ?? 50 },
    rateLimits: {
      authApi: options.rateLimits?.authApi ?? null,
      changePasswordPerEmail: options.rateLimits?.changePasswordPerEmail ?? null,
      managementApi: options.rateLimits?.managementApi ?? null,
    },
    rateLimitForm: options.rateLimitForm ?? 'relay429',
    searchVisibilityDelayMs: options.searchVisibilityDelayMs ?? 0,
    importJobExpireAfterMs: options.importJobExpireAfterMs ?? 2 * 60 * 60 * 1000,
    importJobRetentionMs: options.importJobRetentionMs ?? 24 * 60 * 60 * 1000,
  }
}

/**
 * The connection a request targets: the named one, else the default. An unknown name, or no
 * name and no default, is refused by the Auth0 Client itself.
 */
export function resolveConnection(options: ResolvedOptions, requested: unknown): string {
  if (requested !== undefined && requested !== null && requested !== '') {
    if (typeof requested !== 'string' || !Object.hasOwn(options.connections, requested)) {
      throw miaError(400, `connection ${JSON.stringify(requested)} is not supported`)
    }
    return requested
  }
  if (options.defaultConnection === null || !Object.hasOwn(options.connections, options.defaultConnection)) {
    throw miaError(400, 'no connection given and no default connection configured')
  }
  return options.defaultConnection
}
