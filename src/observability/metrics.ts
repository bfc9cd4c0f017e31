// Prometheus metrics, served at GET /-/metrics unless EXPOSE_METRICS=false: the process metrics,
// the HTTP route metrics (named as the fastify-metrics plugin names them), and the metrics of ums itself, defined here and
// recorded where things happen (peer calls in clients/http.ts, rollbacks in services/rollback.ts,
// jobs in jobs/engine.ts and the job services, CSV rows in services/import-csv).
//
// No label value comes from a caller: each one is a route template, a status code or a word of a
// closed set, so no id, email or other personal data reaches a label and series stay few.
//
// The process metrics and the ums metrics describe the process (a replica, for Prometheus) and
// live in prom-client's global registry; the route metrics belong to one server and go to a
// registry of its own, so that two apps in one process (tests) do not clash.
import promClient, { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, onResponseHookHandler, RouteOptions } from 'fastify'
import type { PeerService, TransportOutcome } from '../clients/peer.js'

const METRICS_PATH = '/-/metrics'

type Labels = Record<string, string | number>

/**
 * Observations of per-request histograms and summaries, handed to prom-client in batches: when
 * `BATCH_SIZE` are waiting, and before the metrics are read (their `collect`), so a scrape sees
 * every observation made before it, in order (a summary's quantiles depend on the order). One
 * observation at a time, between the other work of a request, cost several times what the same
 * code costs run over a batch, and it ran several times per request.
 */
class ObservationBatch {
  private readonly labels: Labels[] = []
  private readonly values: number[] = []

  constructor(private readonly metrics: Array<Pick<Histogram<string>, 'observe'> | Pick<Summary<string>, 'observe'>>) {}

  add(labels: Labels, value: number): void {
    this.labels.push(labels)
    this.values.push(value)
    if (this.values.length >= BATCH_SIZE) this.flush()
  }

  flush(): void {
    const { labels, values } = this
    for (const metric of this.metrics) {
      for (let index = 0; index < values.length; index++) metric.observe(labels[index] as Labels, values[index] as number)
    }
    labels.length = 0
    values.length = 0
  }
}

/** Observations kept before they are handed over: a bound on what waits between two scrapes. */
const BATCH_SIZE = 256

const peerCalls: { batch?: ObservationBatch } = {}
const peerRequestDuration = new Histogram({
  name: 'ums_peer_request_duration_seconds',
  help: 'Calls to the CRUD Service, the auth service, Rönd and the Timer Service, body included; outcome is the status code, or timeout, refused, reset or error',
  labelNames: ['peer', 'method', 'route', 'outcome'] as const,
  collect: () => peerCalls.batch?.flush(),
})
peerCalls.batch = new ObservationBatch([peerRequestDuration])

const rollbacks = new Counter({
  name: 'ums_rollbacks_total',
  help: 'Rollbacks of a multi-step change after a failed step, by operation; undo_failed means a step could not be undone and needs manual cleanup',
  labelNames: ['operation', 'result'] as const,
})

const jobs = new Gauge({
  name: 'ums_jobs',
  help: 'Bulk jobs this replica holds now: running here, or queued here behind a job of the same kind (in-memory job store only)',
  labelNames: ['kind', 'status'] as const,
})

const jobItems = new Counter({
  name: 'ums_job_items_total',
  help: 'Items settled by the bulk jobs this replica ran, once recorded in the job store (users or change-password emails)',
  labelNames: ['kind', 'outcome'] as const,
})

const importRows = new Counter({
  name: 'ums_import_rows_total',
  help: 'Rows of the CSV imports completed on this replica: inserted, updated or invalid (refused by the group schema or the CRUD Service)',
  labelNames: ['outcome'] as const,
})
for (const outcome of ['inserted', 'updated', 'invalid'] as const) importRows.inc({ outcome }, 0)

/** What became of a sign-up: each one counts once, under exactly one of these. */
export const SELF_REGISTRATION_OUTCOMES = ['created', 'already_exists', 'domain_refused', 'disabled', 'rate_limited', 'invalid'] as const
export type SelfRegistrationOutcome = (typeof SELF_REGISTRATION_OUTCOMES)[number]

const selfRegistrations = new Counter({
  name: 'ums_self_registrations_total',
  help: 'Sign-ups (POST /users/self-register) by outcome: created, already_exists (answered as created; the owner was sent the change-password email), domain_refused, disabled, rate_limited or invalid',
  labelNames: ['outcome'] as const,
})
for (const outcome of SELF_REGISTRATION_OUTCOMES) selfRegistrations.inc({ outcome }, 0)

const unconfirmedWrites = new Counter({
  name: 'ums_unconfirmed_writes_total',
  help: 'Peer writes whose answer was lost (timeout, reset) and that ums read back: landed, not_landed, or unknown when the read failed too (reconciliation or an operator settles those)',
  labelNames: ['peer', 'verdict'] as const,
})

const listenerFailures = new Counter({
  name: 'ums_listener_failures_total',
  help: 'Event listeners of the job engine and its store connections that threw: each was logged at error level, and the replica went on',
  labelNames: ['source', 'event'] as const,
})

export type JobMetricStatus = 'running' | 'queued'

/** One peer call, measured from its start to the end of its body. */
export function observePeerCall(peer: PeerService, method: string, route: string, outcome: number | TransportOutcome, seconds: number): void {
  peerCalls.batch?.add({ peer, method, route, outcome: String(outcome) }, seconds)
}

/** One rollback run: `undo_failed` when at least one of its undo steps failed. */
export function countRollback(operation: string, result: 'undone' | 'undo_failed'): void {
  rollbacks.inc({ operation, result })
}

