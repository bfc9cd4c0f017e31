// Rate limits per client address, for the routes that opt in (`config.rateLimit`): sign-ups.
// Counted in the job store's Redis when the job store is Redis, so that every replica counts the
// same requests; in this replica's memory otherwise.
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import { Redis } from 'ioredis'
import { HttpError } from '../errors/index.js'

export default fp(
  async (app) => {
    const store = app.config.jobStore
    let redis: Redis | undefined
    if (store.backend === 'redis') {
      redis = new Redis(store.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, enableOfflineQueue: true })
      // Failures show in the requests' answers and logs: an 'error' event without a listener would crash the process.
      redis.on('error', (error) => app.log.warn({ err: error }, 'rate limit store: Redis connection error'))
      app.addHook('onClose', async () => {
        redis?.disconnect()
      })
    }
    await app.register(fastifyRateLimit, {
      global: false,
      ...(redis ? { redis, nameSpace: `${app.config.jobsCollectionName}:rate-limit:` } : {}),
      // A store that fails lets requests through: sign-ups go on while Redis is away.
      skipOnError: true,
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, `too many requests from this address: try again in ${context.after}`, 'UMS_RATE_LIMITED'),
    })
  },
  { name: 'rate-limit', dependencies: ['config'] },
)
