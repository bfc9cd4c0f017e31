// Builds the job engine the configuration asks for: in memory when no store URL is set, else
// Agenda on the configured store (only that backend's driver is loaded).
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { AgendaJobEngine } from './agenda-engine.js'
import { InMemoryJobEngine, type JobEngine } from './engine.js'
import { reportListenerFailures } from './listeners.js'
import { MemoryJobStore } from './memory-store.js'
import { openDurableJobStore } from './stores/index.js'

export async function createJobEngine(config: Config, log: FastifyBaseLogger): Promise<JobEngine> {
  const storeConfig = config.jobStore
  if (storeConfig.backend === 'memory') return new InMemoryJobEngine(new MemoryJobStore({ ttlMs: config.jobsTtlMs }), log)
  const onListenerFailure = reportListenerFailures(log)
  const durable = await openDurableJobStore(storeConfig.backend, {
    url: storeConfig.url,
    name: config.jobsCollectionName,
    ttlMs: config.jobsTtlMs,
    onBackgroundError: (error) => log.warn({ err: error, store: storeConfig.backend }, 'job store connection error'),
    onListenerFailure,
  })
  return new AgendaJobEngine({ durable, lockLifetimeMs: config.jobsLockLifetimeMs, log, onListenerFailure })
}
