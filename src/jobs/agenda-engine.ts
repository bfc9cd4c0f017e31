// The engine of replicas sharing a job store: Agenda schedules one Agenda job per ums job and
// locks it to one replica at a time; the store keeps the record and the checkpoints. A replica that
// dies stops renewing its lock, so another one takes the job over once the lock expires and
// resumes it from its last checkpoint. On SIGTERM the running jobs checkpoint and are released at
// once. The store may be down at start or later: the engine reconnects by itself and reports the
// outage through readiness and JobStoreUnavailable errors, never by crashing.
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Agenda, Job, type AgendaBackend } from 'agenda'
import type { FastifyBaseLogger } from 'fastify'
import { JobStoreUnavailable, newJobRecord, runJob, type JobDefinition, type JobEngine } from './engine.js'
import { messageOf } from '../lib/message-of.js'
import { sleep } from '../lib/sleep.js'
import { declareJobKind } from '../observability/metrics.js'
import { listen, type ListenerFailure } from './listeners.js'
import type { DurableJobStore, JobKind, JobRecord, JobStore } from './store.js'

/** Store check while it is up, and reconnection attempts while it is down. */
export const HEALTH_CHECK_INTERVAL_MS = 2_000
export const RECONNECT_INTERVAL_MS = 1_000
/** A run the store interrupted (a refused checkpoint) is tried again after this. */
export const RETRY_DELAY_MS = 2_000
/** Expired records are deleted this often by each replica (cheap: an indexed delete). */
const PURGE_INTERVAL_MS = 60_000
/** How long SIGTERM waits for running jobs to checkpoint before closing anyway. */
const HAND_OVER_TIMEOUT_MS = 15_000

export interface AgendaJobEngineOptions {
  durable: DurableJobStore
  /** JOBS_LOCK_LIFETIME_MS: a lock not renewed for this long is taken over by another replica. */
  lockLifetimeMs: number
  log: FastifyBaseLogger
  /** Where the engine's listeners report an exception of their own. */
  onListenerFailure: ListenerFailure
}

interface AgendaJobData {
  jobId: string
}

interface ActiveRun {
  jobId: string
  controller: AbortController
  /** Settles once Agenda has saved the job's state after the handler returned. */
  saved: Promise<void>
  markSaved: () => void
}

export class AgendaJobEngine implements JobEngine {
  readonly backendName: string
  private readonly store: JobStore
  private readonly agenda: Agenda
  private readonly lockLifetimeMs: number
  /** How often each replica looks for jobs to run (and for jobs whose lock expired). */
  readonly processEveryMs: number
  private readonly log: FastifyBaseLogger
  private readonly runs = new Map<string, ActiveRun>()
  private readonly closing = new AbortController()
  private connected = false
  private processing = false
  /** Set once SIGTERM (or close) started handing the running jobs over. */
  private handingOver: Promise<void> | undefined
  /** Undefined while the store answers, else why it does not. */
  private outage: string | undefined = 'not connected yet'
  private supervising: Promise<void> | undefined

  constructor(options: AgendaJobEngineOptions) {
    this.store = options.durable.store
    this.backendName = this.store.backendName
    this.lockLifetimeMs = options.lockLifetimeMs
    this.processEveryMs = Math.min(1_000, Math.floor(options.lockLifetimeMs / 4))
    this.log = options.log
    this.agenda = new Agenda({
      backend: this.managedBackend(options.durable.agendaBackend),
      // Agenda relays to each replica the job notifications of every other one, telling them apart
      // by this name: it must differ between two engines even in one process.
      name: `${hostname()}:${process.pid}:${randomUUID()}`,
      processEvery: this.processEveryMs,
      defaultLockLifetime: options.lockLifetimeMs,
      // A finished ums job needs nothing more from Agenda: its record is in the store.
      removeOnComplete: true,
    })
    const onFailure = options.onListenerFailure
    // While the store is down, every scan fails: the outage is reported once (markDown), not each time.
    listen(
      this.agenda,
      'agenda',
      'error',
      (error: unknown) => {
        if (this.outage === undefined) this.log.warn({ err: error }, 'job scheduler error')
        else this.log.debug({ err: error }, 'job scheduler error')
      },
      onFailure,
    )
    // Agenda emits a local job's completion with the Job; another replica's arrives as a plain
    // notification with `remote` set. Only this replica's own runs wait for it.
    listen(
      this.agenda,
      'agenda',
      'complete',
      (job: unknown, remote?: boolean) => {
        if (remote === true || !(job instanceof Job)) return
        const data = job.attrs.data as Partial<AgendaJobData> | undefined
        if (typeof data?.jobId === 'string') this.runs.get(data.jobId)?.markSaved()
      },
      onFailure,
    )
  }

