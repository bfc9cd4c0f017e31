// Builds the job engine the configuration asks for: in memory when no store URL is set, else
// Agenda on the configured store (only that backend's driver is loaded).
import type { FastifyBaseLogger } from 'fastify'
import { ConfigError, type Config } from '../config/index.js'
import { countListenerFailure } from '../observability/metrics.js'
import { AgendaJobEngine } from './agenda-engine.js'
import type { JobEngine } from './engine.js'
import { InMemoryJobEngine } from './memory-engine.js'
import type { ListenerFailure } from './listeners.js'
import { MemoryJobStore } from './memory-store.js'
import { openDurableJobStore } from './stores/index.js'
import { StoreUrlRefused } from './stores/errors.js'
import type { DurableJobStore } from './store.js'

/** Reports a listener's failure on `log` at error level and counts it in ums_listener_failures_total. */
export function reportListenerFailures(log: FastifyBaseLogger): ListenerFailure {
  return (error, site) => {
    countListenerFailure(site.source, site.event)
    log.error({ err: error, source: site.source, event: site.event }, 'event listener failed; the process goes on')
  }
}

export async function createJobEngine(config: Config, log: FastifyBaseLogger): Promise<JobEngine> {
  const storeConfig = config.jobStore
  if (storeConfig.backend === 'memory') return new InMemoryJobEngine(new MemoryJobStore({ ttlMs: config.jobsTtlMs }), log)
  const onListenerFailure = reportListenerFailures(log)
  let durable: DurableJobStore
  try {
    durable = await openDurableJobStore(storeConfig.backend, {
      url: storeConfig.url,
      name: config.jobsCollectionName,
      ttlMs: config.jobsTtlMs,
      onBackgroundError: (error) => log.warn({ err: error, store: storeConfig.backend }, 'job store connection error'),
      onListenerFailure,
    })
  } catch (error) {
    // A URL the driver cannot use stops the start like any invalid variable: one line naming it.
    if (error instanceof StoreUrlRefused) throw new ConfigError(`invalid configuration: ${storeConfig.variable} ${error.message}`)
    throw error
  }
  return new AgendaJobEngine({ durable, lockLifetimeMs: config.jobsLockLifetimeMs, log, onListenerFailure })
}
