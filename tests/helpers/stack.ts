// Test helpers: one ums + emulators stack per test file, reset before each test, and the tiny
// HTTP client of http.ts.
import { afterAll, beforeAll, beforeEach, test } from 'vitest'
import { Writable } from 'node:stream'
import { startStack, type Stack, type StackOptions } from '../../src/sandbox/stack.js'
import { isolatedPostgres, isolatedRedis, type IsolatedStore } from './job-stores.js'
import { call, type Answer } from './http.js'
import { consecutiveFreePorts } from './processes.js'

export { call, type Answer } from './http.js'

/** Captured log lines of the app, parsed. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
    done()
  }
  get records(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

/** Where a test stack keeps its jobs. */
export type JobStoreKind = 'memory' | 'postgres' | 'redis'

/** The job stores the job suites run on. */
export const JOB_STORES: JobStoreKind[] = ['memory', 'postgres', 'redis']

/** A job store of its own for one stack (memory: nothing to isolate). */
export async function isolatedJobStore(kind: JobStoreKind): Promise<IsolatedStore | undefined> {
  if (kind === 'postgres') return isolatedPostgres()
  if (kind === 'redis') return isolatedRedis()
  return undefined
}

/** The ums variables pointing at an isolated store. */
export function jobStoreEnv(store: IsolatedStore | undefined): Record<string, string> {
  return store ? { JOBS_STORE_URL: store.url, JOBS_COLLECTION_NAME: store.name } : {}
}

export interface UseStackOptions extends StackOptions {
  /** The job store of the stack's ums (default memory), isolated for the file and removed after it. */
  jobStore?: JobStoreKind
}

/** Starts a stack for the file (beforeAll), resets peers before each test, closes it after. */
export function useStack(options: UseStackOptions = {}): { readonly current: Stack; call: <T = any>(method: Parameters<typeof call>[1], path: string, opts?: Parameters<typeof call>[3]) => Promise<Answer<T>> } {
  let stack: Stack | undefined
  let store: IsolatedStore | undefined
  beforeAll(async () => {
    const { jobStore = 'memory', ...stackOptions } = options
    store = await isolatedJobStore(jobStore)
    stack = await startStack({ port: await consecutiveFreePorts(1), ...stackOptions, env: { ...jobStoreEnv(store), ...stackOptions.env } })
  })
  afterAll(async () => {
    await stack?.close()
    await store?.cleanup()
  })
  beforeEach(() => {
    stack?.resetPeers()
  })
  return {
    get current() {
      if (!stack) throw new Error('stack not started')
      return stack
    },
    call: (method, path, opts) => call(stack!.url, method, path, opts),
  }
}

/** What `useStack` returns: the running stack and a caller bound to its ums. */
export type StackHandle = ReturnType<typeof useStack>

/**
 * `test` with a `stack` fixture for tests that run side by side (`test.concurrent`): each test gets
 * a stack of the file's no other test is using, its peers reset. Stacks start as tests need them
 * (at most `maxConcurrency`) and close after the file. Memory job store only.
 */
export function stackPoolTest(options: StackOptions = {}) {
  const idle: StackHandle[] = []
  const started: Stack[] = []
  afterAll(async () => {
    await Promise.all(started.splice(0).map((stack) => stack.close()))
  })
  return test.extend<{ stack: StackHandle }>({
    stack: async ({ task: _task }, use) => {
      let handle = idle.pop()
      if (!handle) {
        const stack = await startStack({ port: await consecutiveFreePorts(1), ...options })
        started.push(stack)
        handle = { current: stack, call: (method, path, opts) => call(stack.url, method, path, opts) }
      }
      handle.current.resetPeers()
      await use(handle)
      // A test that failed half-way may have left a peer down.
      const { crud, auth0, rond, timer } = handle.current
      await Promise.all([crud, auth0, rond, timer].map((peer) => peer.up()))
      idle.push(handle)
    },
  })
}
