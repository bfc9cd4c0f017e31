// Builds the app from a typed Config: the shared plugins in dependency order, then the routes.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Config } from './config/index.js'
import { serverOptions, type ServerSettings } from './config/server.js'
import configPlugin from './plugins/config.js'
import tracingPlugin, { type TracingPluginOptions } from './plugins/tracing.js'
import requestsPlugin from './plugins/requests.js'
import drainingPlugin from './plugins/draining.js'
import errorHandlerPlugin from './plugins/error-handler.js'
import documentationPlugin from './plugins/documentation.js'
import metricsPlugin from './plugins/metrics.js'
import peersPlugin, { type Peers } from './plugins/peers.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import usersPlugin from './plugins/users.js'
import jobEnginePlugin from './plugins/job-engine.js'
import { statusRoutes } from './routes/status.js'
import { apiRoutes } from './routes/index.js'

export interface BuildOptions extends ServerSettings, TracingPluginOptions {
  /** Peer clients; built from the config when omitted. */
  peers?: Peers
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, options))
  await app.register(configPlugin, { config })
  await app.register(tracingPlugin, { spanProcessors: options.spanProcessors })
  await app.register(requestsPlugin)
  await app.register(drainingPlugin)
  await app.register(errorHandlerPlugin)
  await app.register(documentationPlugin)
  await app.register(metricsPlugin)
  await app.register(rateLimitPlugin)
  await app.register(peersPlugin, { peers: options.peers })
  await app.register(usersPlugin)
  await app.register(jobEnginePlugin)
  await app.register(statusRoutes)
  await app.register(apiRoutes, { prefix: config.servicePrefix })
  return app
}
