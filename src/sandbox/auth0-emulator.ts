// In-memory emulator of the Mia-Platform Auth0 Client: owns the
// control surface tests use (configure, seed, outbox, manual import jobs, reset) and wires the
// stores and routes of ./auth0/ into the shared `Emulator` server.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { Emulator } from './emulator-kit.js'
import { registerBodyParsers } from './auth0/body-parsers.js'
import type { EmulatorContext, OutboxEntry } from './auth0/context.js'
import { EmulatorHttpError, miaBody } from './auth0/errors.js'
import { ImportJobStore, type AdvanceTarget, type ImportJobView } from './auth0/import-jobs.js'
import { registerManagementRoutes } from './auth0/management-routes.js'
import { mergeOptions, resolveOptions, type Auth0EmulatorOptions, type ResolvedOptions } from './auth0/options.js'
import { RateLimiter } from './auth0/rate-limit.js'
import { registerSessionRoutes } from './auth0/session-routes.js'
import { SessionStore } from './auth0/sessions.js'
import { UserStore, type Auth0User, type SeedUserInput } from './auth0/users.js'
import { isPlainObject } from '../lib/plain-object.js'

export type { Auth0EmulatorOptions, BucketConfig, ClientConfig, ImportTiming, RateLimitClass, SameSite } from './auth0/options.js'
export type { Auth0Identity, Auth0User, SeedUserInput } from './auth0/users.js'
export type { OutboxEntry } from './auth0/context.js'
export type { AdvanceTarget, ImportJobView } from './auth0/import-jobs.js'
export type { ImportErrorEntry, ImportSummary } from './auth0/import-processing.js'
export type { UploadedFileSummary } from './auth0/body-parsers.js'
export { TokenBucket, type Clock, type TakeResult } from './auth0/rate-limit.js'
export { AUTH0_LOGOUT_URL } from './auth0/session-routes.js'

export const HEALTH_BODY = { name: 'auth0-client', status: 'OK', version: '3.8.0' } as const


/**
 * Fault predicate for `injectFault({ match })`: the request targets this user id, email or
 * username (path parameter, body field, query field or `_q` filter).
 */
export function matchTarget(target: string): (request: FastifyRequest) => boolean {
  const wanted = target.toLowerCase()
  const same = (value: unknown) => typeof value === 'string' && value.toLowerCase() === wanted
  return (request) => {
    const params = isPlainObject(request.params, 'any') ? request.params : {}
    const body = isPlainObject(request.body, 'any') ? request.body : {}
    const query = isPlainObject(request.query, 'any') ? request.query : {}
    if ([params.userId, body.email, body.username, body.user_id, query.email, query.username].some(same)) return true
    return typeof query._q === 'string' && query._q.toLowerCase().includes(wanted)
  }
}

export class Auth0ClientEmulator extends Emulator {
  readonly outbox: OutboxEntry[] = []
  /** Generated `con_…` ids per connection name, stable across configure() and reset(). */
  private readonly connectionIds = new Map<string, string>()
  private readonly initialOptions: Auth0EmulatorOptions
  private currentOptions: Auth0EmulatorOptions
  private resolved: ResolvedOptions
  private readonly users: UserStore
  private readonly sessions = new SessionStore()
  private readonly jobs: ImportJobStore
  private readonly limiter: RateLimiter
  private readonly context: EmulatorContext

  constructor(options: Auth0EmulatorOptions = {}) {
    super()
    this.initialOptions = options
    this.currentOptions = options
    this.resolved = resolveOptions(options, this.connectionIds)
    const currentOptions = () => this.resolved
    this.users = new UserStore(currentOptions)
    this.jobs = new ImportJobStore(currentOptions, this.users)
    this.limiter = new RateLimiter(currentOptions)
    this.context = {
      options: currentOptions,
      now: Date.now,
      users: this.users,
      sessions: this.sessions,
      jobs: this.jobs,
      limiter: this.limiter,
      outbox: this.outbox,
    }
  }

  /** Runs inside the base constructor, before this class's fields exist: routes read them lazily. */
  protected override registerRoutes(app: FastifyInstance): void {
    registerBodyParsers(app)
    app.setErrorHandler((error: FastifyError | EmulatorHttpError, request, reply) => {
      if (error instanceof EmulatorHttpError) {
        reply.headers(error.headers)
        if (error.contentType) reply.type(error.contentType)
        return reply.code(error.status).send(error.body)
      }
      const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
      return reply.code(status).send(miaBody(status, error.message))
    })
    app.setNotFoundHandler((request, reply) => reply.code(404).send(miaBody(404, `Route ${request.method}:${request.url} not found`)))
    for (const path of ['/-/healthz', '/-/ready', '/-/check-up']) app.get(path, async () => HEALTH_BODY)
    // Not an Auth0 Client route: the change-password emails sent so far, for people trying the
    // sandbox (the emulator sends no mail).
    app.get('/__emulator/outbox', async () => this.outbox)
    const context = () => this.context
    registerSessionRoutes(app, context)
    registerManagementRoutes(app, context)
  }

  protected override clearState(): void {
    this.currentOptions = this.initialOptions
    this.resolved = resolveOptions(this.initialOptions, this.connectionIds)
    this.users.clear()
    this.sessions.clear()
    this.jobs.clear()
    this.limiter.clear()
    this.clearOutbox()
  }

  override async close(): Promise<void> {
    this.jobs.stopTimers()
    await super.close()
  }

  /** Changes options for the rest of the test; `reset()` restores the constructor's. */
  configure(partial: Partial<Auth0EmulatorOptions>): void {
    this.currentOptions = mergeOptions(this.currentOptions, partial)
    this.resolved = resolveOptions(this.currentOptions, this.connectionIds)
  }

  /** The options in force, defaults filled in (connection ids included). */
  get config(): ResolvedOptions {
    return this.resolved
  }

  /** The `con_…` id of a configured connection. */
  connectionId(name: string): string {
    const connection = this.resolved.connections[name]
    if (!connection) throw new Error(`connection ${name} is not configured`)
    return connection.id
  }

  /** Stores a user directly: no password policy or username rules; throws on duplicates. */
  seedUser(user: SeedUserInput): Auth0User {
    return this.users.seed(user)
  }

  getUser(userId: string): Auth0User | undefined {
    const user = this.users.get(userId)
    return user && structuredClone(user.profile)
  }

  listUsers(): Auth0User[] {
    return this.users.all().map((user) => structuredClone(user.profile))
  }

  clearOutbox(): void {
    this.outbox.length = 0
  }

  /** Moves an import job by hand; see `ImportJobStore.advance`. Throws for unknown jobs. */
  advanceImportJob(jobId: string, to?: AdvanceTarget): void {
    this.jobs.advance(jobId, to)
  }

  /** The job as `GET /users/import/status/:id` would show it, or undefined. */
  importJob(jobId: string): ImportJobView | undefined {
    const job = this.jobs.get(jobId)
    return job && this.jobs.view(job)
  }
}
