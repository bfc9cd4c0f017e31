// The bulk jobs: the engine on the configured store with the three job kinds defined, started once
// the app is ready, and on close stopped (running jobs checkpoint and are handed over) before the
// peers they call are closed.
import fp from 'fastify-plugin'
import { createJobEngine } from '../jobs/index.js'
import type { JobEngine } from '../jobs/engine.js'
import { bulkActivationJob } from '../services/bulk-activation/index.js'
import { changePasswordBulkJob } from '../services/change-password-bulk/index.js'
import { reconcileJob } from '../services/reconcile/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** SIGTERM hands the running jobs over (src/lifecycle/shutdown.ts); close() stops them. */
    jobEngine: JobEngine
  }
}

export default fp(
  async (app) => {
    const { config, users } = app
    const engine = await createJobEngine(config, app.log)
    engine.define(changePasswordBulkJob({ users: users.users, auth: users.auth, ratePerSecond: config.changePasswordRatePerSecond }))
    engine.define(bulkActivationJob({ crud: users.crud, users: users.users, auth: users.auth, polling: config.auth0JobPollingInterval }))
    engine.define(reconcileJob(users))
    app.decorate('jobEngine', engine)
    app.addHook('onReady', async () => engine.start())
    app.addHook('onClose', async () => engine.close())
  },
  { name: 'job-engine', dependencies: ['config', 'users'] },
)
