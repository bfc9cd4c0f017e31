// OpenTelemetry tracing (ENABLE_TRACING=true): the SDK's start and stop, and the spans ums makes
// itself: a server span per incoming request (Fastify hooks) and a client span per peer call
// (clients/http.ts). Without auto-instrumentation nothing depends on import order: the SDK only
// has to run before the server takes its first request, and buildApp starts it before registering
// any route. With tracing off the SDK is never imported; only the API's no-op stays loaded.
//
// The SDK reads its OTEL_* variables itself (the env schema lists the ones that matter) and exports
// traces only: metrics are served at /-/metrics and logs are pino lines on stdout.
//
// The W3C trace headers reach the peers with tracing off too: they are in the forwarded header set
// (clients/headers.ts). With tracing on, a peer call carries its own span's context instead.
import { diag, propagation, trace, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context, type DiagLogger, type Span, type Tracer } from '@opentelemetry/api'
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { W3C_TRACE_HEADERS, pickHeaders, type HeaderMap } from '../clients/headers.js'
import type { TransportOutcome } from '../clients/peer.js'

export interface TracingOptions {
  /** `service.name` and `service.version` unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say otherwise. */
  serviceName: string
  serviceVersion: string
  /** Where spans go instead of the OTEL_TRACES_EXPORTER exporters (tests pass an in-memory one). */
  spanProcessors?: NodeSDKConfiguration['spanProcessors']
  /** Where the SDK's own problems go (an unreachable collector, a bad OTEL_* value). */
  log: FastifyBaseLogger
}

/**
 * Stops this app's use of the SDK; the last one to stop flushes the spans and shuts it down. Never
 * rejects: spans that cannot be flushed (collector down) are logged, the shutdown goes on.
 */
export type StopTracing = () => Promise<void>

/** The SDK reports a failed export as the JSON of the exception: back to an error object. */
function reportedError(message: string): { message: string; stack?: string } | undefined {
  if (!message.startsWith('{')) return undefined
  try {
    const parsed = JSON.parse(message) as { message?: unknown; stack?: unknown }
    if (typeof parsed.message !== 'string') return undefined
    return { message: parsed.message, ...(typeof parsed.stack === 'string' ? { stack: parsed.stack } : {}) }
  } catch {
    return undefined
  }
}

/** The SDK's diagnostics as pino lines (warnings and errors): otherwise they go nowhere. */
function diagnosticsTo(log: FastifyBaseLogger): DiagLogger {
  const write = (level: 'error' | 'warn' | 'info' | 'debug' | 'trace') => (message: string, ...args: unknown[]) => {
    const reported = reportedError(message)
    const err = args.find((arg) => arg instanceof Error) ?? (reported ? Object.assign(new Error(reported.message), { stack: reported.stack }) : undefined)
    log[level](err ? { err } : {}, `OpenTelemetry: ${reported?.message ?? message}`)
  }
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug'), verbose: write('trace') }
}

/**
 * The SDK registers itself globally: there is one per process, shared by the apps that enable
 * tracing (only tests build several apps in one process).
 */
let running: { tracer: Tracer; users: number; shutdown: () => Promise<void> } | undefined

export async function startTracing(options: TracingOptions): Promise<StopTracing> {
  if (running === undefined) {
    // Set first: OTEL_LOG_LEVEL, when given, makes the SDK replace it with its console logger.
    diag.setLogger(diagnosticsTo(options.log), DiagLogLevel.WARN)
    const { NodeSDK, resources } = await import('@opentelemetry/sdk-node')
    const sdk = new NodeSDK({
      // The SDK's environment detector runs after, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
      resource: resources
        .defaultResource()
        .merge(resources.resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion })),
      instrumentations: [],
      metricReaders: [],
      logRecordProcessors: [],
      ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    })
    sdk.start()
    running = { tracer: trace.getTracer(options.serviceName, options.serviceVersion), users: 0, shutdown: () => sdk.shutdown() }
  }
  const current = running
  current.users += 1
  let stopped = false
  return async () => {
    if (stopped) return
    stopped = true
    current.users -= 1
    if (current.users > 0) return
    if (running === current) running = undefined
    try {
      await current.shutdown()
    } catch (error) {
      options.log.warn({ err: error }, 'OpenTelemetry: spans not flushed at shutdown')
    }
  }
}

const requestSpans = new WeakMap<FastifyRequest, { span: Span; context: Context }>()

