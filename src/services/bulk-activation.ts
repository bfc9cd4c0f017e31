// The bulk-activation job (SPEC §7, contract §5.5): creates the auth users of CRUD users through
// Auth0 bulk imports and writes their `authUserId` back.
//
// One scheduler per app drives every job. A job reads its users from the CRUD (any state: users
// outside PUBLIC or flagged `blocked` are imported blocked), skips those that already have an
// `authUserId`, and packs the others into users files of at most 500 KB, each with its own
// generated-id → CRUD `_id` map. Files are queued in order and started as import jobs, at most
// MAX_ACTIVE_IMPORT_JOBS at a time for the whole process (Auth0's per-tenant limit; a 429 from
// another replica's jobs is waited out). Every AUTH0_JOB_POLLING_INTERVAL tick polls the started
// jobs; on `completed` the errors are read and mapped back to CRUD ids, the real ids of upserted
// users are searched by email, and the CRUD gets `authUserId` through `PATCH /bulk`.
//
// Failed calls never lose a job: a failed poll or errors read is retried at the next tick; a
// failed start is retried (429: after `retry-after`, else at the next tick; 5xx/transport: up to
// MAX_START_ATTEMPTS). Timers are unref'd and stop on close().
import type { FastifyBaseLogger } from 'fastify'
import { MAX_ACTIVE_IMPORT_JOBS } from '../auth-providers/auth0-contract.js'
import type { AuthProvider, ImportError, ImportJob, ImportUser } from '../auth-providers/provider.js'
import type { CallContext } from '../clients/http.js'
import type { CrudClient } from '../clients/crud.js'
import type { PollingInterval } from '../config.js'
import { UpstreamError } from '../errors.js'
import type { Job, JobRegistry } from '../jobs/registry.js'
import { pollClock } from './bulk-activation/cron.js'
import { readCandidates, writeLinks, type Link } from './bulk-activation/crud-users.js'
import { generateAuthId, splitIntoFiles, toImportUser } from './bulk-activation/files.js'
import { DEFAULT_LOOKUP_DELAYS_MS, resolveAuthIds } from './bulk-activation/resolve.js'

export interface BulkActivationFailure {
  /** The CRUD `_id`. */
  userId: string
  errors: Array<{ code: string; message: string }>
}

export interface BulkActivationResult {
  /**
   * `total = inserted + updated + failed` (Auth0's arithmetic), over the users that needed an
   * auth user. **Beyond**: `skipped` counts the users left alone because they already had an
   * `authUserId`; they are not failures and not in `total`.
   */
  summary: { failed: number; updated: number; inserted: number; total: number; skipped: number }
  failures: BulkActivationFailure[]
}

/** Failure codes ums adds to Auth0's own (which are copied verbatim). */
export const ACTIVATION_ERROR_CODES = {
  userNotFound: 'USER_NOT_FOUND',
  emailMissing: 'EMAIL_MISSING',
  userTooLarge: 'USER_TOO_LARGE',
  importRejected: 'IMPORT_REJECTED',
  importStartFailed: 'IMPORT_START_FAILED',
  importJobFailed: 'IMPORT_JOB_FAILED',
  importJobExpired: 'IMPORT_JOB_EXPIRED',
  importJobNotFound: 'IMPORT_JOB_NOT_FOUND',
  importJobUnreachable: 'IMPORT_JOB_UNREACHABLE',
  authUserNotResolved: 'AUTH_USER_NOT_RESOLVED',
  authBlockFailed: 'AUTH_BLOCK_FAILED',
  crudUpdateFailed: 'CRUD_UPDATE_FAILED',
} as const

/** Starts of one file that fail with a 5xx or a transport error before its users are failed. */
export const MAX_START_ATTEMPTS = 3
/** Auth0 deletes job data 24 hours after creation: a job still unreadable after this is given up. */
export const GIVE_UP_AFTER_MS = 25 * 60 * 60 * 1000
/** Shortest wait after a 429 on start, even when `retry-after` says 0 (no busy loop). */
const MIN_RATE_LIMIT_WAIT_MS = 100

