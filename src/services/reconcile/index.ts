// The reconciliation job: finds users that are inconsistent between the CRUD collection and the
// auth service (and the Timer Service), and repairs what it safely can unless it is a dry run.
//
// It reads every CRUD user, in all states, page by page with their auth users (find.ts, checks.ts),
// then every auth user of the connection, page by page, looking for auth users no CRUD user points
// to; each problem found is repaired at once (repair.ts). Each page is a checkpoint: a resumed run
// goes on from the last page. Memory stays bounded: one page at a time, and the findings listed in
// the result are capped (their counts are not).
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES } from '../../clients/crud.js'
import type { HeaderMap } from '../../clients/headers.js'
import type { UsersDeps } from '../users/context.js'
import type { StoredUser } from '../users/repository.js'
import { UpstreamError } from '../../errors/index.js'
import type { JobDefinition, JobEngine, JobExecution, RunOutcome } from '../../jobs/engine.js'
import type { JobRecord } from '../../jobs/store.js'
import { CHECKS, type AuthProfile, type Check, type Finding } from './checks.js'
import { paced, unlinkedAuthUsers, userPageProblems, type FindScope } from './find.js'
import { repairOrphan, repairUser, type ReconcileOptions, type RepairScope } from './repair.js'

export type { Check, Finding } from './checks.js'
export type { ReconcileOptions } from './repair.js'

/** What reconciliation calls: the users collection, the auth service and the Timer Service. */
export type ReconcileDeps = Pick<UsersDeps, 'config' | 'crud' | 'auth' | 'timer' | 'rond' | 'users'>

export interface ReconcileInput extends ReconcileOptions {
  forwarded: HeaderMap
}

export interface ReconcileResult {
  dryRun: boolean
  summary: {
    usersChecked: number
    authUsersChecked: number
    /** Findings by check. */
    found: Record<Check, number>
    repaired: number
    repairFailed: number
  }
  /** The first MAX_FINDINGS_LISTED findings, in the order found. */
  findings: Finding[]
  /** More findings than listed (the summary counts them all). */
  findingsTruncated: boolean
}

/** Findings listed in the result; beyond, only counted. */
export const MAX_FINDINGS_LISTED = 10_000
/** Auth users per page of the connection's users. */
const AUTH_PAGE_SIZE = 100
const PROFILE_FIELDS = '_id,authUserId,email,username,blocked,roles,groups,expirationDate,expirationId,updatedAt,__STATE__'

/** One checkpoint: a page checked, and what it found. */
type ReconcileEntry =
  | { phase: 'users'; after: string; checked: number; findings: Finding[] }
  | { phase: 'auth'; offset: number; checked: number; findings: Finding[] }

interface Progress {
  usersAfter: string | undefined
  usersDone: boolean
  authOffset: number
  usersChecked: number
  authUsersChecked: number
  /** Pages of CRUD users, then of auth users, read so far: one journal entry each. */
  pagesRead: number
  found: Record<Check, number>
  repaired: number
  repairFailed: number
  findings: Finding[]
  truncated: boolean
}

function emptyCounts(): Record<Check, number> {
  return Object.fromEntries(CHECKS.map((check) => [check, 0])) as Record<Check, number>
}

function apply(progress: Progress, entry: ReconcileEntry): void {
  progress.pagesRead += 1
  if (entry.phase === 'users') {
    progress.usersAfter = entry.after
    progress.usersChecked += entry.checked
  } else {
    progress.usersDone = true
    progress.authOffset = entry.offset
    progress.authUsersChecked += entry.checked
  }
  for (const finding of entry.findings) {
    progress.found[finding.check] += 1
    if (finding.action === 'repaired') progress.repaired += 1
    if (finding.action === 'repair-failed') progress.repairFailed += 1
    if (progress.findings.length < MAX_FINDINGS_LISTED) progress.findings.push(finding)
    else progress.truncated = true
  }
}

