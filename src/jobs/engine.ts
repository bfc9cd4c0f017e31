// The job engine: records jobs in the job store, runs them, and lets their handlers checkpoint
// each step so that a run that stops (shutdown, crash, lost store) resumes where it left off.
// Two engines share this contract and the run below: the in-memory one (one process;
// memory-engine.ts) and the Agenda one (a shared store, any number of replicas; agenda-engine.ts).
// The jobs layer knows no job kind and no HTTP: kinds come with their definitions, and an
// unavailable store is a JobStoreUnavailable error that the routes answer as they see fit.
//
// `ums_jobs` shows what one replica holds: the jobs running in this process (each job runs on one
// replica at a time, so the sum over the replicas is the jobs running anywhere) and, with the
// in-memory engine, those queued here behind a job of the same kind. Jobs waiting in a shared
// store belong to no replica yet and are not counted.
import { v4 as uuidv4 } from 'uuid'
import type { FastifyBaseLogger } from 'fastify'
import { jobEntered, jobLeft } from '../observability/metrics.js'
import type { JobKind, JobProgress, JobRecord, JobStore } from './store.js'

export interface JobExecution<Input> {
  readonly jobId: string
  readonly input: Input
  /** The journal the earlier runs of this job wrote, in order (empty on the first run). */
  readonly checkpoints: readonly unknown[]
  /** Appends to the journal; rejects with JobStoreWriteError when the store does not take it. */
  checkpoint(...entries: unknown[]): Promise<void>
  /**
   * Reports progress, with figures of the job's own besides done/total; written to the store at
   * most every PROGRESS_WRITE_INTERVAL_MS.
   */
  progress(done: number, total: number, figures?: Record<string, number>): void
  /** Aborted when the run must stop at its next step: the replica hands its jobs over. */
  readonly signal: AbortSignal
  readonly log: FastifyBaseLogger
}

/** `interrupted`: stopped before the end, every finished step checkpointed; it will run again. */
export type RunOutcome<Result> = { status: 'completed'; result: Result } | { status: 'failed' } | { status: 'interrupted' }

export interface JobDefinition<Input, Result> {
  kind: JobKind
  /** At most one job of this kind runs at a time, across every replica; the others wait their turn. */
  exclusive?: boolean
  /** Jobs of this kind one replica runs at once (default 1; 1 when exclusive). */
  concurrency?: number
  run(execution: JobExecution<Input>): Promise<RunOutcome<Result>>
}

export interface JobEngine {
  /** The store's backend, for messages. */
  readonly backendName: string
  define<Input, Result>(definition: JobDefinition<Input, Result>): void
  /** Records a new pending job (progress 0 of `total`) and schedules it; JobStoreUnavailable when it cannot. */
  submit(kind: JobKind, input: unknown, total: number): Promise<JobRecord>
  /** The job of that kind, or undefined; JobStoreUnavailable when the store cannot be read. */
  get(kind: JobKind, jobId: string): Promise<JobRecord | undefined>
  /** Undefined while jobs can be started and read here, else why not (readiness). */
  unavailableReason(): string | undefined
  /** Starts running jobs; resolves after the first attempt to reach the store, whatever its outcome. */
  start(): Promise<void>
  /** SIGTERM: takes no more work; running jobs checkpoint and are released for another replica. */
  handOver(): Promise<void>
  close(): Promise<void>
}

/** A checkpoint or final write the store refused: the run stops, to be resumed later. */
export class JobStoreWriteError extends Error {
  override name = 'JobStoreWriteError'
}

/** Progress is a convenience for callers: one store write per interval is plenty. */
export const PROGRESS_WRITE_INTERVAL_MS = 250

/** The store cannot take or answer a request now (unreachable, or the memory store full). */
export class JobStoreUnavailable extends Error {
  override name = 'JobStoreUnavailable'
  constructor(readonly reason: string) {
    super(`Jobs are unavailable: ${reason}. Try again later`)
  }
}

/** Writes the latest progress at once, then at most once per interval, and once more when flushed. */
class ProgressWriter {
  private latest: JobProgress | undefined
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly store: JobStore,
    private readonly jobId: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  report(progress: JobProgress): void {
    this.latest = progress
    if (this.timer) return
    void this.write()
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.latest) this.report(this.latest)
    }, PROGRESS_WRITE_INTERVAL_MS)
    this.timer.unref()
  }

  private write(): Promise<void> {
    const progress = this.latest
    if (!progress) return this.writing
    this.latest = undefined
    this.writing = this.writing
      .then(() => this.store.setProgress(this.jobId, progress))
      .catch((error: unknown) => this.log.warn({ err: error, jobId: this.jobId }, 'job progress not written'))
    return this.writing
  }

  /** Writes what is pending now; the job's end must not be overtaken by a late progress write. */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.write()
  }
}

export type RunResult = 'finished' | 'interrupted' | 'gone'

/**
 * One run of a job: loads its input and journal, calls the handler, and writes its end. Never
 * throws. `gone`: the job already ended or is unknown. `interrupted`: it must run again later (the
 * handler stopped early, or the store failed a write). Counted as running in `ums_jobs` meanwhile.
 */
export async function runJob(
  store: JobStore,
  definition: JobDefinition<unknown, unknown>,
  jobId: string,
  signal: AbortSignal,
  log: FastifyBaseLogger,
): Promise<RunResult> {
  jobEntered(definition.kind, 'running')
  try {
    return await runOnce(store, definition, jobId, signal, log)
  } finally {
    jobLeft(definition.kind, 'running')
  }
}

async function runOnce(
  store: JobStore,
  definition: JobDefinition<unknown, unknown>,
  jobId: string,
  signal: AbortSignal,
  log: FastifyBaseLogger,
): Promise<RunResult> {
  let input: unknown
  let checkpoints: unknown[]
  try {
    input = await store.getInput(jobId)
    if (input === undefined) return 'gone'
    checkpoints = await store.readCheckpoints(jobId)
  } catch (error) {
    log.warn({ err: error, jobId }, 'job not started: the job store cannot be read')
    return 'interrupted'
  }

  const progress = new ProgressWriter(store, jobId, log)
  const execution: JobExecution<unknown> = {
    jobId,
    input,
    checkpoints,
    async checkpoint(...entries) {
      try {
        await store.appendCheckpoints(jobId, entries)
      } catch (error) {
        throw new JobStoreWriteError(`checkpoint not written: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
    progress: (done, total, figures) => progress.report({ ...figures, done, total }),
    signal,
    log,
  }

  let outcome: RunOutcome<unknown>
  try {
    outcome = await definition.run(execution)
  } catch (error) {
    if (error instanceof JobStoreWriteError) {
      log.warn({ err: error, jobId }, 'job interrupted: the job store refused a checkpoint')
      outcome = { status: 'interrupted' }
    } else {
      // A bug: running the job again would hit it again.
      log.error({ err: error, jobId, kind: definition.kind }, 'job failed unexpectedly')
      outcome = { status: 'failed' }
    }
  }
  await progress.flush()
  if (outcome.status === 'interrupted') return 'interrupted'
  try {
    await store.finish(jobId, outcome)
  } catch (error) {
    log.warn({ err: error, jobId }, 'job end not written: the job will run again from its last checkpoint')
    return 'interrupted'
  }
  return 'finished'
}

/** A new job's record. */
export function newJobRecord(kind: JobKind, total: number, now = Date.now()) {
  return { jobId: uuidv4(), kind, jobCreatedAt: new Date(now).toISOString(), progress: { done: 0, total } }
}
