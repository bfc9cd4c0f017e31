// The jobs group: start a job (the 202 answer), read it, and wait for it to end, polling its route.
import { settle, type Api } from './call.js'
import { CLIENT_CODES, UmsError } from './errors.js'
import type { AcceptedJob, BulkActivationBody, BulkActivationOptions, Job, JobKind, ReconcileOptions } from './types.js'

export interface JobProgress {
  done: number
  total: number
  /** A reconciliation: pages of CRUD users, then of auth users, read so far. */
  pagesRead?: number
  /** A reconciliation: inconsistencies found so far. */
  findings?: number
}

export interface WaitOptions<K extends JobKind> {
  /** Called with each answer that is still pending (done/total are 0 until the job reports them). */
  onProgress?: (progress: JobProgress, job: Job<K>) => void
  /** Stops waiting (the job goes on on the server): wait then throws UmsError UMS_CLIENT_ABORTED. */
  signal?: AbortSignal
  /** Time between two reads (default 1000 ms). */
  intervalMs?: number
  /**
   * Reads in a row that may fail without ending the wait (default 5): no answer, or 502/503/504,
   * what a restarting replica or a job store outage gives while the job goes on.
   */
  retries?: number
}

const TRANSIENT_STATUSES = new Set([0, 502, 503, 504])

function aborted(): UmsError {
  return new UmsError(0, CLIENT_CODES.aborted, 'Stopped waiting; the job goes on')
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted())
    const onAbort = () => {
      clearTimeout(timer)
      reject(aborted())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function jobsGroup(api: Api) {
  async function get<K extends JobKind>(kind: K, id: string, signal?: AbortSignal): Promise<Job<K>> {
    const init = { params: { path: { id } }, ...(signal ? { signal } : {}) }
    switch (kind) {
      case 'bulk-activation':
        return settle(api.GET('/jobs/bulk-activation/{id}', init), signal) as Promise<Job<K>>
      case 'change-password':
        return settle(api.GET('/jobs/change-password/bulk/{id}', init), signal) as Promise<Job<K>>
      case 'reconcile':
        return settle(api.GET('/jobs/reconcile/{id}', init), signal) as Promise<Job<K>>
      default:
        throw new UmsError(0, 'UMS_CLIENT_UNKNOWN_JOB_KIND', `Unknown job kind ${String(kind)}: bulk-activation, change-password or reconcile`)
    }
  }

  return {
    /** POST /jobs/bulk-activation: auth users for CRUD users, `[{ filter: { userId } }]`. */
    bulkActivation: (filters: BulkActivationBody, options?: BulkActivationOptions): Promise<AcceptedJob> =>
      settle(api.POST('/jobs/bulk-activation', { body: filters, params: { query: options ?? {} } })),
    /** POST /jobs/change-password/bulk: the change-password email to each auth user id. */
    changePassword: (authUserIds: string[]): Promise<AcceptedJob> => settle(api.POST('/jobs/change-password/bulk', { body: { authUsersIds: authUserIds } })),
    /** POST /jobs/reconcile: a dry run unless `dryRun: false`. */
    reconcile: (options: ReconcileOptions = {}): Promise<AcceptedJob> => settle(api.POST('/jobs/reconcile', { body: options })),
    /** The job as its route shows it: pending with progress, or ended with its result. */
    get: <K extends JobKind>(kind: K, id: string): Promise<Job<K>> => get(kind, id),
    /** Reads the job every `intervalMs` until it is no longer pending, and answers its last read. */
    async wait<K extends JobKind>(kind: K, id: string, options: WaitOptions<K> = {}): Promise<Job<K>> {
      const { onProgress, signal, intervalMs = 1_000, retries = 5 } = options
      let failures = 0
      for (;;) {
        if (signal?.aborted) throw aborted()
        let job: Job<K> | undefined
        try {
          job = await get(kind, id, signal)
          failures = 0
        } catch (error) {
          if (!(error instanceof UmsError)) throw error
          if (error.code === CLIENT_CODES.aborted) throw aborted()
          failures += 1
          if (!TRANSIENT_STATUSES.has(error.status) || failures > retries) throw error
        }
        if (job) {
          if (job.status !== 'pending') return job
          const { done = 0, total = 0, ...figures } = (job.progress ?? {}) as Partial<JobProgress>
          onProgress?.({ ...figures, done, total }, job)
        }
        await pause(intervalMs, signal)
      }
    },
  }
}
