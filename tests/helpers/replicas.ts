// ums replicas as production runs them, for vitest: processes of the production entry on one job
// store (tests/helpers/ums-process.ts), each killed after the test that started it, with the
// emulators and the store they share.
import { afterEach, expect } from 'vitest'
import { freePort, stackEnv, startEmulators, type Emulators, type StackOptions } from '../../src/sandbox/stack.js'
import { call, isolatedJobStore, jobStoreEnv } from './stack.js'
import { isRunning, spawnUms, waitUntil, waitUntilReady, type UmsProcess } from './ums-process.js'

export { errorLines, isRunning, waitUntil, type UmsProcess } from './ums-process.js'

export type DurableStoreKind = 'postgres' | 'redis'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs `cleanup` after the current test, after those registered later. */
export function afterTest(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup)
}

/** Starts a replica on `port` (default: a free one), killed after the test, and waits until it is ready. */
export async function startUms(name: string, env: Record<string, string>, port?: number): Promise<UmsProcess> {
  const ums = spawnUms(name, env, port ?? (await freePort()))
  afterTest(async () => {
    if (isRunning(ums)) ums.child.kill('SIGKILL')
    await ums.exited
  })
  await waitUntilReady(ums)
  return ums
}

/** The environment of replicas sharing one isolated store of `kind`, removed after the test. */
export async function replicaEnv(kind: DurableStoreKind, emulators: Emulators, settings: Record<string, string> = {}): Promise<Record<string, string>> {
  const store = (await isolatedJobStore(kind))!
  afterTest(() => store.cleanup())
  return { ...stackEnv(emulators.urls, 0), ...jobStoreEnv(store), LOG_LEVEL: 'warn', ...settings }
}

/** The four emulators on loopback, closed after the test. */
export async function useEmulators(options: Pick<StackOptions, 'auth0' | 'timer'> = {}): Promise<Emulators> {
  const emulators = await startEmulators(options)
  afterTest(() => emulators.close())
  return emulators
}

/** Polls a job on `base` until it is no longer pending; returns its body. */
export async function waitForJob(base: string, path: string, timeoutMs = 60_000): Promise<any> {
  let body: any
  await waitUntil(async () => {
    const answer = await call(base, 'GET', path)
    body = answer.body
    expect(answer.status).toBe(200)
    return body.status !== 'pending'
  }, `${path} to end`, timeoutMs)
  return body
}
