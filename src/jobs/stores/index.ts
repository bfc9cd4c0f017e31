// Opens the configured durable store. Each backend's module imports its own driver, and only the
// configured one is imported: a PostgreSQL deployment never loads the MongoDB or Redis drivers.
import type { DurableJobStore, DurableJobStoreOptions } from '../store.js'

export type DurableBackend = 'postgres' | 'redis' | 'mongodb'

const OPENERS: Record<DurableBackend, () => Promise<(options: DurableJobStoreOptions) => DurableJobStore>> = {
  postgres: async () => (await import('./postgres.js')).openPostgresJobStore,
  redis: async () => (await import('./redis.js')).openRedisJobStore,
  mongodb: async () => (await import('./mongo.js')).openMongoJobStore,
}

export async function openDurableJobStore(backend: DurableBackend, options: DurableJobStoreOptions): Promise<DurableJobStore> {
  const open = await OPENERS[backend]()
  return open(options)
}
