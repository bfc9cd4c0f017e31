// The bulk-activation job: creates the auth users of CRUD users through Auth0 bulk imports and
// writes their `authUserId` back.
//
// A run reads the users from the CRUD (any state: users outside PUBLIC or flagged `blocked` are
// imported blocked), skips those that already have an `authUserId`, and packs the others into
// users files of at most 500 KB, each user with a generated id; this is checkpointed once. Then
// each file, in order and within the process's import slots, is started as an Auth0 import job,
// polled every AUTH0_JOB_POLLING_INTERVAL and, once completed, linked (linking.ts), each step
// checkpointed (journal.ts). A resumed run polls the imports already started instead of starting
// them again, and links what was left unlinked. A start whose answer was lost may have created
// the import: before starting the file again, the users it may have created are looked up by
// their generated ids and linked.
//
// Failed calls never lose a job: a failed poll or errors read is retried at the next tick; a
// failed start is retried (429: after `retry-after`, else at the next tick; 5xx/transport: up to
// MAX_START_ATTEMPTS).
import type { AuthProvider, ImportError, ImportJob, ImportUser } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import type { HeaderMap } from '../../clients/headers.js'
import type { CrudClient } from '../../clients/crud.js'
import type { PollingInterval } from '../../config.js'
import { UpstreamError } from '../../errors.js'
import { JobStoreWriteError, type JobDefinition, type JobEngine, type JobExecution, type RunOutcome } from '../../jobs/engine.js'
import type { JobRecord } from '../../jobs/store.js'
import { countJobItems } from '../../metrics.js'
import { pollClock } from './cron.js'
import { ACTIVATION_FIELDS, generateAuthId, splitIntoFiles, toImportUser, type ActivationCandidate } from './files.js'
import { UsersRepository } from '../users/repository.js'
import { ImportSlots, type ImportSlot } from './import-slots.js'
import { activationResult, applyEntry, foldActivation, settledCount, usersToImport, type ActivationEntry, type ActivationState, type FileState } from './journal.js'
import { existingGeneratedIds, linkImport, writeAuthLinks, type LinkingDeps } from './linking.js'
import { DEFAULT_LOOKUP_DELAYS_MS, generatedAuthId } from './resolve.js'
import { ACTIVATION_ERROR_CODES, failure, type BulkActivationFailure, type BulkActivationResult } from './result.js'

export { ACTIVATION_ERROR_CODES, type BulkActivationFailure, type BulkActivationResult } from './result.js'

/** What the job keeps from its request. */
export interface BulkActivationInput {
  /** Distinct CRUD `_id`s, in request order. */
  userIds: string[]
  upsert: boolean
  /** The request's forwarded headers, replayed on every peer call of the job. */
  forwarded: HeaderMap
}

/** Starts of one file that fail with a 5xx or a transport error before its users are failed. */
export const MAX_START_ATTEMPTS = 3
/** Auth0 deletes job data 24 hours after creation: a job still unreadable after this is given up. */
export const GIVE_UP_AFTER_MS = 25 * 60 * 60 * 1000

export interface BulkActivationDeps {
  crud: CrudClient
  auth: AuthProvider
  polling: PollingInterval
  /** Waits before each search of upserted users (default DEFAULT_LOOKUP_DELAYS_MS). */
  lookupDelaysMs?: readonly number[]
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : 'unknown error')

/** Resolves at `at` (epoch ms) or as soon as `signal` aborts. */
function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, at - Date.now()))
    signal.addEventListener('abort', done)
  })
}

/**
 * Counts the users a journal entry settles, once it is in the job store: the `prepared` entry
 * settles the users that need no import (skipped) or cannot have one (failed), each `file-done`
 * the users of one file, those a recovery linked earlier included.
 */
function countSettledUsers(entry: ActivationEntry): void {
  if (entry.type === 'prepared') {
    countJobItems('bulk-activation', 'failed', entry.failures.length)
    countJobItems('bulk-activation', 'skipped', entry.skipped)
  } else if (entry.type === 'file-done') {
    countJobItems('bulk-activation', 'inserted', entry.inserted)
    countJobItems('bulk-activation', 'updated', entry.updated)
    countJobItems('bulk-activation', 'failed', entry.failures.length)
  }
}

/** What the process shares between its activation runs. */
interface Shared {
  deps: BulkActivationDeps
  linking: LinkingDeps
  slots: ImportSlots
  nextPollAt: (nowMs: number) => number
}

class ActivationRun {
  private readonly state: ActivationState
  private readonly ctx: CallContext
  /** Stops every file of the run: the engine's signal, or a checkpoint the store refused. */
  private readonly stop = new AbortController()
  private readonly input: BulkActivationInput