export type WriteVerdict = 'landed' | 'not_landed' | 'unknown'

/** A write whose answer was lost, once read back. */
export function countUnconfirmedWrite(peer: PeerService, verdict: WriteVerdict): void {
  unconfirmedWrites.inc({ peer, verdict })
}

/** A listener that threw, by its emitter and event (both from a closed set, named in the code). */
export function countListenerFailure(source: string, event: string): void {
  listenerFailures.inc({ source, event })
}

/** A job kind this replica can run: its series exist (at 0) before its first job. */
export function declareJobKind(kind: string): void {
  for (const status of ['running', 'queued'] as const) jobs.inc({ kind, status }, 0)
}

export function jobEntered(kind: string, status: JobMetricStatus): void {
  jobs.inc({ kind, status })
}

export function jobLeft(kind: string, status: JobMetricStatus): void {
  jobs.dec({ kind, status })
}

/** Items a job settled; counted once they are in the job store, so a resumed run does not count them again. */
export function countJobItems(kind: string, outcome: string, count: number): void {
  if (count > 0) jobItems.inc({ kind, outcome }, count)
}

export function countSelfRegistration(outcome: SelfRegistrationOutcome): void {
  selfRegistrations.inc({ outcome })
}

export function countImportRows(counts: { inserted: number; updated: number; invalid: number }): void {
  for (const outcome of ['inserted', 'updated', 'invalid'] as const) importRows.inc({ outcome }, counts[outcome])
}

/** Methods whose requests are not measured. */
const UNMEASURED_METHODS = new Set(['HEAD', 'OPTIONS', 'TRACE', 'CONNECT'])
const ROUTE_LABELS = ['method', 'route', 'status_code'] as const

declare module 'fastify' {
  interface FastifyRequest {
    /** When a measured route's onRequest hooks began (performance.now(), ms). */
    metricsStartedAt: number
  }
}

/**
 * The HTTP metrics of every route registered after this call, as fastify-metrics defines them
 * (names, help, labels, buckets, which requests count): a histogram and a summary of the time from
 * the onRequest hooks to the onResponse hooks, by method, route template (or the route's `statsId`)
 * and status code. Measured here, by a hook pair added to each measured route with its label
 * already known: the plugin's per-request work (its hooks on every request, two timers and their
 * closures, a WeakMap, four builds of `request.routeOptions`) was a large share of a proxied
 * read's own CPU.
 */
function registerRouteMetrics(app: FastifyInstance, registry: Registry): void {
  const pending: { batch?: ObservationBatch } = {}
  const collect = () => pending.batch?.flush()
  const histogram = new Histogram({ name: 'http_request_duration_seconds', help: 'request duration in seconds', labelNames: ROUTE_LABELS, registers: [registry], collect })
  const summary = new Summary({ name: 'http_request_summary_seconds', help: 'request duration in seconds summary', labelNames: ROUTE_LABELS, registers: [registry], collect })
  const batch = new ObservationBatch([histogram, summary])
  pending.batch = batch
  const start: onRequestHookHandler = (request, _reply, done) => {
    request.metricsStartedAt = performance.now()
    done()
  }
  app.decorateRequest('metricsStartedAt', 0)
  app.addHook('onRoute', (route) => {
    const config = route.config as { disableMetrics?: boolean; statsId?: string } | undefined
    if (config?.disableMetrics === true) return
    const methods = [route.method].flat()
    const measured = methods.filter((method) => !UNMEASURED_METHODS.has(method))
    if (measured.length === 0) return
    const label = config?.statsId ?? route.url
    const only = measured.length === methods.length ? undefined : new Set(measured)
    const observe: onResponseHookHandler = (request, reply, done) => {
      if (only === undefined || only.has(request.method)) {
        batch.add({ method: request.method, route: label, status_code: reply.statusCode }, (performance.now() - request.metricsStartedAt) / 1000)
      }
      done()
    }
    // First among the route's own hooks, as the plugin's ran before them; new arrays, because
    // Fastify's automatic HEAD route shares the GET route's options (and HEAD is not measured).
    route.onRequest = [start, ...(route.onRequest === undefined ? [] : [route.onRequest].flat())]
    route.onResponse = [observe, ...(route.onResponse === undefined ? [] : [route.onResponse].flat())]
  })
}

/** prom-client's process metrics run timers and observers: started once per process, by the first app that serves them. */
let processMetricsStarted = false

/**
 * GET /-/metrics on `app` (at the root, never under SERVICE_PREFIX; silent in the request logs
 * like the status routes), with the HTTP metrics of every route registered after it: register it
 * before the routes.
 */
export async function registerMetrics(app: FastifyInstance): Promise<void> {
  if (!processMetricsStarted) {
    // The event-loop delay histogram samples every 100 ms: at prom-client's default of 10 ms, its
    // timer alone kept about 1 % of a core busy on an idle replica.
    promClient.collectDefaultMetrics({ eventLoopMonitoringPrecision: 100 })
    processMetricsStarted = true
  }
  const routeRegistry = new Registry()
  registerRouteMetrics(app, routeRegistry)
  const registries = [promClient.register, routeRegistry]
  app.route({
    url: METRICS_PATH,
    method: 'GET',
    logLevel: 'error',
    schema: {
      tags: ['Status'],
      operationId: 'metrics',
      summary: 'Prometheus metrics: process, HTTP routes, peer calls, rollbacks, jobs and CSV imports',
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
    handler: async (_request: FastifyRequest, reply: FastifyReply) => {
      const merged = Registry.merge(registries)
      const text = await merged.metrics()
      return reply.type(merged.contentType).send(text)
    },
  } as unknown as RouteOptions)
}
