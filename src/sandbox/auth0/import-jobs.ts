// Lifecycle of the emulator's bulk import jobs:
// creation, the pending → processing → terminal transitions driven by unref'd timers
// (automatic mode) or by the test (manual mode), lazy expiry and retention, and the job JSON.
import { MAX_ACTIVE_IMPORT_JOBS, type ImportJobStatus } from '../../auth-providers/auth0-contract.js'
import { isoMillis, jobId } from './ids.js'
import { runImport, type ImportErrorEntry, type ImportSummary } from './import-processing.js'
import type { ResolvedOptions } from './options.js'
import type { UserStore } from './users.js'

export interface NewImportJob {
  connection: string
  connectionId: string
  upsert: boolean
  externalId?: string
  sendCompletionEmail: boolean
  fileText: string
}

export interface ImportJobRecord extends NewImportJob {
  id: string
  status: ImportJobStatus
  createdAtMs: number
  /** Processing duration fixed at creation; undefined when unknown (manual mode, endless jobs). */
  processingMs?: number
  processingStartedAtMs?: number
  summary?: ImportSummary
  errors: ImportErrorEntry[]
  timer?: NodeJS.Timeout
}

/** `GET /users/import/status/:id` body. */
export interface ImportJobView {
  status: ImportJobStatus
  type: 'users_import'
  created_at: string
  id: string
  connection_id: string
  connection: string
  upsert: boolean
  external_id?: string
  send_completion_email: boolean
  percentage_done?: number
  time_left_seconds?: number
  summary?: ImportSummary
}

export type AdvanceTarget = 'processing' | 'completed' | 'failed' | 'expired'

const isActive = (job: ImportJobRecord): boolean => job.status === 'pending' || job.status === 'processing'

export class ImportJobStore {
  private readonly jobs = new Map<string, ImportJobRecord>()

  constructor(
    private readonly options: () => ResolvedOptions,
    private readonly users: UserStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** False when `MAX_ACTIVE_IMPORT_JOBS` jobs are pending or processing (Auth0 answers 429). */
  canStart(): boolean {
    return [...this.jobs.values()].filter(isActive).length < MAX_ACTIVE_IMPORT_JOBS
  }

  create(input: NewImportJob): ImportJobRecord {
    const timing = this.options().importTiming
    const job: ImportJobRecord = { ...input, id: jobId(), status: 'pending', createdAtMs: this.clock(), errors: [] }
    this.jobs.set(job.id, job)
    if (timing.mode === 'automatic') {
      if (Number.isFinite(timing.processingMs)) job.processingMs = timing.processingMs
      this.schedule(job, timing.pendingMs, () => {
        this.startProcessing(job)
        if (job.processingMs !== undefined) this.schedule(job, job.processingMs, () => this.finish(job))
      })
    }
    return job
  }

  /** The job, after applying Auth0's expiry (completed → expired) and retention (→ gone). */
  get(id: string): ImportJobRecord | undefined {
    const job = this.jobs.get(id)
    if (!job) return undefined
    const options = this.options()
    const age = this.clock() - job.createdAtMs
    if (age >= options.importJobRetentionMs) {
      clearTimeout(job.timer)
      this.jobs.delete(id)
      return undefined
    }
    if (job.status === 'completed' && age >= options.importJobExpireAfterMs) job.status = 'expired'
    return job
  }

  view(job: ImportJobRecord): ImportJobView {
    const view: ImportJobView = {
      status: job.status,
      type: 'users_import',
      created_at: isoMillis(job.createdAtMs),
      id: job.id,
      connection_id: job.connectionId,
      connection: job.connection,
      upsert: job.upsert,
      ...(job.externalId !== undefined && { external_id: job.externalId }),
      send_completion_email: job.sendCompletionEmail,
    }
    if (job.status === 'processing') {
      const elapsed = this.clock() - (job.processingStartedAtMs ?? job.createdAtMs)
      if (job.processingMs === undefined) {
        view.percentage_done = 0
      } else {
        view.percentage_done = Math.min(99, Math.floor((elapsed / Math.max(1, job.processingMs)) * 100))
        view.time_left_seconds = Math.ceil(Math.max(0, job.processingMs - elapsed) / 1000)
      }
    }
    if (job.summary) view.summary = { ...job.summary }
    return view
  }

  /**
   * Moves a job by hand (manual mode, or to override automatic timing). Without `to`, one step:
   * pending → processing → completed. `completed` runs the import, so a bad file ends `failed`.
   */
  advance(id: string, to?: AdvanceTarget): void {
    const job = this.get(id)
    if (!job) throw new Error(`unknown import job ${id}`)
    const target = to ?? (job.status === 'pending' ? 'processing' : job.status === 'processing' ? 'completed' : undefined)
    if (target === undefined) throw new Error(`import job ${id} is ${job.status}: nothing to advance to`)
    if (target !== 'expired' && !isActive(job)) throw new Error(`import job ${id} is ${job.status}: cannot move to ${target}`)
    if (target === 'processing' && job.status !== 'pending') throw new Error(`import job ${id} is already processing`)
    clearTimeout(job.timer)
    job.timer = undefined
    if (target === 'processing') this.startProcessing(job)
    else if (target === 'completed') this.finish(job)
    else job.status = target
  }

  /** Stops pending timers (on close) without forgetting the jobs. */
  stopTimers(): void {
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer)
      job.timer = undefined
    }
  }

  clear(): void {
    this.stopTimers()
    this.jobs.clear()
  }

  private startProcessing(job: ImportJobRecord): void {
    job.status = 'processing'
    job.processingStartedAtMs = this.clock()
  }

  private finish(job: ImportJobRecord): void {
    job.timer = undefined
    const outcome = runImport(job.fileText, job.connection, job.upsert, this.users, this.clock())
    job.status = outcome.status
    if (outcome.status === 'completed') {
      job.summary = outcome.summary
      job.errors = outcome.errors
    }
  }

  private schedule(job: ImportJobRecord, delayMs: number, step: () => void): void {
    if (!Number.isFinite(delayMs)) return
    const timer = setTimeout(() => {
      // A job forgotten by reset() or moved by hand in the meantime must not move again.
      if (this.jobs.get(job.id) !== job || job.timer !== timer) return
      job.timer = undefined
      step()
    }, delayMs)
    timer.unref()
    job.timer = timer
  }
}
