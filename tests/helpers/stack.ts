// Test helpers: one ums + emulators stack per test file, reset before each test, and a tiny
// HTTP client returning status, headers and the parsed body.
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { request } from 'undici'
import { Writable } from 'node:stream'
import { startStack, type Stack, type StackOptions } from '../../src/sandbox/stack.js'
import { isolatedPostgres, isolatedRedis, type IsolatedStore } from './job-stores.js'

export interface Answer<T = unknown> {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: T
  text: string
}

export async function call<T = any>(
  base: string,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD',
  path: string,
  options: { json?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers }
  let body: string | undefined
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.raw !== undefined) {
    body = options.raw
  }
  const response = await request(`${base}${path}`, { method, headers, body })
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: response.statusCode, headers: response.headers, body: parsed as T, text }
}

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
    stack = await startStack({ ...stackOptions, env: { ...jobStoreEnv(store), ...stackOptions.env } })
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
