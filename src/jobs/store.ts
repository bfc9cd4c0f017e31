// The job store: where every bulk job keeps its record (what `GET /jobs/...` shows), its input and
// the checkpoints of its steps, so that any replica can answer for it and resume it. One
// implementation per backend: memory (one process), PostgreSQL, Redis and MongoDB.
import type { AgendaBackend } from 'agenda'
import type { ListenerFailure } from './listeners.js'

/** A job kind's name, given by its definition: the jobs layer knows none of them. */
export type JobKind = string
export type JobStatus = 'pending' | 'completed' | 'failed'

export interface JobProgress {
  done: number
  total: number
  /** Figures a job reports besides done/total (a reconciliation: the pages read, the findings so far). */
  [figure: string]: number
}

/** A job as the job routes show it. */
export interface JobRecord<Result = unknown> {
  /** UUID v4. */
  jobId: string
  kind: JobKind
  status: JobStatus
  /** ISO date-time of creation. */
  jobCreatedAt: string
  /** Set while the job is pending (**Beyond**: the original shows nothing until the end). */
  progress?: JobProgress
  /** What the job produced, once completed. */
  result?: Result
  /** Epoch ms when the job ended: it is forgotten `JOBS_TTL_MS` later. */
  finishedAt?: number
}

export interface NewJob {
  jobId: string
  kind: JobKind
  jobCreatedAt: string
  progress: JobProgress
  /** What the job works on; kept until it finishes. */
  input: unknown
}

export type JobEnd = { status: 'completed'; result: unknown } | { status: 'failed' }

export interface JobStore {
  /** The backend, for messages: `memory`, `PostgreSQL`, `Redis`, `MongoDB`. */
  readonly backendName: string
  /** Connects and creates what the store needs (tables, indexes); throws while unreachable. */
  connect(): Promise<void>
  /** Throws when the store cannot be reached now. */
  ping(): Promise<void>
  close(): Promise<void>
  create(job: NewJob): Promise<void>
  /** The record; undefined when unknown or finished more than the TTL ago. */
  get(jobId: string): Promise<JobRecord | undefined>
  /** The input of a pending job; undefined once it finished or when unknown. */
  getInput(jobId: string): Promise<unknown>
  /** Records progress of a pending job (ignored once it finished). */
  setProgress(jobId: string, progress: JobProgress): Promise<void>
  /**
   * Ends a pending job (ignored when it already ended): status, result and `finishedAt`; its
   * input and checkpoints are dropped, and the record expires after the TTL.
   */
  finish(jobId: string, end: JobEnd): Promise<void>
  /** Appends checkpoint entries, in order, to the job's journal. */
  appendCheckpoints(jobId: string, entries: readonly unknown[]): Promise<void>
  /** The job's journal, in append order. */
  readCheckpoints(jobId: string): Promise<unknown[]>
  /**
   * Takes the named lease for `holder` until `ttlMs` from now, or renews it when `holder` already
   * holds it. False when another holder's lease has not expired.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Gives the lease up, only when `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>
  /** Deletes the records that expired (a no-op where the backend expires keys by itself). */
  purgeExpired(): Promise<void>
}

export interface JobStoreOptions {
  /** How long finished jobs are kept (JOBS_TTL_MS). */
  ttlMs: number
  now?: () => number
}

/** True when a job that finished at `finishedAt` is past the TTL at `now`. */
export function isExpired(finishedAt: number | undefined, ttlMs: number, now: number): boolean {
  return finishedAt !== undefined && finishedAt <= now - ttlMs
}

/** A durable store and the Agenda backend that schedules and locks its jobs, over one connection. */
export interface DurableJobStore {
  store: JobStore
  /** Agenda's backend on the store's own connection; `connect()` of the store connects both. */
  agendaBackend: AgendaBackend
}

export interface DurableJobStoreOptions extends JobStoreOptions {
  /** The store's URL (JOBS_STORE_URL or MONGODB_URL). */
  url: string
  /** JOBS_COLLECTION_NAME: the collection, table or key prefix. */
  name: string
  /** Logs connection errors that happen in the background (a dropped idle connection). */
  onBackgroundError?: (error: Error) => void
  /** Where the store's listeners on its connections report an exception of their own. */
  onListenerFailure?: ListenerFailure
}

/** What removing a durable store needs: where it is and its name (JOBS_COLLECTION_NAME). */
export interface DropJobStoreOptions {
  url: string
  name: string
}
