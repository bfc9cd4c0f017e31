// jobs.wait's pacing, progress, retries and abort, on a scripted fetch and fake timers: the reads
// come exactly every intervalMs, a transient failure is read again, and an abort ends the wait at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CLIENT_CODES, UmsError, createUmsClient, type JobProgress } from '../../sdk/src/index.js'

const JOB = 'a5b0c0de-0000-4000-8000-000000000001'
const base = { jobId: JOB, jobCreatedAt: '2026-01-01T00:00:00.000Z' }

type Step = { status: number; body: unknown } | 'refused'

/** A fetch answering the steps in order, recording when each read came. */
function scripted(steps: Step[]) {
  const reads: Array<{ at: number; path: string }> = []
  const fetch = async (request: Request): Promise<Response> => {
    reads.push({ at: Date.now(), path: new URL(request.url).pathname })
    const step = steps.shift()
    if (step === undefined) throw new Error('read after the last scripted answer')
    if (step === 'refused') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
    return new Response(JSON.stringify(step.body), { status: step.status, headers: { 'content-type': 'application/json' } })
  }
  return { reads, client: createUmsClient({ baseUrl: 'http://ums.test', fetch }) }
}

const pending = (done: number, total: number) => ({ status: 200, body: { ...base, status: 'pending', progress: { done, total } } })
const unavailable = { status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'Jobs are unavailable: try again later', code: 'UMS_JOB_STORE_UNAVAILABLE' } }
const completed = { status: 200, body: { ...base, status: 'completed', summary: { failed: 0, completed: 10, total: 10 }, completed: [], failures: [] } }

beforeEach(() => {
  vi.useFakeTimers({ now: 0 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** Settles `promise` while fake time runs, answering its outcome. */
async function settle<T>(promise: Promise<T>, runMs: number): Promise<{ value?: T; error?: unknown }> {
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  await vi.advanceTimersByTimeAsync(runMs)
  return outcome
}

describe('jobs.wait', () => {
  it('reads every intervalMs, reports each pending answer, reads again after a 503, and answers the ended job', async () => {
    const { client, reads } = scripted([pending(0, 10), unavailable, pending(4, 10), 'refused', pending(9, 10), completed])
    const seen: JobProgress[] = []

    const { value, error } = await settle(client.jobs.wait('change-password', JOB, { intervalMs: 1_000, onProgress: (progress) => seen.push(progress) }), 10_000)

    expect(error).toBeUndefined()
    expect(value).toEqual(completed.body)
    expect(seen).toEqual([{ done: 0, total: 10 }, { done: 4, total: 10 }, { done: 9, total: 10 }])
    expect(reads.map((read) => read.at)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000])
    expect(new Set(reads.map((read) => read.path))).toEqual(new Set([`/jobs/change-password/bulk/${JOB}`]))
  })

  it('defaults to one read a second, and reports 0/0 until the job tells its progress', async () => {
    const { client, reads } = scripted([{ status: 200, body: { ...base, status: 'pending' } }, completed])
    const seen: JobProgress[] = []
    await settle(client.jobs.wait('change-password', JOB, { onProgress: (progress) => seen.push(progress) }), 5_000)
    expect(seen).toEqual([{ done: 0, total: 0 }])
    expect(reads.map((read) => read.at)).toEqual([0, 1_000])
  })

  it('gives up after `retries` transient failures in a row, with the last one', async () => {
    const { client, reads } = scripted([pending(1, 10), unavailable, unavailable, unavailable])
    const { error } = await settle(client.jobs.wait('bulk-activation', JOB, { intervalMs: 100, retries: 2 }), 5_000)
    expect(error).toBeInstanceOf(UmsError)
    expect(error).toMatchObject({ status: 503, code: 'UMS_JOB_STORE_UNAVAILABLE' })
    expect(reads).toHaveLength(4)
  })

  it('stops at the first answer that is not transient', async () => {
    const notFound = { status: 404, body: { statusCode: 404, error: 'Not Found', message: `Job ${JOB} not found`, code: 'UMS_JOB_NOT_FOUND' } }
    const { client, reads } = scripted([pending(1, 10), notFound])
    const { error } = await settle(client.jobs.wait('reconcile', JOB, { intervalMs: 100 }), 5_000)
    expect(error).toMatchObject({ status: 404, code: 'UMS_JOB_NOT_FOUND' })
    expect(reads.map((read) => read.path)).toEqual([`/jobs/reconcile/${JOB}`, `/jobs/reconcile/${JOB}`])
  })

  it('ends at once when the signal aborts, between two reads, with UMS_CLIENT_ABORTED', async () => {
    const { client, reads } = scripted([pending(1, 10), pending(2, 10)])
    const controller = new AbortController()
    const waiting = client.jobs.wait('change-password', JOB, { intervalMs: 1_000, signal: controller.signal }).catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(1_200)
    controller.abort()
    const error = await waiting
    expect(error).toMatchObject({ status: 0, code: CLIENT_CODES.aborted })
    expect(reads.map((read) => read.at)).toEqual([0, 1_000])
  })

  it('does not read at all with a signal already aborted', async () => {
    const { client, reads } = scripted([])
    const { error } = await settle(client.jobs.wait('change-password', JOB, { signal: AbortSignal.abort() }), 100)
    expect(error).toMatchObject({ code: CLIENT_CODES.aborted })
    expect(reads).toEqual([])
  })
})