/** The context of the request's server span: peer calls made for the request start their spans in it. */
export function requestTraceContext(request: FastifyRequest): Context | undefined {
  return requestSpans.get(request)?.context
}

function endRequestSpan(request: FastifyRequest, reply: FastifyReply | undefined): void {
  const entry = requestSpans.get(request)
  if (!entry) return
  requestSpans.delete(request)
  const { span } = entry
  if (reply) {
    span.setAttribute('http.response.status_code', reply.statusCode)
    // A server span is an error only when the server failed: a 4xx is the caller's.
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
  } else {
    span.setAttribute('error.type', 'aborted')
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection' })
  }
  span.end()
}

/**
 * One server span per request, child of the caller's trace context when it sends one. Registered
 * first among the hooks, so that the span covers the others. Only the route template and the path
 * are recorded: the query string may carry personal data.
 */
export function registerRequestTracing(app: FastifyInstance): void {
  // Callback hooks rather than async ones: they run on every request.
  app.addHook('onRequest', (request, _reply, done) => {
    const tracer = running?.tracer
    if (tracer) startRequestSpan(tracer, request)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    endRequestSpan(request, reply)
    done()
  })
  app.addHook('onRequestAbort', async (request) => endRequestSpan(request, undefined))
}

/** The request's server span, child of the caller's trace context when it sends one. */
function startRequestSpan(tracer: Tracer, request: FastifyRequest): void {
  const route = request.routeOptions.url
  const parent = propagation.extract(ROOT_CONTEXT, request.headers)
  const span = tracer.startSpan(
    route === undefined ? request.method : `${request.method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?')[0] ?? '/',
        ...(route === undefined ? {} : { 'http.route': route }),
      },
    },
    parent,
  )
  requestSpans.set(request, { span, context: trace.setSpan(parent, span) })
}

export interface PeerCallDescription {
  peer: string
  method: string
  /** The route template, never a path with ids. */
  route: string
  baseUrl: URL
}

/**
 * Starts the client span of a peer call, child of `parent` (the request's span), else of the trace
 * context the forwarded headers carry (a job's calls continue the trace of the request that
 * submitted it). `headers`, the call's outgoing headers, are rewritten to carry the new span.
 * Returns the function ending the span with the call's outcome; undefined while tracing is off.
 */
export function startPeerSpan(call: PeerCallDescription, parent: Context | undefined, headers: HeaderMap): ((outcome: number | TransportOutcome) => void) | undefined {
  const tracer = running?.tracer
  if (!tracer) return undefined
  const parentContext = parent ?? propagation.extract(ROOT_CONTEXT, headers)
  const port = call.baseUrl.port === '' ? (call.baseUrl.protocol === 'https:' ? 443 : 80) : Number(call.baseUrl.port)
  const span = tracer.startSpan(
    `${call.method} ${call.route}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': call.method,
        'url.template': call.route,
        'server.address': call.baseUrl.hostname,
        'server.port': port,
        'peer.service': call.peer,
      },
    },
    parentContext,
  )
  const carrier: HeaderMap = {}
  propagation.inject(trace.setSpan(parentContext, span), carrier)
  // The configured propagators speak for the span; when none injects anything, the caller's headers stay.
  if (Object.keys(carrier).length > 0) {
    for (const name of W3C_TRACE_HEADERS) delete headers[name]
    Object.assign(headers, carrier)
  }
  return (outcome) => {
    if (typeof outcome === 'number') {
      span.setAttribute('http.response.status_code', outcome)
      if (outcome >= 400) {
        span.setAttribute('error.type', String(outcome))
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
    } else {
      span.setAttribute('error.type', outcome)
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome })
    }
    span.end()
  }
}

/**
 * The trace headers of work that outlives the request (the Timer Service's expiry callback): the
 * request span's context with tracing on, else the caller's own W3C headers, so that the later
 * call joins the caller's trace either way.
 */
export function traceHeaders(ctx: { forwarded: HeaderMap; traceContext?: Context | undefined }): HeaderMap {
  if (running !== undefined && ctx.traceContext !== undefined) {
    const carrier: HeaderMap = {}
    propagation.inject(ctx.traceContext, carrier)
    if (Object.keys(carrier).length > 0) return carrier
  }
  return pickHeaders(ctx.forwarded, W3C_TRACE_HEADERS)
}