export interface BulkActivationDeps {
  crud: CrudClient
  auth: AuthProvider
  registry: JobRegistry
  polling: PollingInterval
  log: FastifyBaseLogger
  /** Waits before each search of upserted users (default DEFAULT_LOOKUP_DELAYS_MS). */
  lookupDelaysMs?: readonly number[]
}

interface Run {
  jobId: string
  ctx: CallContext
  upsert: boolean
  /** Distinct users requested. */
  total: number
  failures: BulkActivationFailure[]
  inserted: number
  updated: number
  skipped: number
  filesOpen: number
  /** Some users went into import files. */
  hadFiles: boolean
  anyCompleted: boolean
}

type Phase = 'queued' | 'starting' | 'running' | 'collecting' | 'linking' | 'done'

interface FileTask {
  run: Run
  users: ImportUser[]
  /** Generated id → CRUD `_id`. */
  crudIds: Map<string, string>
  phase: Phase
  startAttempts: number
  auth0JobId?: string
  startedAt?: number
  summary?: ImportJob['summary']
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : 'unknown error')

export class BulkActivationScheduler {
  private readonly queue: FileTask[] = []
  /** Files starting or running: they hold one of the MAX_ACTIVE_IMPORT_JOBS slots. */
  private readonly active = new Set<FileTask>()
  /** Completed jobs whose errors are still to be read. */
  private readonly collecting = new Set<FileTask>()
  private readonly nextPollAt: (nowMs: number) => number
  private readonly lookupDelaysMs: readonly number[]
  private tickTimer: NodeJS.Timeout | undefined
  private resumeTimer: NodeJS.Timeout | undefined
  private ticking = false
  /** Starts wait until then; Infinity = until the next tick. */
  private startsPausedUntil = 0
  private closed = false
  /** The CRUD writes of the file being linked: the next file waits for them. */
  private linkWrites: Promise<void> = Promise.resolve()

  /** Throws a ConfigError when AUTH0_JOB_POLLING_INTERVAL is a cron expression that cannot fire. */
  constructor(private readonly deps: BulkActivationDeps) {
    this.nextPollAt = pollClock(deps.polling)
    this.lookupDelaysMs = deps.lookupDelaysMs ?? DEFAULT_LOOKUP_DELAYS_MS
  }

  /** Creates the job and works on it in the background; answers the pending job at once. */
  start(userIds: string[], upsert: boolean, ctx: CallContext): Job<BulkActivationResult> {
    const ids = [...new Set(userIds)]
    const job = this.deps.registry.create<BulkActivationResult>('bulk-activation')
    const run: Run = {
      jobId: job.jobId,
      ctx,
      upsert,
      total: ids.length,
      failures: [],
      inserted: 0,
      updated: 0,
      skipped: 0,
      filesOpen: 0,
      hadFiles: false,
      anyCompleted: false,
    }
    this.report(run)
    this.prepare(run, ids).catch((error: unknown) => {
      run.ctx.log.error({ err: error, jobId: run.jobId }, 'bulk activation: preparation failed, job failed')
      this.deps.registry.fail(run.jobId)
    })
    return job
  }

  /** Stops the timers; running jobs stay pending (the registry lives in memory and goes with the process). */
  close(): void {
    this.closed = true
    clearTimeout(this.tickTimer)
    clearTimeout(this.resumeTimer)
    this.tickTimer = undefined
    this.resumeTimer = undefined
  }

