// Process entry: configuration, app, listen, graceful shutdown on SIGTERM.
import { ConfigError, loadConfig } from './config.js'
import { buildApp } from './app.js'

/**
 * Once closed, the process exits by itself; a timer a library left behind (the job scheduler's
 * lock watch sleeps up to half the lock lifetime) must not hold it longer than this.
 */
const EXIT_AFTER_CLOSE_MS = 1_000

async function main(): Promise<void> {
  const config = await loadConfig(process.env, { dotenv: true })
  const app = await buildApp(config)
  await app.listen({ host: '0.0.0.0', port: config.httpPort })

  let closing = false
  process.on('SIGTERM', () => {
    if (closing) return
    closing = true
    app.log.info({ waitMs: config.waitBeforeServerCloseMs }, 'SIGTERM received: closing after the wait')
    // Jobs go to the other replicas at once: they need not wait for this one's locks to expire.
    app.jobEngine.handOver().catch((error: unknown) => app.log.error({ err: error }, 'jobs not handed over'))
    // The wait lets Kubernetes take the pod out of the endpoints; requests keep being served meanwhile.
    setTimeout(() => {
      app
        .close()
        .then(() => app.log.info('server closed'))
        .catch((error: unknown) => {
          app.log.error({ err: error }, 'error while closing')
          process.exitCode = 1
        })
        .finally(() => setTimeout(() => process.exit(), EXIT_AFTER_CLOSE_MS).unref())
    }, config.waitBeforeServerCloseMs)
  })
}

main().catch((error: unknown) => {
  // A configuration problem is one line naming the variable; anything else keeps its stack.
  console.error(error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
