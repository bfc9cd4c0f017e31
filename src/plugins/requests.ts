// What every request gets before its route runs: the call context handed to the peer calls
// (forwarded platform headers, request logger, trace context), the platform's request log lines,
// and the body checks common to all routes.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { CallContext } from '../clients/http.js'
import { platformForwardedHeaders } from '../clients/headers.js'
import { HttpError } from '../errors/index.js'
import { registerRequestLogging } from '../observability/logging.js'
import { requestTraceContext } from '../observability/tracing.js'

declare module 'fastify' {
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

export default fp(
  async (app) => {
    const { headerKeys, additionalHeadersToProxy } = app.config
    app.decorateRequest('callContext', null as unknown as CallContext)
    // Callback hooks rather than async ones: they run on every request, and an async hook costs a
    // promise and a turn of the microtask queue each.
    app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
      request.callContext = {
        forwarded: platformForwardedHeaders(request.headers, headerKeys, additionalHeadersToProxy),
        incoming: request.headers,
        log: request.log,
        traceContext: requestTraceContext(request),
      }
      done()
    })
    registerRequestLogging(app)
    app.addHook('preValidation', (request, _reply, done) => {
      if (request.body !== undefined && nestedDeeperThan(request.body, MAX_BODY_DEPTH)) {
        done(new HttpError(400, `body must not be nested more than ${MAX_BODY_DEPTH} levels deep`, 'UMS_INVALID_REQUEST'))
        return
      }
      done()
    })
    // Bodies are JSON (multipart for the import): a JSON body labelled text/plain is refused with
    // a 415 naming the right type, rather than read as a string and refused as "must be object".
    app.removeContentTypeParser('text/plain')
  },
  { name: 'requests', dependencies: ['config', 'tracing'] },
)