  private async prepare(run: Run, ids: string[]): Promise<void> {
    let found: Awaited<ReturnType<typeof readCandidates>>
    try {
      found = await readCandidates(this.deps.crud, ids, run.ctx)
    } catch (error) {
      run.ctx.log.error({ err: error, jobId: run.jobId }, 'bulk activation: cannot read the users from the CRUD, job failed')
      this.deps.registry.fail(run.jobId)
      return
    }
    const entries: ImportUser[] = []
    const crudIds = new Map<string, string>()
    for (const id of ids) {
      const user = found.get(id)
      if (!user) {
        this.addFailure(run, id, ACTIVATION_ERROR_CODES.userNotFound, 'No user with this id')
      } else if (typeof user.authUserId === 'string' && user.authUserId !== '') {
        run.skipped += 1
      } else if (typeof user.email !== 'string' || user.email === '') {
        this.addFailure(run, id, ACTIVATION_ERROR_CODES.emailMissing, 'The user has no email: the auth service needs one')
      } else {
        const generated = generateAuthId()
        entries.push(toImportUser({ ...user, email: user.email }, generated))
        crudIds.set(generated, id)
      }
    }
    const { files, tooLarge } = splitIntoFiles(entries)
    for (const entry of tooLarge) {
      this.addFailure(run, crudIds.get(entry.user_id)!, ACTIVATION_ERROR_CODES.userTooLarge, 'The user alone exceeds the size of an import file')
    }
    run.filesOpen = files.length
    run.hadFiles = files.length > 0
    this.report(run)
    run.ctx.log.info({ jobId: run.jobId, users: entries.length - tooLarge.length, files: files.length, skipped: run.skipped }, 'bulk activation: files ready')
    if (files.length === 0 || this.closed) {
      if (files.length === 0) this.finishRun(run)
      return
    }
    for (const users of files) {
      this.queue.push({
        run,
        users,
        crudIds: new Map(users.map((entry) => [entry.user_id, crudIds.get(entry.user_id)!])),
        phase: 'queued',
        startAttempts: 0,
      })
    }
    this.pump()
  }

  /** Starts queued files while slots are free and starts are not paused; keeps the ticks going. */
  private pump(): void {
    if (this.closed) return
    while (this.queue.length > 0 && this.active.size < MAX_ACTIVE_IMPORT_JOBS && Date.now() >= this.startsPausedUntil) {
      const task = this.queue.shift()!
      task.phase = 'starting'
      this.active.add(task)
      void this.startFile(task)
    }
    this.scheduleTick()
  }