  constructor(
    private readonly shared: Shared,
    private readonly execution: JobExecution<BulkActivationInput>,
  ) {
    this.input = execution.input
    this.state = foldActivation(execution.checkpoints)
    this.ctx = { forwarded: this.input.forwarded, incoming: {}, log: execution.log.child({ jobId: execution.jobId }) }
  }

  async run(): Promise<RunOutcome<BulkActivationResult>> {
    const stopRun = () => this.stop.abort()
    this.execution.signal.addEventListener('abort', stopRun, { once: true })
    try {
      return await this.runSteps()
    } finally {
      this.execution.signal.removeEventListener('abort', stopRun)
    }
  }

  private async runSteps(): Promise<RunOutcome<BulkActivationResult>> {
    if (this.execution.signal.aborted) return { status: 'interrupted' }
    if (!this.state.prepared) {
      const prepared = await this.prepare()
      if (!prepared) return { status: 'failed' }
      await this.record(prepared)
    }
    this.report()
    let firstError: unknown
    const files = this.state.files.filter((file) => !file.outcome)
    await Promise.all(
      files.map((file) =>
        this.driveFile(file).catch((error: unknown) => {
          firstError ??= error
          this.stop.abort()
        }),
      ),
    )
    if (firstError !== undefined) throw firstError
    if (this.state.files.some((file) => !file.outcome)) return { status: 'interrupted' }
    const result = activationResult(this.state)
    if (result === 'failed') {
      this.ctx.log.error('bulk activation: no import job completed, job failed')
      return { status: 'failed' }
    }
    this.ctx.log.info({ ...result.summary }, 'bulk activation: job completed')
    return { status: 'completed', result }
  }

  private async record(entry: ActivationEntry): Promise<void> {
    await this.execution.checkpoint(entry)
    applyEntry(this.state, entry)
    countSettledUsers(entry)
    this.report()
  }

  private report(): void {
    this.execution.progress(settledCount(this.state), this.input.userIds.length)
  }

  /** The users read and packed into files; undefined when the CRUD cannot be read (the job fails). */
  private async prepare(): Promise<ActivationEntry | undefined> {
    const ids = this.input.userIds
    let found: Map<string, ActivationCandidate>
    try {
      found = await new UsersRepository(this.shared.deps.crud.users).byIds<ActivationCandidate>(ids, this.ctx, ACTIVATION_FIELDS)
    } catch (error) {
      this.ctx.log.error({ err: error }, 'bulk activation: cannot read the users from the CRUD, job failed')
      return undefined
    }
    const failures: BulkActivationFailure[] = []
    let skipped = 0
    const entries: ImportUser[] = []
    const crudIds = new Map<string, string>()
    for (const id of ids) {
      const user = found.get(id)
      if (!user) {
        failures.push(failure(id, ACTIVATION_ERROR_CODES.userNotFound, 'No user with this id'))
      } else if (typeof user.authUserId === 'string' && user.authUserId !== '') {
        skipped += 1
      } else if (typeof user.email !== 'string' || user.email === '') {
        failures.push(failure(id, ACTIVATION_ERROR_CODES.emailMissing, 'The user has no email: the auth service needs one'))
      } else {
        const generated = generateAuthId()
        entries.push(toImportUser({ ...user, email: user.email }, generated))
        crudIds.set(generated, id)
      }
    }
    const { files, tooLarge } = splitIntoFiles(entries)
    for (const entry of tooLarge) {
      failures.push(failure(crudIds.get(entry.user_id)!, ACTIVATION_ERROR_CODES.userTooLarge, 'The user alone exceeds the size of an import file'))
    }
    this.ctx.log.info({ users: entries.length - tooLarge.length, files: files.length, skipped }, 'bulk activation: files ready')
    return {
      type: 'prepared',
      files: files.map((users) => ({ users, crudIds: users.map((user) => crudIds.get(user.user_id)!) })),
      failures,
      skipped,
    }
  }

  private sleepUntilNextTick(): Promise<void> {
    return sleepUntil(this.shared.nextPollAt(Date.now()), this.stop.signal)
  }

