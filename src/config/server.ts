// The Fastify server's own options, derived from the configuration: logger, timeouts, body limit,
// routing and validation.
import type { Server } from 'node:http'
import type { FastifyHttpOptions } from 'fastify'
import { LogController } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Config } from './index.js'
import { loggerOptions } from '../observability/logging.js'

/**
 * A request must have fully arrived, headers and body, within this long: a client that stops
 * sending in the middle of a body (a multipart part that never ends) gets a 408 and its connection
 * closed, rather than holding the connection and the half-received upload forever. Node's own
 * default, which Fastify turns off: a 16 MiB JSON body may still come at 56 KB/s.
 */
export const REQUEST_TIMEOUT_MS = 300_000

export interface ServerSettings {
  /** Log destination (tests capture log lines with it). */
  logStream?: DestinationStream | undefined
  /** How long a request may take to arrive, body included (default REQUEST_TIMEOUT_MS; tests shorten it). */
  requestTimeoutMs?: number | undefined
}

export function serverOptions(config: Config, settings: ServerSettings = {}): FastifyHttpOptions<Server> {
  const requestTimeout = settings.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  return {
    logger: loggerOptions(config.logLevel, settings.logStream),
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
    // The client address (rate limits, logs) comes from x-forwarded-for only behind a known proxy.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }
}
