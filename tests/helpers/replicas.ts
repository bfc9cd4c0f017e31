// ums replicas as production runs them, for vitest: processes of the production entry on one job
// store (tests/helpers/ums-process.ts), each killed after the test that started it, with the
// emulators and the store they share.
import { afterEach } from 'vitest'
import { stackEnv, startEmulators, type Emulators, type StackOptions } from '../../src/sandbox/stack.js'
import { consecutiveFreePorts } from './processes.js'
import { isolatedJobStore, jobStoreEnv } from './stack.js'
import { isRunning, spawnUms, waitUntilReady, type UmsProcess } from './ums-process.js'

export { errorLines, isRunning, type UmsProcess } from './ums-process.js'

export type DurableStoreKind = 'postgres' | 'redis'

/**
 * The helpers of one describe block, whose replicas are killed, and stores and emulators removed,
 * after each of its tests: describe blocks can run side by side (one per store), not their tests.
 */
export function useReplicas() {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  const afterTest = (cleanup: () => Promise<void>) => {
    cleanups.push(cleanup)
  }
  return {
    /** Starts a replica on `port` (default: a free one), killed after the test, and waits until it is ready. */
    async startUms(name: string, env: Record<string, string>, port?: number): Promise<UmsProcess> {
      const ums = spawnUms(name, env, port ?? (await consecutiveFreePorts(1)))
      afterTest(async () => {
        if (isRunning(ums)) ums.child.kill('SIGKILL')
        await ums.exited
      })
      await waitUntilReady(ums)
      return ums
    },

    /** The environment of replicas sharing one isolated store of `kind`, removed after the test. */
    async replicaEnv(kind: DurableStoreKind, emulators: Emulators, settings: Record<string, string> = {}): Promise<Record<string, string>> {
      const store = (await isolatedJobStore(kind))!
      afterTest(() => store.cleanup())
      return {
        ...stackEnv(emulators.urls, 0),
        ...jobStoreEnv(store),
        LOG_LEVEL: 'warn',
        // The production default, not the stack's 2 s: the emulators answer from the test process,
        // which the other files running alongside can hold up longer than that.
        UPSTREAM_TIMEOUT_MS: '10000',
        ...settings,
      }
    },

    /** The four emulators on loopback, closed after the test. */
    async useEmulators(options: Pick<StackOptions, 'auth0' | 'timer'> = {}): Promise<Emulators> {
      const emulators = await startEmulators(options)
      afterTest(() => emulators.close())
      return emulators
    },
  }
}
