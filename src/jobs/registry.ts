// The job registry of the bulk operations (SPEC §7): jobs are created pending, report progress
// while they run, and end completed or failed. The default implementation keeps them in memory,
// evicts finished jobs after JOBS_TTL_MS and bounds how many it keeps.
import { v4 as uuidv4 } from 'uuid'

export type JobKind = 'bulk-activation' | 'change-password'
export type JobStatus = 'pending' | 'completed' | 'failed'

export interface Job<Result = unknown> {
  jobId: string
  kind: JobKind
  status: JobStatus
  /** ISO date-time of creation. */
  jobCreatedAt: string
  /** Set while the job runs (**Beyond**: the original shows nothing until the end). */
  progress?: { done: number; total: number }
  /** What the job produced; shown once it is completed. */
  result?: Result
  /** Epoch ms when the job ended; finished jobs are evicted `ttlMs` after it. */
  finishedAt?: number
}

export interface JobRegistry {
  /** A new pending job; throws JobRegistryFullError when no more jobs can be kept. */
  create<Result>(kind: JobKind): Job<Result>
  /** The job with that id and kind, or undefined (unknown, evicted, or of another kind). */
  get<Result>(kind: JobKind, jobId: string): Job<Result> | undefined
  progress(jobId: string, done: number, total: number): void
  complete<Result>(jobId: string, result: Result): void
  fail(jobId: string): void
  /** Undefined when the registry accepts new jobs, else why not (readiness). */
  unavailableReason(): string | undefined
}

export class JobRegistryFullError extends Error {
  override name = 'JobRegistryFullError'
}

export interface InMemoryJobRegistryOptions {
  ttlMs: number
  /** Jobs kept at most, running and finished (default 10,000). */
  maxJobs?: number
  now?: () => number
}

export class InMemoryJobRegistry implements JobRegistry {
  private readonly jobs = new Map<string, Job>()
  private readonly maxJobs: number
  private readonly now: () => number

  constructor(private readonly options: InMemoryJobRegistryOptions) {
    this.maxJobs = options.maxJobs ?? 10_000
    this.now = options.now ?? Date.now
  }

  private evict(): void {
    const expiredBefore = this.now() - this.options.ttlMs
    for (const [id, job] of this.jobs) {
      if (job.finishedAt !== undefined && job.finishedAt <= expiredBefore) this.jobs.delete(id)
    }
    // Over the bound, the oldest finished jobs go first (a Map iterates in insertion order).
    for (const [id, job] of this.jobs) {
      if (this.jobs.size < this.maxJobs) break
      if (job.finishedAt !== undefined) this.jobs.delete(id)
    }
  }

  create<Result>(kind: JobKind): Job<Result> {
    this.evict()
    if (this.jobs.size >= this.maxJobs) throw new JobRegistryFullError(`${this.maxJobs} jobs are running: try again later`)
    const job: Job<Result> = { jobId: uuidv4(), kind, status: 'pending', jobCreatedAt: new Date(this.now()).toISOString() }
    this.jobs.set(job.jobId, job)
    return job
  }

  get<Result>(kind: JobKind, jobId: string): Job<Result> | undefined {
    this.evict()
    const job = this.jobs.get(jobId)
    return job?.kind === kind ? (job as Job<Result>) : undefined
  }

  progress(jobId: string, done: number, total: number): void {
    const job = this.jobs.get(jobId)
    if (job?.status === 'pending') job.progress = { done, total }
  }

  complete<Result>(jobId: string, result: Result): void {
    this.finish(jobId, 'completed', result)
  }

  fail(jobId: string): void {
    this.finish(jobId, 'failed', undefined)
  }

  private finish(jobId: string, status: JobStatus, result: unknown): void {
    const job = this.jobs.get(jobId)
    if (!job || job.status !== 'pending') return
    job.status = status
    job.finishedAt = this.now()
    delete job.progress
    if (result !== undefined) job.result = result
  }

  unavailableReason(): string | undefined {
    this.evict()
    return this.jobs.size >= this.maxJobs ? `job registry full (${this.maxJobs} jobs)` : undefined
  }
}
