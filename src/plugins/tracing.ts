// OpenTelemetry (ENABLE_TRACING): the SDK starts before any request can come, each request gets a
// server span covering the other hooks (so this plugin is registered before any plugin adding
// hooks), and the spans are flushed on close, after the plugins registered later have closed.
import fp from 'fastify-plugin'
import { PACKAGE } from '../config/package.js'
import { registerRequestTracing, startTracing, type TracingOptions } from '../observability/tracing.js'

export interface TracingPluginOptions {
  /** Where spans go instead of the OTEL_TRACES_EXPORTER exporters (tests). */
  spanProcessors?: TracingOptions['spanProcessors']
}

export default fp<TracingPluginOptions>(
  async (app, options) => {
    if (!app.config.enableTracing) return
    const stopTracing = await startTracing({ serviceName: PACKAGE.name, serviceVersion: PACKAGE.version, spanProcessors: options.spanProcessors, log: app.log })
    registerRequestTracing(app)
    app.addHook('onClose', async () => stopTracing())
  },
  { name: 'tracing', dependencies: ['config'] },
)