  /**
   * Agenda's backend, connected and closed by the store (with retries) rather than by Agenda:
   * Agenda's constructor connects without handling a failure. `unlockJob` is called
   * fire-and-forget by Agenda's processor; its failure while the store is down is only logged.
   */
  private managedBackend(backend: AgendaBackend): AgendaBackend {
    const repository = backend.repository
    const unlockJob = repository.unlockJob.bind(repository)
    repository.unlockJob = (job) => unlockJob(job).catch((error: unknown) => this.log.warn({ err: error }, 'job lock not released'))
    return {
      name: backend.name,
      repository,
      notificationChannel: backend.notificationChannel,
      logger: backend.logger,
      ownsConnection: false,
      connect: async () => {},
      disconnect: async () => {},
    }
  }

  define<Input, Result>(definition: JobDefinition<Input, Result>): void {
    const concurrency = definition.exclusive ? 1 : (definition.concurrency ?? 1)
    this.agenda.define<AgendaJobData>(definition.kind, (job) => this.process(definition as unknown as JobDefinition<unknown, unknown>, job), {
      concurrency,
      // A replica locks no more jobs than it runs: the others stay free for the other replicas.
      lockLimit: concurrency,
      lockLifetime: this.lockLifetimeMs,
    })
    declareJobKind(definition.kind)
  }