  private async driveFile(file: FileState): Promise<void> {
    let slot: ImportSlot | undefined
    let resumed = false
    try {
      if (file.auth0JobId === undefined) {
        slot = await this.startFile(file)
        if (!slot) return
      } else {
        // An import a previous run started: it holds one of Auth0's slots already.
        slot = this.shared.slots.occupy()
        resumed = true
      }
      const job = await this.pollUntilCompleted(file, resumed)
      slot.release()
      slot = undefined
      if (!job) return
      const errors = await this.readErrors(file)
      if (!errors) return
      const linked = await linkImport(
        this.shared.linking,
        { users: usersToImport(file), crudIds: file.crudIds, summary: job.summary, mayOverlapLostImport: file.recoveredOnce },
        errors,
        this.stop.signal,
        this.ctx,
      )
      if (!linked) return
      await this.record({
        type: 'file-done',
        file: file.index,
        inserted: linked.inserted + file.recoveredInserted,
        updated: linked.updated,
        failures: [...file.recoveredFailures, ...linked.failures],
        importCompleted: true,
      })
    } finally {
      slot?.release()
    }
  }

  /**
   * Starts the file's import within a slot and checkpoints its Auth0 job id; returns the slot,
   * or undefined when the file ended without an import (failed, or wholly recovered) or the run
   * stops.
   */
  private async startFile(file: FileState): Promise<ImportSlot | undefined> {
    const { slots } = this.shared
    let attempts = 0
    let first = false
    for (;;) {
      const slot = await slots.acquire(this.stop.signal, first)
      if (!slot) return undefined
      first = false
      if (file.startUnconfirmed && !(await this.recover(file))) {
        slot.release()
        await this.sleepUntilNextTick()
        continue
      }
      const users = usersToImport(file)
      if (users.length === 0) {
        slot.release()
        await this.record(this.fileEnded(file, undefined))
        return undefined
      }
      await this.record({ type: 'import-starting', file: file.index })
      attempts += 1
      let error: unknown
      try {
        const job = await this.shared.deps.auth.startImport({ users, upsert: this.input.upsert, externalId: this.execution.jobId }, this.ctx)
        if (typeof job?.id === 'string' && job.id !== '') {
          await this.record({ type: 'import-started', file: file.index, auth0JobId: job.id, startedAt: Date.now() })
          this.ctx.log.info({ auth0JobId: job.id, users: users.length }, 'bulk activation: import job started')
          return slot
        }
        error = new Error('the import answer carries no job id')
      } catch (caught) {
        if (caught instanceof JobStoreWriteError) {
          slot.release()
          throw caught
        }
        error = caught
      }
      slot.release()
      const status = error instanceof UpstreamError ? error.status : undefined
      // An answered start created nothing; a start without an answer may have.
      if (status !== undefined) file.startUnconfirmed = false
      if (status === 429) {
        // The tenant runs as many import jobs as it may (ours or another replica's): not an attempt.
        attempts -= 1
        first = true
        slots.pause((error as UpstreamError).retryAfterMs ?? this.shared.nextPollAt(Date.now()) - Date.now())
      } else if (status !== undefined && status >= 400 && status < 500) {
        this.ctx.log.error({ err: error }, 'bulk activation: import refused')
        await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importRejected, message: `The auth service refused the import: ${messageOf(error)}` }))
        return undefined
      } else if (attempts < MAX_START_ATTEMPTS) {
        this.ctx.log.warn({ err: error }, 'bulk activation: import start failed, retrying at the next tick')
        await this.sleepUntilNextTick()
      } else {
        this.ctx.log.error({ err: error }, 'bulk activation: import start failed')
        if (file.startUnconfirmed) await this.recover(file)
        await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importStartFailed, message: `The import could not be started: ${messageOf(error)}` }))
        return undefined
      }
    }
  }

  /**
   * After a start whose answer was lost: links the users that import created (found by their
   * generated ids) so that they are not imported again. False when the lookup failed.
   */
  private async recover(file: FileState): Promise<boolean> {
    const { auth } = this.shared.deps
    let found: Set<string>
    try {
      found = await existingGeneratedIds(auth, usersToImport(file).map((user) => user.user_id), this.ctx)
    } catch (error) {
      this.ctx.log.warn({ err: error }, 'bulk activation: cannot look up the users of an unconfirmed import')
      return false
    }
    const links = [...found].map((id) => ({ crudId: file.crudIds.get(id)!, authUserId: generatedAuthId(id) }))
    const written = await writeAuthLinks(this.shared.linking, links, new Set(), this.ctx)
    this.ctx.log.warn({ file: file.index, found: found.size }, 'bulk activation: an import start got no answer; users it created are linked')
    await this.record({ type: 'import-recovered', file: file.index, found: [...found], inserted: written.linked, failures: written.failures })
    return true
  }

  /**
   * The outcome of a file that ends without a completed import of its own: the users recovered
   * from a lost import count; every other user fails with `error`, if any (none are left when a
   * recovery found them all).
   */
  private fileEnded(file: FileState, error: { code: string; message: string } | undefined): ActivationEntry {
    const failures = [...file.recoveredFailures]
    if (error) {
      for (const user of usersToImport(file)) failures.push(failure(file.crudIds.get(user.user_id)!, error.code, error.message))
    }
    return {
      type: 'file-done',
      file: file.index,
      inserted: file.recoveredInserted,
      updated: 0,
      failures,
      importCompleted: error === undefined || file.recoveredInserted > 0,
    }
  }

  private givenUp(file: FileState): boolean {
    return file.startedAt !== undefined && Date.now() - file.startedAt > GIVE_UP_AFTER_MS
  }

  /** The import job once completed; undefined when the file ended otherwise or the run stops. */
  private async pollUntilCompleted(file: FileState, pollAtOnce: boolean): Promise<ImportJob | undefined> {
    const auth0JobId = file.auth0JobId!
    for (let first = true; ; first = false) {
      if (!(first && pollAtOnce)) await this.sleepUntilNextTick()
      if (this.stop.signal.aborted) return undefined
      let job: ImportJob
      try {
        job = await this.shared.deps.auth.getImportJob(auth0JobId, this.ctx)
      } catch (error) {
        if (error instanceof UpstreamError && error.status === 404) {
          await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobNotFound, message: `The auth import job ${auth0JobId} no longer exists` }))
          return undefined
        }
        if (this.givenUp(file)) {
          await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The auth import job ${auth0JobId} could not be read for too long` }))
          return undefined
        }
        this.ctx.log.warn({ err: error, auth0JobId }, 'bulk activation: poll failed, retrying at the next tick')
        continue
      }
      if (job.status === 'completed') return job
      if (job.status === 'failed' || job.status === 'expired') {
        this.ctx.log.error({ auth0JobId, status: job.status }, 'bulk activation: import job did not complete')
        const code = job.status === 'failed' ? ACTIVATION_ERROR_CODES.importJobFailed : ACTIVATION_ERROR_CODES.importJobExpired
        await this.record(this.fileEnded(file, { code, message: `The auth import job ${auth0JobId} ended ${job.status}: none of its users was activated` }))
        return undefined
      }
      if (this.givenUp(file)) {
        await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The auth import job ${auth0JobId} did not finish in time` }))
        return undefined
      }
    }
  }

  /** The per-user errors of the completed import; undefined when the file ended otherwise or the run stops. */
  private async readErrors(file: FileState): Promise<ImportError[] | undefined> {
    const auth0JobId = file.auth0JobId!
    for (let first = true; ; first = false) {
      if (!first) await this.sleepUntilNextTick()
      if (this.stop.signal.aborted) return undefined
      try {
        return await this.shared.deps.auth.getImportErrors(auth0JobId, this.ctx)
      } catch (error) {
        if (error instanceof UpstreamError && error.status === 404) {
          await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobNotFound, message: `The auth import job ${auth0JobId} no longer exists` }))
          return undefined
        }
        if (this.givenUp(file)) {
          await this.record(this.fileEnded(file, { code: ACTIVATION_ERROR_CODES.importJobUnreachable, message: `The errors of auth import job ${auth0JobId} could not be read for too long` }))
          return undefined
        }
        this.ctx.log.warn({ err: error, auth0JobId }, 'bulk activation: reading the import errors failed, retrying at the next tick')
      }
    }
  }
}

