// The job store of a single replica: everything in this process's memory, lost on restart and
// invisible to other replicas. Finished jobs are evicted after the TTL, and the number of jobs kept
// is bounded so that a flood of requests cannot exhaust the memory.
import { isExpired, type JobEnd, type JobProgress, type JobRecord, type JobStore, type JobStoreOptions, type NewJob } from './store.js'

export class JobStoreFullError extends Error {
  override name = 'JobStoreFullError'
}

interface Entry {
  record: JobRecord
  input: unknown
  checkpoints: unknown[]
}

export interface MemoryJobStoreOptions extends JobStoreOptions {
  /** Jobs kept at most, running and finished (default 10,000). */
  maxJobs?: number
}

export class MemoryJobStore implements JobStore {
  readonly backendName = 'memory'
  private readonly jobs = new Map<string, Entry>()
  private readonly leases = new Map<string, { holder: string; expiresAt: number }>()
  private readonly maxJobs: number
  private readonly now: () => number

  constructor(private readonly options: MemoryJobStoreOptions) {
    this.maxJobs = options.maxJobs ?? 10_000
    this.now = options.now ?? Date.now
  }

  async connect(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  private evict(): void {
    const now = this.now()
    for (const [id, { record }] of this.jobs) {
      if (isExpired(record.finishedAt, this.options.ttlMs, now)) this.jobs.delete(id)
    }
    // Over the bound, the oldest finished jobs go first (a Map iterates in insertion order).
    for (const [id, { record }] of this.jobs) {
      if (this.jobs.size < this.maxJobs) break
      if (record.finishedAt !== undefined) this.jobs.delete(id)
    }
  }

  /** Undefined while new jobs are accepted, else why not (readiness). */
  unavailableReason(): string | undefined {
    this.evict()
    return this.jobs.size >= this.maxJobs ? `job store full (${this.maxJobs} jobs)` : undefined
  }

  async create(job: NewJob): Promise<void> {
    this.evict()
    if (this.jobs.size >= this.maxJobs) throw new JobStoreFullError(`${this.maxJobs} jobs are running: try again later`)
    const record: JobRecord = { jobId: job.jobId, kind: job.kind, status: 'pending', jobCreatedAt: job.jobCreatedAt, progress: { ...job.progress } }
    this.jobs.set(job.jobId, { record, input: job.input, checkpoints: [] })
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    this.evict()
    const record = this.jobs.get(jobId)?.record
    return record ? structuredClone(record) : undefined
  }

  async getInput(jobId: string): Promise<unknown> {
    const entry = this.jobs.get(jobId)
    return entry?.record.status === 'pending' ? entry.input : undefined
  }

  async setProgress(jobId: string, progress: JobProgress): Promise<void> {
    const entry = this.jobs.get(jobId)
    if (entry?.record.status === 'pending') entry.record.progress = { ...progress }
  }

  async finish(jobId: string, end: JobEnd): Promise<void> {
    const entry = this.jobs.get(jobId)
    if (!entry || entry.record.status !== 'pending') return
    entry.record.status = end.status
    entry.record.finishedAt = this.now()
    delete entry.record.progress
    if (end.status === 'completed') entry.record.result = end.result
    entry.input = undefined
    entry.checkpoints = []
  }

  async appendCheckpoints(jobId: string, entries: readonly unknown[]): Promise<void> {
    const entry = this.jobs.get(jobId)
    if (entry?.record.status === 'pending') entry.checkpoints.push(...entries)
  }

  async readCheckpoints(jobId: string): Promise<unknown[]> {
    return [...(this.jobs.get(jobId)?.checkpoints ?? [])]
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now()
    const lease = this.leases.get(name)
    if (lease && lease.holder !== holder && lease.expiresAt > now) return false
    this.leases.set(name, { holder, expiresAt: now + ttlMs })
    return true
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name)
  }

  async purgeExpired(): Promise<void> {
    this.evict()
  }
}
