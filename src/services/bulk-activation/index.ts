// The bulk-activation job: creates the auth users of CRUD users through Auth0 bulk imports and
// writes their `authUserId` back.
//
// A run reads the users from the CRUD (any state: users outside PUBLIC or flagged `blocked` are
// imported blocked), skips those that already have an `authUserId`, and packs the others into
// users files of at most 500 KB, each user with a generated id; this is checkpointed once. Then
// each file, in order and within the process's import slots, is started as an Auth0 import job
// (starting.ts), polled every AUTH0_JOB_POLLING_INTERVAL (polling.ts) and, once completed, linked
// (linking.ts), each step checkpointed (journal.ts). A resumed run polls the imports already
// started instead of starting them again, and links what was left unlinked; a start whose answer
// was lost is recovered before the file is started again (starting.ts).
//
// Failed calls never lose a job: failed polls, errors reads and starts are retried (polling.ts,
// starting.ts).
import type { AuthProvider, ImportUser } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import type { HeaderMap } from '../../clients/headers.js'
import type { CrudClient } from '../../clients/crud.js'
import type { PollingInterval } from '../../config/index.js'
import type { JobDefinition, JobEngine, JobExecution, RunOutcome } from '../../jobs/engine.js'
import type { JobRecord } from '../../jobs/store.js'
import { sleep } from '../../lib/sleep.js'
import { countJobItems } from '../../observability/metrics.js'
import { pollClock } from './cron.js'
import type { FileRun } from './file-run.js'
import { ACTIVATION_FIELDS, generateAuthId, splitIntoFiles, toImportUser, type ActivationCandidate } from './files.js'
import type { UsersRepository } from '../users/repository.js'
import { ImportSlots, type ImportSlot } from './import-slots.js'
import { activationResult, applyEntry, foldActivation, settledCount, usersToImport, type ActivationEntry, type ActivationState, type FileState } from './journal.js'
import { linkImport, type LinkingDeps } from './linking.js'
import { pollUntilCompleted, readImportErrors } from './polling.js'
import { DEFAULT_LOOKUP_DELAYS_MS } from './resolve.js'
import { ACTIVATION_ERROR_CODES, failure, type BulkActivationFailure, type BulkActivationResult } from './result.js'
import { startImport } from './starting.js'

export { ACTIVATION_ERROR_CODES, type BulkActivationFailure, type BulkActivationResult } from './result.js'

/** What the job keeps from its request. */
export interface BulkActivationInput {
  /** Distinct CRUD `_id`s, in request order. */
  userIds: string[]
  upsert: boolean
  /** The request's forwarded headers, replayed on every peer call of the job. */
  forwarded: HeaderMap
}

export interface BulkActivationDeps {
  crud: CrudClient
  users: UsersRepository
  auth: AuthProvider
  polling: PollingInterval
  /** Waits before each search of upserted users (default DEFAULT_LOOKUP_DELAYS_MS). */
  lookupDelaysMs?: readonly number[]
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
  /** What the steps of each file use of this run. */
  private readonly fileRun: FileRun

  constructor(
    private readonly shared: Shared,
    private readonly execution: JobExecution<BulkActivationInput>,
  ) {
    this.input = execution.input
    this.state = foldActivation(execution.checkpoints)
    this.ctx = { forwarded: this.input.forwarded, incoming: {}, log: execution.log.child({ jobId: execution.jobId }) }
    this.fileRun = {
      auth: shared.deps.auth,
      slots: shared.slots,
      linking: shared.linking,
      nextPollAt: shared.nextPollAt,
      jobId: execution.jobId,
      upsert: this.input.upsert,
      ctx: this.ctx,
      signal: this.stop.signal,
      record: (entry) => this.record(entry),
      sleepUntilNextTick: () => sleep(shared.nextPollAt(Date.now()) - Date.now(), this.stop.signal),
    }
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
      found = await this.shared.deps.users.byIds<ActivationCandidate>(ids, this.ctx, ACTIVATION_FIELDS)
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

  private async driveFile(file: FileState): Promise<void> {
    let slot: ImportSlot | undefined
    let resumed = false
    try {
      if (file.auth0JobId === undefined) {
        slot = await startImport(this.fileRun, file)
        if (!slot) return
      } else {
        // An import a previous run started: it holds one of Auth0's slots already.
        slot = this.shared.slots.occupy()
        resumed = true
      }
      const job = await pollUntilCompleted(this.fileRun, file, resumed)
      slot.release()
      slot = undefined
      if (!job) return
      const errors = await readImportErrors(this.fileRun, file)
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
    linking: { crud: deps.crud, users: deps.users, auth: deps.auth, lookupDelaysMs: deps.lookupDelaysMs ?? DEFAULT_LOOKUP_DELAYS_MS, serializeCrudWrites: serializer() },
    slots: new ImportSlots(),
    nextPollAt: pollClock(deps.polling),
  }
  // Activation jobs mostly wait for Auth0's import jobs: a replica runs several at once.
  return { kind: 'bulk-activation', concurrency: 10, run: (execution) => new ActivationRun(shared, execution).run() }
}

/** Records the job (each user once) and schedules it; answers the pending job. */
export function submitBulkActivation(engine: JobEngine, userIds: string[], upsert: boolean, ctx: CallContext): Promise<JobRecord> {
  const ids = [...new Set(userIds)]
  const input: BulkActivationInput = { userIds: ids, upsert, forwarded: ctx.forwarded }
  return engine.submit('bulk-activation', input, ids.length)
}
