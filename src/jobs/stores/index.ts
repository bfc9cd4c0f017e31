// Opens, or removes, the configured durable store. Each backend's module imports its own driver,
// and only the configured one is imported: a PostgreSQL deployment never loads the MongoDB or
// Redis drivers.
import type { DropJobStoreOptions, DurableJobStore, DurableJobStoreOptions } from '../store.js'
import type { DurableBackend } from './errors.js'


const OPENERS: Record<DurableBackend, () => Promise<(options: DurableJobStoreOptions) => DurableJobStore>> = {
  postgres: async () => (await import('./postgres.js')).openPostgresJobStore,
  redis: async () => (await import('./redis.js')).openRedisJobStore,
  mongodb: async () => (await import('./mongo.js')).openMongoJobStore,
}

export async function openDurableJobStore(backend: DurableBackend, options: DurableJobStoreOptions): Promise<DurableJobStore> {
  const open = await OPENERS[backend]()
  return open(options)
}

const DROPPERS: Record<DurableBackend, () => Promise<(options: DropJobStoreOptions) => Promise<string[]>>> = {
  postgres: async () => (await import('./postgres.js')).dropPostgresJobStore,
  redis: async () => (await import('./redis.js')).dropRedisJobStore,
  mongodb: async () => (await import('./mongo.js')).dropMongoJobStore,
}

/** Removes everything a store of that name created; answers what it removed (nothing when it held nothing). */
export async function dropDurableJobStore(backend: DurableBackend, options: DropJobStoreOptions): Promise<string[]> {
  const drop = await DROPPERS[backend]()
  return drop(options)
}