/** One CRUD write at a time for the whole process. */
function serializer(): LinkingDeps['serializeCrudWrites'] {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(write: () => Promise<T>) => {
    const result = tail.then(write)
    tail = result.catch(() => undefined)
    return result
  }
}

/** The job definition; throws a ConfigError when AUTH0_JOB_POLLING_INTERVAL is a cron expression that cannot fire. */
export function bulkActivationJob(deps: BulkActivationDeps): JobDefinition<BulkActivationInput, BulkActivationResult> {
  const shared: Shared = {
    deps,
    linking: { crud: deps.crud, auth: deps.auth, lookupDelaysMs: deps.lookupDelaysMs ?? DEFAULT_LOOKUP_DELAYS_MS, serializeCrudWrites: serializer() },
    slots: new ImportSlots(),
    nextPollAt: pollClock(deps.polling),
  }
  return { kind: 'bulk-activation', run: (execution) => new ActivationRun(shared, execution).run() }
}

/** Records the job (each user once) and schedules it; answers the pending job. */
export function submitBulkActivation(engine: JobEngine, userIds: string[], upsert: boolean, ctx: CallContext): Promise<JobRecord> {
  const ids = [...new Set(userIds)]
  const input: BulkActivationInput = { userIds: ids, upsert, forwarded: ctx.forwarded }
  return engine.submit('bulk-activation', input, ids.length)
}
