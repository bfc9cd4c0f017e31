// The waits every test shares: a plain sleep, polling until a condition holds, and polling a job
// until it is no longer pending. Also loaded by the benchmarks (through chaos.ts): nothing here
// registers vitest hooks.
import { expect } from 'vitest'
import { call, type Answer } from './http.js'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `condition` until it holds; fails naming `what` after `timeoutMs`. Polls every 10 ms at
 * first, then less and less often, up to every 50 ms: a long wait (a job, a process starting)
 * should not cost a CPU the other test files are using.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let intervalMs = 10
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(intervalMs)
    intervalMs = Math.min(50, intervalMs * 1.5)
  }
}

export interface WaitForJobOptions {
  timeoutMs?: number
  /** Runs before each poll (a test moving the peers along, say). */
  beforePoll?: () => void
}

/**
 * Polls the job at GET `base` + `path` (each poll must answer 200) until it is no longer pending;
 * answers its last answer.
 */
export async function waitForJob(base: string, path: string, options: WaitForJobOptions = {}): Promise<Answer<any>> {
  let answer: Answer<any> | undefined
  await waitUntil(
    async () => {
      options.beforePoll?.()
      answer = await call(base, 'GET', path)
      expect(answer.status).toBe(200)
      return answer.body.status !== 'pending'
    },
    `${path} to end`,
    options.timeoutMs ?? 15_000,
  )
  return answer!
}
