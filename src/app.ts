// Builds the Fastify app from a typed Config and the peer clients (tests inject their own).
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import { PeerClient, type CallContext } from './clients/http.js'
import { platformForwardedHeaders } from './clients/headers.js'
import { CrudClient } from './clients/crud.js'
import { RondClient } from './clients/rond.js'
import { TimerClient } from './clients/timer.js'
import { createAuthProvider, type AuthProvider } from './auth-providers/index.js'
import { HttpError, errorReply, routeNotFound } from './errors.js'
import { loggerOptions, registerRequestLogging } from './logging.js'
import { statusRoutes } from './routes/status.js'
import { authRoutes } from './routes/auth.js'
import { userRoutes } from './routes/users.js'
import { jobRoutes } from './routes/jobs.js'
import { importRoutes } from './routes/import.js'
import { createJobEngine } from './jobs/index.js'
import type { JobEngine } from './jobs/engine.js'
import { changePasswordBulkJob } from './services/change-password-bulk/index.js'
import { bulkActivationJob } from './services/bulk-activation/index.js'
import { reconcileJob } from './services/reconcile/index.js'
import { GroupSchemaCache } from './services/group-schemas.js'
import { errorBodySchema } from './routes/schemas.js'
import { registerMetrics } from './metrics.js'
import { registerRequestTracing, requestTraceContext, startTracing, type TracingOptions } from './tracing.js'

export interface Peers {
  crud: CrudClient
  auth: AuthProvider
  rond: RondClient
  timer: TimerClient | undefined
  /** Closes the connection pools; set when the peers were built from the config. */
  close?: () => Promise<void>
}

export interface BuildOptions {
  /** Peer clients; built from the config when omitted. */
  peers?: Peers
  /** Log destination (tests capture log lines with it). */
  logStream?: DestinationStream
  /** With ENABLE_TRACING: where spans go instead of the OTEL_TRACES_EXPORTER exporters (tests). */
  spanProcessors?: TracingOptions['spanProcessors']
  /** How long a request may take to arrive, body included (default REQUEST_TIMEOUT_MS; tests shorten it). */
  requestTimeoutMs?: number
}

export interface PackageInfo {
  name: string
  version: string
  description: string
}

export const PACKAGE: PackageInfo = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    peers: Peers
    /** The bulk jobs: SIGTERM hands them over (index.ts), close() stops them. */
    jobEngine: JobEngine
    /** Set on SIGTERM/SIGINT (src/shutdown.ts): from then on every answer ends its connection. */
    draining: boolean
  }
  interface FastifyRequest {
    /** Forwarded headers and request logger handed to every peer call. */
    callContext: CallContext
  }
}

/**
 * How deeply a JSON body may nest: MongoDB's own limit for a document, so no user could be stored
 * deeper; a deeper body (thousands of `[`) would overflow the stack of the recursive copies and
 * serialisations on its way to the peers, a 500 instead of the caller's 400.
 */
export const MAX_BODY_DEPTH = 100

/** Whether `value` has containers nested more than `limit` deep; iterative, so any depth is safe. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue
    if (next.depth >= limit) return true
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 })
  }
  return false
}

/**
 * A request must have fully arrived, headers and body, within this long: a client that stops
 * sending in the middle of a body (a multipart part that never ends) gets a 408 and its connection
 * closed, rather than holding the connection and the half-received upload forever. Node's own
 * default, which Fastify turns off: a 16 MiB JSON body may still come at 56 KB/s.
 */
export const REQUEST_TIMEOUT_MS = 300_000