class ReconcileRun {
  private readonly progress: Progress
  private readonly ctx: CallContext
  /** What finding and repairing use of this run. */
  private readonly scope: FindScope & RepairScope

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly execution: JobExecution<ReconcileInput>,
  ) {
    this.progress = {
      usersAfter: undefined,
      usersDone: false,
      authOffset: 0,
      usersChecked: 0,
      authUsersChecked: 0,
      pagesRead: 0,
      found: emptyCounts(),
      repaired: 0,
      repairFailed: 0,
      findings: [],
      truncated: false,
    }
    for (const entry of execution.checkpoints) apply(this.progress, entry as ReconcileEntry)
    this.ctx = { forwarded: execution.input.forwarded, incoming: {}, log: execution.log.child({ jobId: execution.jobId }) }
    this.scope = { deps, ctx: this.ctx, now: Date.now(), options: execution.input }
  }

  /** CRUD users counted at the start of the run: progress counts them, and as many auth users (an estimate). */
  private usersTotal = 0

  private async record(entry: ReconcileEntry): Promise<void> {
    await this.execution.checkpoint(entry)
    apply(this.progress, entry)
    this.reportProgress()
  }

  private reportProgress(): void {
    const { usersChecked, authUsersChecked, pagesRead, found } = this.progress
    const done = usersChecked + authUsersChecked
    const findings = Object.values(found).reduce((sum, count) => sum + count, 0)
    this.execution.progress(done, Math.max(done, 2 * Math.max(this.usersTotal, usersChecked)), { pagesRead, findings })
  }

  async run(): Promise<RunOutcome<ReconcileResult>> {
    try {
      return await this.runSteps()
    } catch (error) {
      // A peer that fails a read stops the run: nothing can be told about the users it did not read.
      if (!(error instanceof UpstreamError)) throw error
      this.ctx.log.error({ err: error }, 'reconciliation failed: a peer failed a read')
      return { status: 'failed' }
    }
  }

  private async runSteps(): Promise<RunOutcome<ReconcileResult>> {
    this.usersTotal = await this.deps.crud.users.count({ _st: ALL_STATES }, this.ctx)
    this.reportProgress()
    if (!this.progress.usersDone) {
      const filter = this.progress.usersAfter === undefined ? {} : { _id: { $gt: this.progress.usersAfter } }
      for await (const page of this.deps.users.pages<StoredUser>(filter, this.ctx, { fields: PROFILE_FIELDS })) {
        await this.record({ phase: 'users', after: page[page.length - 1]!._id, checked: page.length, findings: await this.checkUsers(page) })
        if (this.execution.signal.aborted) return { status: 'interrupted' }
      }
    }
    for (;;) {
      if (this.execution.signal.aborted) return { status: 'interrupted' }
      const offset = this.progress.authOffset
      const page = await paced(() => this.deps.auth.listUsersPage({ offset, limit: AUTH_PAGE_SIZE }, this.ctx))
      const profiles = page.filter((profile) => typeof profile.user_id === 'string') as unknown as AuthProfile[]
      const findings = await this.checkAuthUsers(profiles)
      // Auth users deleted here no longer take a place in the following pages.
      const deleted = findings.filter((finding) => finding.action === 'repaired').length
      await this.record({ phase: 'auth', offset: offset + page.length - deleted, checked: page.length, findings })
      if (page.length < AUTH_PAGE_SIZE) break
    }
    const { progress } = this
    return {
      status: 'completed',
      result: {
        dryRun: this.execution.input.dryRun,
        summary: {
          usersChecked: progress.usersChecked,
          authUsersChecked: progress.authUsersChecked,
          found: progress.found,
          repaired: progress.repaired,
          repairFailed: progress.repairFailed,
        },
        findings: progress.findings,
        findingsTruncated: progress.truncated,
      },
    }
  }

  private async checkUsers(users: StoredUser[]): Promise<Finding[]> {
    const findings: Finding[] = []
    for (const { user, problem } of await userPageProblems(this.scope, users)) findings.push({ ...problem, action: await repairUser(this.scope, problem, user) })
    return findings
  }

  private async checkAuthUsers(page: AuthProfile[]): Promise<Finding[]> {
    const findings: Finding[] = []
    for (const profile of await unlinkedAuthUsers(this.scope, page)) {
      findings.push({ check: 'orphan-auth-user', authUserId: profile.user_id, action: await repairOrphan(this.scope, profile) })
    }
    return findings
  }
}

export function reconcileJob(deps: ReconcileDeps): JobDefinition<ReconcileInput, ReconcileResult> {
  return { kind: 'reconcile', exclusive: true, run: (execution) => new ReconcileRun(deps, execution).run() }
}

/** Records the job and schedules it; answers the pending job. */
export function submitReconcile(engine: JobEngine, options: ReconcileOptions, ctx: CallContext): Promise<JobRecord> {
  const input: ReconcileInput = { ...options, forwarded: ctx.forwarded }
  return engine.submit('reconcile', input, 0)
}
