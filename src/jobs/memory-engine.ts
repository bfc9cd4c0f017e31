// The engine of one replica without a shared store: jobs live in the memory store and run in
// this process, and are lost on restart.
import type { FastifyBaseLogger } from 'fastify'
import { declareJobKind, jobEntered, jobLeft } from '../observability/metrics.js'
import { JobStoreUnavailable, newJobRecord, runJob, type JobDefinition, type JobEngine } from './engine.js'
import { JobStoreFullError, type MemoryJobStore } from './memory-store.js'
import type { JobKind, JobRecord } from './store.js'

/**
 * The engine of a single replica: the memory store, runs started at once in this process, the
 * jobs of an exclusive kind one after the other. Jobs are lost on restart.
 */
export class InMemoryJobEngine implements JobEngine {
  readonly backendName = 'memory'
  private readonly definitions = new Map<JobKind, JobDefinition<unknown, unknown>>()
  /** Per exclusive kind: the end of the last run queued. */
  private readonly exclusiveTails = new Map<JobKind, Promise<unknown>>()
  private readonly running = new Set<Promise<unknown>>()
  private readonly stopping = new AbortController()

  constructor(
    private readonly store: MemoryJobStore,
    private readonly log: FastifyBaseLogger,
  ) {}

  define<Input, Result>(definition: JobDefinition<Input, Result>): void {
    // The engine hands back the input the route stored for this kind.
    this.definitions.set(definition.kind, definition as unknown as JobDefinition<unknown, unknown>)
    declareJobKind(definition.kind)
  }

  async start(): Promise<void> {}

  async submit(kind: JobKind, input: unknown, total: number): Promise<JobRecord> {
    const definition = this.definitions.get(kind)
    if (!definition) throw new Error(`no job definition for ${kind}`)
    const job = newJobRecord(kind, total)
    try {
      await this.store.create({ ...job, input })
    } catch (error) {
      if (error instanceof JobStoreFullError) throw new JobStoreUnavailable(error.message)
      throw error
    }
    const run = async () => {
      // A signal per run: listeners the run adds go away with it.
      const controller = new AbortController()
      const stop = () => controller.abort()
      if (this.stopping.signal.aborted) stop()
      this.stopping.signal.addEventListener('abort', stop, { once: true })
      try {
        return await runJob(this.store, definition, job.jobId, controller.signal, this.log)
      } finally {
        this.stopping.signal.removeEventListener('abort', stop)
      }
    }
    let running: Promise<unknown>
    if (definition.exclusive) {
      jobEntered(kind, 'queued')
      running = (this.exclusiveTails.get(kind) ?? Promise.resolve()).then(() => {
        jobLeft(kind, 'queued')
        return run()
      })
      this.exclusiveTails.set(kind, running)
    } else {
      running = run()
    }
    this.running.add(running)
    void running.finally(() => this.running.delete(running))
    return { ...job, status: 'pending' }
  }

  async get(kind: JobKind, jobId: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(jobId)
    return job?.kind === kind ? job : undefined
  }

  unavailableReason(): string | undefined {
    return this.store.unavailableReason()
  }

  /** Nobody can take these jobs over: they run on while the server still answers. */
  async handOver(): Promise<void> {}

  /** Running jobs stop at their next step and stay pending: they go with the process. */
  async close(): Promise<void> {
    this.stopping.abort()
    await Promise.allSettled([...this.running])
  }
}
