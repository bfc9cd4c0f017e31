// Prometheus metrics, served at GET /-/metrics unless EXPOSE_METRICS=false: the process metrics,
// the HTTP route metrics of fastify-metrics, and the metrics of ums itself, defined here and
// recorded where things happen (peer calls in clients/http.ts, rollbacks in services/rollback.ts,
// jobs in jobs/engine.ts and the job services, CSV rows in services/import-csv).
//
// No label value comes from a caller: each one is a route template, a status code or a word of a
// closed set, so no id, email or other personal data reaches a label and series stay few.
//
// The process metrics and the ums metrics describe the process (a replica, for Prometheus) and
// live in prom-client's global registry; the route metrics belong to one server and go to a
// registry of its own, so that two apps in one process (tests) do not clash.
import promClient, { Counter, Gauge, Histogram, Registry } from 'prom-client'
// A CommonJS module whose plugin is its `default` export.
import fastifyMetricsModule from 'fastify-metrics'
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { PeerService, TransportOutcome } from '../clients/peer.js'

const METRICS_PATH = '/-/metrics'

const peerRequestDuration = new Histogram({
  name: 'ums_peer_request_duration_seconds',
  help: 'Calls to the CRUD Service, the auth service, Rönd and the Timer Service, body included; outcome is the status code, or timeout, refused, reset or error',
  labelNames: ['peer', 'method', 'route', 'outcome'] as const,
})

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
  peerRequestDuration.observe({ peer, method, route, outcome: String(outcome) }, seconds)
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

export function countImportRows(counts: { inserted: number; updated: number; invalid: number }): void {
  for (const outcome of ['inserted', 'updated', 'invalid'] as const) importRows.inc({ outcome }, counts[outcome])
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
    promClient.collectDefaultMetrics()
    processMetricsStarted = true
  }
  const routeRegistry = new Registry()
  const endpoint = {
    url: METRICS_PATH,
    method: 'GET',
    logLevel: 'error',
    schema: {
      tags: ['Status'],
      operationId: 'metrics',
      summary: 'Prometheus metrics: process, HTTP routes, peer calls, rollbacks, jobs and CSV imports',
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  } as unknown as RouteOptions
  await app.register(fastifyMetricsModule.default, {
    promClient,
    endpoint,
    defaultMetrics: { enabled: false },
    routeMetrics: {
      enabled: true,
      overrides: { histogram: { registers: [routeRegistry] }, summary: { registers: [routeRegistry] } },
    },
  })
}
