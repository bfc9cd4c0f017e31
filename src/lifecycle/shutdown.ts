// Graceful shutdown on SIGTERM and SIGINT, shared by the process entry and the sandbox so that
// both stop the same way whichever signal a process manager or a terminal sends.
import type { FastifyInstance } from 'fastify'

/**
 * Once closed, the process exits by itself; a timer a library left behind (the job scheduler's
 * lock watch sleeps up to half the lock lifetime) must not hold it longer than this.
 */
const EXIT_AFTER_CLOSE_MS = 1_000

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']

/**
 * On the first SIGTERM or SIGINT: hand the running jobs over, keep serving for `waitMs`, then
 * `close` (the app by default) and exit. Later signals are ignored: `npm start` in a terminal
 * delivers Ctrl-C twice (the terminal signals the whole process group and npm forwards its copy),
 * and the second must not cut the wait short.
 */
export function closeOnSignals(app: FastifyInstance, waitMs: number, close: () => Promise<void> = () => app.close()): void {
  let closing = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return
    closing = true
    app.draining = true
    app.log.info({ signal, waitMs }, `${signal} received: closing after the wait`)
    // Jobs go to the other replicas at once: they need not wait for this one's locks to expire.
    app.jobEngine.handOver().catch((error: unknown) => app.log.error({ err: error }, 'jobs not handed over'))
    // The wait lets Kubernetes take the pod out of the endpoints; requests keep being served meanwhile.
    setTimeout(() => {
      close()
        .then(() => app.log.info('server closed'))
        .catch((error: unknown) => {
          app.log.error({ err: error }, 'error while closing')
          process.exitCode = 1
        })
        .finally(() => setTimeout(() => process.exit(), EXIT_AFTER_CLOSE_MS).unref())
    }, waitMs)
  }
  for (const signal of SIGNALS) process.on(signal, onSignal)
}