  private pauseStarts(waitMs: number | undefined): void {
    if (waitMs === undefined) {
      this.startsPausedUntil = Number.POSITIVE_INFINITY
      return
    }
    const wait = Math.max(MIN_RATE_LIMIT_WAIT_MS, waitMs)
    const until = Date.now() + wait
    if (this.startsPausedUntil === Number.POSITIVE_INFINITY || until > this.startsPausedUntil) this.startsPausedUntil = until
    clearTimeout(this.resumeTimer)
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined
      this.pump()
    }, this.startsPausedUntil - Date.now())
    this.resumeTimer.unref()
  }

  private async startFile(task: FileTask): Promise<void> {
    const { run } = task
    task.startAttempts += 1
    try {
      const job = await this.deps.auth.startImport({ users: task.users, upsert: run.upsert, externalId: run.jobId }, run.ctx)
      if (typeof job?.id !== 'string' || job.id === '') throw new Error('the import answer carries no job id')
      task.auth0JobId = job.id
      task.startedAt = Date.now()
      task.phase = 'running'
      run.ctx.log.info({ jobId: run.jobId, auth0JobId: job.id, users: task.users.length }, 'bulk activation: import job started')
    } catch (error) {
      this.active.delete(task)
      if (this.closed) return
      const status = error instanceof UpstreamError ? error.status : undefined
      if (status === 429) {
        // The tenant runs as many import jobs as it may (ours or another replica's): not an attempt.
        task.startAttempts -= 1
        task.phase = 'queued'
        this.queue.unshift(task)
        this.pauseStarts((error as UpstreamError).retryAfterMs)
      } else if (status !== undefined && status >= 400 && status < 500) {
        run.ctx.log.error({ err: error, jobId: run.jobId }, 'bulk activation: import refused')
        this.failFile(task, ACTIVATION_ERROR_CODES.importRejected, `The auth service refused the import: ${messageOf(error)}`)
      } else if (task.startAttempts < MAX_START_ATTEMPTS) {
        run.ctx.log.warn({ err: error, jobId: run.jobId }, 'bulk activation: import start failed, retrying at the next tick')
        task.phase = 'queued'
        this.queue.unshift(task)
        this.pauseStarts(undefined)
      } else {
        run.ctx.log.error({ err: error, jobId: run.jobId }, 'bulk activation: import start failed')
        this.failFile(task, ACTIVATION_ERROR_CODES.importStartFailed, `The import could not be started: ${messageOf(error)}`)
      }
    }
    this.pump()
  }

  private scheduleTick(): void {
    if (this.closed || this.ticking || this.tickTimer !== undefined) return
    if (this.active.size === 0 && this.collecting.size === 0 && this.queue.length === 0) return
    const now = Date.now()
    this.tickTimer = setTimeout(() => void this.tick(), Math.max(0, this.nextPollAt(now) - now))
    this.tickTimer.unref()
  }

  private async tick(): Promise<void> {
    this.tickTimer = undefined
    if (this.closed) return
    this.ticking = true
    try {
      if (this.startsPausedUntil === Number.POSITIVE_INFINITY) this.startsPausedUntil = 0
      const toCollect = [...this.collecting]
      const toPoll = [...this.active].filter((task) => task.phase === 'running')
      await Promise.all([...toPoll.map((task) => this.poll(task)), ...toCollect.map((task) => this.collect(task))])
    } catch (error) {
      this.deps.log.error({ err: error }, 'bulk activation: tick failed')
    } finally {
      this.ticking = false
    }
    this.pump()
  }

  private givenUp(task: FileTask): boolean {
    return task.startedAt !== undefined && Date.now() - task.startedAt > GIVE_UP_AFTER_MS
  }

  private async poll(task: FileTask): Promise<void> {
    const { run } = task
    const auth0JobId = task.auth0JobId!
    let job: ImportJob
    try {
      job = await this.deps.auth.getImportJob(auth0JobId, run.ctx)
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) {
        this.active.delete(task)
        this.failFile(task, ACTIVATION_ERROR_CODES.importJobNotFound, `The auth import job ${auth0JobId} no longer exists`)
      } else if (this.givenUp(task)) {
        this.active.delete(task)
        this.failFile(task, ACTIVATION_ERROR_CODES.importJobUnreachable, `The auth import job ${auth0JobId} could not be read for too long`)
      } else {
        run.ctx.log.warn({ err: error, jobId: run.jobId, auth0JobId }, 'bulk activation: poll failed, retrying at the next tick')
      }
      return
    }
    if (job.status === 'completed') {
      this.active.delete(task)
      task.summary = job.summary
      task.phase = 'collecting'
      this.collecting.add(task)
      this.pump()
      await this.collect(task)
    } else if (job.status === 'failed' || job.status === 'expired') {
      this.active.delete(task)
      run.ctx.log.error({ jobId: run.jobId, auth0JobId, status: job.status }, 'bulk activation: import job did not complete')
      const code = job.status === 'failed' ? ACTIVATION_ERROR_CODES.importJobFailed : ACTIVATION_ERROR_CODES.importJobExpired
      this.failFile(task, code, `The auth import job ${auth0JobId} ended ${job.status}: none of its users was activated`)
      this.pump()
    } else if (this.givenUp(task)) {
      this.active.delete(task)
      this.failFile(task, ACTIVATION_ERROR_CODES.importJobUnreachable, `The auth import job ${auth0JobId} did not finish in time`)
      this.pump()
    }
  }

  private async collect(task: FileTask): Promise<void> {
    const { run } = task
    const auth0JobId = task.auth0JobId!
    let errors: ImportError[]
    try {
      errors = await this.deps.auth.getImportErrors(auth0JobId, run.ctx)
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) {
        this.collecting.delete(task)
        this.failFile(task, ACTIVATION_ERROR_CODES.importJobNotFound, `The auth import job ${auth0JobId} no longer exists`)
      } else if (this.givenUp(task)) {
        this.collecting.delete(task)
        this.failFile(task, ACTIVATION_ERROR_CODES.importJobUnreachable, `The errors of auth import job ${auth0JobId} could not be read for too long`)
      } else {
        run.ctx.log.warn({ err: error, jobId: run.jobId, auth0JobId }, 'bulk activation: reading the import errors failed, retrying at the next tick')
      }
      return
    }
    if (!this.collecting.delete(task)) return
    task.phase = 'linking'
    this.link(task, errors).catch((error: unknown) => {
      // Only a bug gets here: the steps below turn every peer failure into per-user failures.
      run.ctx.log.error({ err: error, jobId: run.jobId, auth0JobId }, 'bulk activation: linking failed')
      const settled = new Set(run.failures.map((failure) => failure.userId))
      for (const crudId of task.crudIds.values()) {
        if (!settled.has(crudId)) this.addFailure(run, crudId, ACTIVATION_ERROR_CODES.crudUpdateFailed, 'Internal error while linking the auth user')
      }
      if (task.phase !== 'done') this.fileDone(task)
    })
  }

  /** The generated id an error entry is about: its `user_id`, else its email. */
  private entryOf(task: FileTask, entry: ImportError, byEmail: Map<string, string>): string | undefined {
    const user = typeof entry === 'object' && entry !== null && typeof entry.user === 'object' && entry.user !== null ? entry.user : {}
    if (typeof user.user_id === 'string') {
      const id = user.user_id.replace(/^auth0\|/, '')
      if (task.crudIds.has(id)) return id
    }
    return typeof user.email === 'string' ? byEmail.get(user.email.toLowerCase()) : undefined
  }

  private async link(task: FileTask, errors: ImportError[]): Promise<void> {
    const { run } = task
    const { ctx } = run
    const byEmail = new Map<string, string>()
    for (const entry of task.users) if (!byEmail.has(entry.email.toLowerCase())) byEmail.set(entry.email.toLowerCase(), entry.user_id)

    const failed = new Set<string>()
    let unmapped = 0
    for (const entry of errors) {
      const generated = this.entryOf(task, entry, byEmail)
      if (generated === undefined) {
        unmapped += 1
        continue
      }
      if (failed.has(generated)) continue
      failed.add(generated)
      const list = Array.isArray(entry.errors) ? entry.errors : []
      run.failures.push({
        userId: task.crudIds.get(generated)!,
        errors: (list.length > 0 ? list : [{ code: 'UNKNOWN', message: 'The auth service gave no reason' }]).map((error) => ({
          code: String(error?.code ?? 'UNKNOWN'),
          message: String(error?.message ?? ''),
        })),
      })
    }
    if (unmapped > 0) ctx.log.warn({ jobId: run.jobId, auth0JobId: task.auth0JobId, unmapped }, 'bulk activation: import errors naming no user of the file')

    const candidates = task.users.filter((entry) => !failed.has(entry.user_id))
    const resolution = await resolveAuthIds(
      this.deps.auth,
      candidates,
      { summary: task.summary, unmappedFailures: unmapped, delaysMs: this.lookupDelaysMs, isClosed: () => this.closed },
      ctx,
    )
    for (const entry of resolution.unresolved) {
      this.addFailure(run, task.crudIds.get(entry.user_id)!, ACTIVATION_ERROR_CODES.authUserNotResolved, 'The auth user could not be found after the import')
    }

    const links: Link[] = []
    const updatedCrudIds = new Set<string>()
    for (const entry of candidates) {
      const resolved = resolution.ids.get(entry.user_id)
      if (!resolved) continue
      const crudId = task.crudIds.get(entry.user_id)!
      if (resolved.updated && entry.blocked === true) {
        // An upsert does not change `blocked`: an existing auth user linked to a user that must
        // not log in is blocked first (access is removed before anything grants it).
        try {
          await this.deps.auth.updateUser(resolved.authUserId, { blocked: true }, ctx)
        } catch (error) {
          this.addFailure(run, crudId, ACTIVATION_ERROR_CODES.authBlockFailed, `The existing auth user could not be blocked: ${messageOf(error)}`)
          continue
        }
      }
      links.push({ crudId, authUserId: resolved.authUserId })
      if (resolved.updated) updatedCrudIds.add(crudId)
    }

    // One file writes to the CRUD at a time: several 200-item bulk writes at once only queue up there.
    const writing = this.linkWrites.then(() => writeLinks(this.deps.crud, links, ctx))
    this.linkWrites = writing.then(
      () => undefined,
      () => undefined,
    )
    const notLinked = await writing
    const notLinkedIds = new Set(notLinked.map((link) => link.crudId))
    for (const link of notLinked) {
      const message = link.certain ? `authUserId could not be set: ${link.reason}` : `authUserId could not be confirmed (it may still be set): ${link.reason}`
      this.addFailure(run, link.crudId, ACTIVATION_ERROR_CODES.crudUpdateFailed, message)
      // An auth user the import created for nobody is removed; a pre-existing one is left alone.
      if (!updatedCrudIds.has(link.crudId) && link.certain) {
        try {
          await this.deps.auth.deleteUser(link.authUserId, ctx)
        } catch (error) {
          ctx.log.error({ err: error, jobId: run.jobId, crudId: link.crudId, authUserId: link.authUserId }, 'bulk activation: orphan auth user not deleted')
        }
      } else {
        ctx.log.error({ jobId: run.jobId, crudId: link.crudId, authUserId: link.authUserId }, 'bulk activation: auth user not linked to its CRUD user')
      }
    }
    for (const link of links) {
      if (notLinkedIds.has(link.crudId)) continue
      if (updatedCrudIds.has(link.crudId)) run.updated += 1
      else run.inserted += 1
    }
    run.anyCompleted = true
    this.fileDone(task)
  }

  private addFailure(run: Run, userId: string, code: string, message: string): void {
    run.failures.push({ userId, errors: [{ code, message }] })
  }

  private failFile(task: FileTask, code: string, message: string): void {
    for (const crudId of task.crudIds.values()) this.addFailure(task.run, crudId, code, message)
    this.fileDone(task)
  }

  private fileDone(task: FileTask): void {
    task.phase = 'done'
    task.run.filesOpen -= 1
    this.report(task.run)
    if (task.run.filesOpen === 0) this.finishRun(task.run)
  }

  private report(run: Run): void {
    this.deps.registry.progress(run.jobId, run.failures.length + run.inserted + run.updated + run.skipped, run.total)
  }

  /**
   * `failed` (seed 002) when users needed an auth user and no import job completed: none could be
   * started, or every one ended failed/expired. Otherwise `completed` with summary and failures.
   */
  private finishRun(run: Run): void {
    if (run.hadFiles && !run.anyCompleted) {
      run.ctx.log.error({ jobId: run.jobId }, 'bulk activation: no import job completed, job failed')
      this.deps.registry.fail(run.jobId)
      return
    }
    const failed = run.failures.length
    this.deps.registry.complete<BulkActivationResult>(run.jobId, {
      summary: { failed, updated: run.updated, inserted: run.inserted, total: failed + run.updated + run.inserted, skipped: run.skipped },
      failures: run.failures,
    })
    run.ctx.log.info({ jobId: run.jobId, failed, updated: run.updated, inserted: run.inserted, skipped: run.skipped }, 'bulk activation: job completed')
  }
}
