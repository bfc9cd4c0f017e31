// GET /-/metrics (unless EXPOSE_METRICS=false), listed in the documentation, with the HTTP metrics
// of every route registered after it.
import fp from 'fastify-plugin'
import { registerMetrics } from '../observability/metrics.js'

export default fp(
  async (app) => {
    if (app.config.exposeMetrics) await registerMetrics(app)
  },
  { name: 'metrics', dependencies: ['config', 'documentation'] },
)
