// The configuration, loaded and validated before the app is built (src/config/), for every
// plugin and route to read from the instance.
import fp from 'fastify-plugin'
import type { Config } from '../config/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    app.decorate('config', config)
  },
  { name: 'config' },
)
