// Logger options and the two request lines of the platform launcher:
// pino JSON, epoch-ms time, secrets redacted everywhere, status routes silent.
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify'
import type { DestinationStream, Level } from 'pino'
import { SECRET_HEADERS } from '../clients/headers.js'

/** `set-cookie` → `Set-Cookie`: how headers are spelt where they are not lower-cased. */
const headerCase = (name: string) => name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => `${dash}${letter.toUpperCase()}`)

const SECRET_KEYS = [
  'password',
  'newPassword',
  'refreshToken',
  'refresh_token',
  'accessToken',
  'access_token',
  'idToken',
  'id_token',
  ...SECRET_HEADERS.flatMap((name) => [name, headerCase(name)]),
]

/** Redacted at the top level, one level below (e.g. `headers.cookie`) and two (`req.headers.cookie`). */
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`
  const join = (prefix: string) => (segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`)
  return [segment.startsWith('[') ? segment : key, join('*'), join('*.*')]
})

/** ECS-style error object: type, message, stack and code when there is one. */
function serializeError(error: Error & { code?: string }) {
  return { type: error.name, message: error.message, stack: error.stack ?? '', ...(error.code ? { code: error.code } : {}) }
}

export function loggerOptions(level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  // Silent means no logger at all: no per-request child logger, no redaction work.
  if (level === 'silent') return false
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: { err: serializeError, error: serializeError },
    ...(stream ? { stream } : {}),
  }
}

function hostFields(headers: Record<string, string | string[] | undefined>) {
  const host = typeof headers.host === 'string' ? headers.host.replace(/:\d+$/, '') : undefined
  return { hostname: host, forwardedHost: headers['x-forwarded-host'], ip: headers['x-forwarded-for'] }
}

/**
 * Whether `log` writes lines at `level`, so that a line's fields are built only when it is written.
 * Without a logger (LOG_LEVEL silent) Fastify hands out a stand-in whose methods do nothing and
 * which has no isLevelEnabled: nothing is written at any level.
 */
export function logsAt(log: FastifyBaseLogger, level: Level): boolean {
  const isLevelEnabled = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled
  return typeof isLevelEnabled === 'function' && isLevelEnabled.call(log, level)
}

/** Whether `log` is a logger at all, rather than the stand-in Fastify hands out without one. */
function hasLogger(log: FastifyBaseLogger): boolean {
  return typeof (log as { isLevelEnabled?: unknown }).isLevelEnabled === 'function'
}

/**
 * `incoming request` (trace) and `request completed` (info), as the platform launcher writes them.
 * Callback hooks rather than async ones, and no fields built for a line not written: they run on
 * every request.
 */
export function registerRequestLogging(app: FastifyInstance): void {
  // Without a logger (LOG_LEVEL silent) no request has one either: no line to write, no hook to run.
  if (!hasLogger(app.log)) return
  app.addHook('onRequest', (request, _reply, done) => {
    if (logsAt(request.log, 'trace')) {
      request.log.trace(
        {
          http: { request: { method: request.method, userAgent: { original: request.headers['user-agent'] } } },
          url: { path: request.url, params: request.params },
          host: hostFields(request.headers),
        },
        'incoming request',
      )
    }
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    if (logsAt(request.log, 'info')) {
      const length = reply.getHeader('content-length')
      request.log.info(
        {
          http: {
            request: { method: request.method, userAgent: { original: request.headers['user-agent'] } },
            response: { statusCode: reply.statusCode, ...(length !== undefined ? { body: { bytes: Number(length) } } : {}) },
          },
          url: { path: request.url, params: request.params },
          host: hostFields(request.headers),
          responseTime: reply.elapsedTime,
        },
        'request completed',
      )
    }
    done()
  })
}