  async start(): Promise<void> {
    if (this.supervising) return
    let firstAttempt!: () => void
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve))
    this.supervising = this.supervise(firstAttempt)
    await attempted
  }

  /** Connects (and reconnects) the store, starts Agenda once, then checks the store regularly. */
  private async supervise(attempted: () => void): Promise<void> {
    let nextPurgeAt = 0
    while (!this.closing.signal.aborted) {
      try {
        if (!this.connected) {
          await this.store.connect()
          this.connected = true
        } else {
          await this.store.ping()
        }
        if (!this.processing && this.handingOver === undefined) {
          await this.agenda.start()
          this.processing = true
        }
        this.markUp()
        if (Date.now() >= nextPurgeAt) {
          nextPurgeAt = Date.now() + PURGE_INTERVAL_MS
          await this.store.purgeExpired()
        }
      } catch (error) {
        this.markDown(error)
      }
      attempted()
      await sleep(this.outage === undefined ? HEALTH_CHECK_INTERVAL_MS : RECONNECT_INTERVAL_MS, this.closing.signal)
    }
  }

  private markUp(): void {
    if (this.outage !== undefined) this.log.info({ store: this.backendName }, 'job store reachable')
    this.outage = undefined
  }

  private markDown(error: unknown): void {
    const message = messageOf(error)
    const reason = message.includes(this.backendName) ? message : `${this.backendName} job store: ${message}`
    if (this.outage !== reason) this.log.error({ store: this.backendName, reason }, 'job store unreachable')
    this.outage = reason
  }

  unavailableReason(): string | undefined {
    return this.outage
  }

  private assertAvailable(): void {
    if (this.outage !== undefined) throw new JobStoreUnavailable(this.outage)
  }

  async submit(kind: JobKind, input: unknown, total: number): Promise<JobRecord> {
    this.assertAvailable()
    const job = newJobRecord(kind, total)
    try {
      await this.store.create({ ...job, input })
    } catch (error) {
      this.markDown(error)
      throw new JobStoreUnavailable(this.outage!)
    }
    try {
      await this.agenda.now<AgendaJobData>(kind, { jobId: job.jobId })
    } catch (error) {
      // The caller gets an error and no job id: the record must not stay pending with nothing to run it.
      await this.store.finish(job.jobId, { status: 'failed' }).catch(() => undefined)
      this.markDown(error)
      throw new JobStoreUnavailable(this.outage!)
    }
    return { ...job, status: 'pending' }
  }

  async get(kind: JobKind, jobId: string): Promise<JobRecord | undefined> {
    this.assertAvailable()
    let job: JobRecord | undefined
    try {
      job = await this.store.get(jobId)
    } catch (error) {
      this.markDown(error)
      throw new JobStoreUnavailable(this.outage!)
    }
    return job?.kind === kind ? job : undefined
  }

  /** One Agenda run of a ums job, under this replica's lock. Never throws. */
  private async process(definition: JobDefinition<unknown, unknown>, job: Job<AgendaJobData>): Promise<void> {
    const jobId = job.attrs.data?.jobId
    if (typeof jobId !== 'string') return
    const runAgainIn = (ms: number) => {
      job.attrs.nextRunAt = new Date(Date.now() + ms)
    }
    let markSaved = () => {}
    const saved = new Promise<void>((resolve) => (markSaved = resolve))
    const run: ActiveRun = { jobId, controller: new AbortController(), saved, markSaved }
    this.runs.set(jobId, run)
    const lease = `${definition.kind}-runner`
    let leaseHeld = false
    const keeper = this.keepLock(job, run.controller, definition.exclusive ? lease : undefined)
    try {
      if (this.handingOver !== undefined) return runAgainIn(0)
      if (definition.exclusive) {
        leaseHeld = await this.store.acquireLease(lease, jobId, this.lockLifetimeMs)
        // Another job of this kind runs somewhere: this one waits for its turn.
        if (!leaseHeld) return runAgainIn(this.processEveryMs)
      }
      const result = await runJob(this.store, definition, jobId, run.controller.signal, this.log)
      if (result === 'interrupted') runAgainIn(run.controller.signal.aborted ? 0 : RETRY_DELAY_MS)
    } catch (error) {
      this.log.warn({ err: error, jobId }, 'job not run: the job store failed')
      runAgainIn(RETRY_DELAY_MS)
    } finally {
      await keeper.stop()
      if (this.runs.get(jobId) === run && this.handingOver === undefined) this.runs.delete(jobId)
      if (leaseHeld) await this.store.releaseLease(lease, jobId).catch((error: unknown) => this.log.warn({ err: error }, 'job lease not released'))
    }
  }

  /**
   * Renews the job's lock (and the kind's lease) every quarter of the lock lifetime. When no
   * renewal succeeded for half of it, another replica may soon take the job over: the run is
   * stopped before that can happen. `stop()` waits for a renewal in flight, so that it cannot
   * land after Agenda released the lock.
   */
  private keepLock(job: Job<AgendaJobData>, controller: AbortController, lease: string | undefined): { stop(): Promise<void> } {
    let renewedAt = Date.now()
    let renewal: Promise<void> = Promise.resolve()
    const jobId = job.attrs.data.jobId
    const renew = async () => {
      try {
        await job.touch()
        if (lease !== undefined && !(await this.store.acquireLease(lease, jobId, this.lockLifetimeMs))) throw new Error('the lease is held by another job')
        renewedAt = Date.now()
      } catch (error) {
        this.log.warn({ err: error, jobId }, 'job lock not renewed')
        if (Date.now() - renewedAt >= this.lockLifetimeMs / 2 && !controller.signal.aborted) {
          this.log.error({ jobId }, 'job lock may be lost: stopping the run, it will resume from its last checkpoint')
          controller.abort()
        }
      }
    }
    const timer = setInterval(() => {
      renewal = renewal.then(renew)
    }, this.lockLifetimeMs / 4)
    timer.unref()
    return {
      stop: async () => {
        clearInterval(timer)
        await renewal
      },
    }
  }

  handOver(): Promise<void> {
    this.handingOver ??= this.releaseRuns()
    return this.handingOver
  }

  private async releaseRuns(): Promise<void> {
    const runs = [...this.runs.values()]
    // Stopping first: this replica locks nothing more, and the jobs released below are left to the others.
    const stopped = this.processing ? this.agenda.stop(false).catch((error: unknown) => this.log.warn({ err: error }, 'job scheduler not stopped cleanly')) : undefined
    this.processing = false
    for (const run of runs) run.controller.abort()
    const handedOver = Promise.all(runs.map((run) => run.saved))
    const timeout = new AbortController()
    await Promise.race([Promise.all([stopped, handedOver]), sleep(HAND_OVER_TIMEOUT_MS, timeout.signal)])
    timeout.abort()
    this.runs.clear()
    this.log.info({ jobs: runs.length }, 'jobs handed over to the other replicas')
  }

  async close(): Promise<void> {
    await this.handOver()
    this.closing.abort()
    await this.supervising
    await this.store.close().catch((error: unknown) => this.log.warn({ err: error }, 'job store not closed cleanly'))
  }
}