export function createPeers(config: Config): Peers {
  const options = { timeoutMs: config.upstreamTimeoutMs, traced: config.enableTracing }
  const crudHttp = new PeerClient('CRUD', config.services.crud, options)
  const authHttp = new PeerClient('AUTH', config.services.auth, options)
  const rondHttp = new PeerClient('ROND', config.services.rond, options)
  const timerHttp = config.services.timer ? new PeerClient('TIMER', config.services.timer, options) : undefined
  return {
    crud: new CrudClient(crudHttp, config.endpoints),
    auth: createAuthProvider(config.authModule, { config, http: authHttp }),
    rond: new RondClient(rondHttp),
    timer: timerHttp ? new TimerClient(timerHttp, PACKAGE.name) : undefined,
    close: async () => {
      await Promise.all([crudHttp, authHttp, rondHttp, timerHttp].map((http) => http?.close()))
    },
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const app = Fastify({
    logger: loggerOptions(config.logLevel, options.logStream),
    requestIdHeader: 'x-request-id',
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false },
    return503OnClosing: false,
    // JSON bodies are bounded (bulk requests of BULK_MAX_USERS ids stay far below); CSV uploads have their own limit.
    bodyLimit: 16 * 1024 * 1024,
    requestTimeout,
    // Node's defaults (headers within 60 s, late requests checked every 30 s), shortened with a
    // shorter request timeout: Node swaps the two timeouts when the headers' is the longer.
    http: { headersTimeout: Math.min(60_000, requestTimeout), connectionsCheckingInterval: Math.min(30_000, Math.ceil(requestTimeout / 4)) },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  })
  // Before any hook or route, and long before listen: no request can come before the SDK runs.
  const stopTracing = config.enableTracing
    ? await startTracing({ serviceName: PACKAGE.name, serviceVersion: PACKAGE.version, spanProcessors: options.spanProcessors, log: app.log })
    : undefined

  const peers = options.peers ?? createPeers(config)
  app.decorate('draining', false)
  app.decorate('config', config)
  app.decorate('peers', peers)
  app.decorateRequest('callContext', null as unknown as CallContext)
  // The first hook: the request's span covers the others.
  if (config.enableTracing) registerRequestTracing(app)
  app.addHook('onRequest', async (request: FastifyRequest) => {
    request.callContext = {
      forwarded: platformForwardedHeaders(request.headers, config.headerKeys, config.additionalHeadersToProxy),
      incoming: request.headers,
      log: request.log,
      traceContext: requestTraceContext(request),
    }
  })
  registerRequestLogging(app)
  app.addHook('preValidation', async (request) => {
    if (nestedDeeperThan(request.body, MAX_BODY_DEPTH)) {
      throw new HttpError(400, `body must not be nested more than ${MAX_BODY_DEPTH} levels deep`, 'UMS_INVALID_REQUEST')
    }
  })
  // From the shutdown signal on, answers end their keep-alive connection: close() drops the
  // connections idle at its moment, and a request a client sends on one just then would be reset
  // unread; told to close, clients open new connections meanwhile, which close() finds busy or
  // not at all. After close() has begun it also keeps a connection finishing an in-flight request
  // from holding the shutdown open until its keep-alive timeout.
  // An answer sent before the request's body has fully arrived (a CSV upload refused at its first
  // part) ends the connection too: the rest of the body would stay unread on it, stalling the
  // client's upload and whatever request it sends next on that connection.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (app.draining || !app.server.listening || !request.raw.complete) reply.header('connection', 'close')
    done(null, payload)
  })

  // Bodies are JSON (multipart for the import): a JSON body labelled text/plain is refused with
  // a 415 naming the right type, rather than read as a string and refused as "must be object".
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler((thrown: FastifyError, request, reply) => {
    const { body, error } = errorReply(thrown, request)
    if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed')
    reply.code(body.statusCode).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(routeNotFound(request))
  })

  // Registered before the routes, whose schemas it collects; never under the service prefix.
  if (config.exposeDocumentation) {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: PACKAGE.name, description: PACKAGE.description, version: PACKAGE.version },
      },
      // Shared schemas keep their own name in the document (`ErrorBody`, not `def-0`).
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`) },
    })
    // /documentation/json and /yaml, the UI at /documentation and /documentation/, its assets under /documentation/static.
    await app.register(fastifySwaggerUi, { routePrefix: '/documentation' })
  }
  app.addSchema(errorBodySchema)
  // After the documentation plugin, which lists it; before the routes whose HTTP metrics it records.
  if (config.exposeMetrics) await registerMetrics(app)

  const jobEngine = await createJobEngine(config, app.log)
  jobEngine.define(changePasswordBulkJob({ crud: peers.crud, auth: peers.auth, ratePerSecond: config.changePasswordRatePerSecond }))
  jobEngine.define(bulkActivationJob({ crud: peers.crud, auth: peers.auth, polling: config.auth0JobPollingInterval }))
  jobEngine.define(reconcileJob({ config, crud: peers.crud, auth: peers.auth, timer: peers.timer, rond: peers.rond }))
  app.decorate('jobEngine', jobEngine)
  app.addHook('onReady', async () => jobEngine.start())
  // One hook, in order: running jobs stop (and checkpoint) while the peers can still be called;
  // the spans of their last calls are flushed after.
  app.addHook('onClose', async () => {
    await jobEngine.close()
    if (!options.peers) await peers.close?.()
    await stopTracing?.()
  })
  await app.register(statusRoutes, { packageInfo: PACKAGE, readinessChecks: [() => jobEngine.unavailableReason()] })
  // The API goes under SERVICE_PREFIX; the status routes and the documentation stay at the root.
  await app.register(async (service) => {
    await service.register(authRoutes)
    const groups = new GroupSchemaCache(peers.crud.umsConfig)
    await service.register(userRoutes, { config, crud: peers.crud, auth: peers.auth, rond: peers.rond, timer: peers.timer, groups })
    await service.register(jobRoutes, { config, engine: jobEngine })
    await service.register(importRoutes, { config, crud: peers.crud, auth: peers.auth, rond: peers.rond, timer: peers.timer, groups })
  }, { prefix: config.servicePrefix })

  return app
}
