// The reconciliation job: finds users that are inconsistent between the CRUD collection and the
// auth service (and the Timer Service), and repairs what it safely can unless it is a dry run.
//
// It reads every CRUD user, in all states, page by page with their auth users (checks.ts), then
// every auth user of the connection, page by page, looking for auth users no CRUD user points to.
// Each page is a checkpoint: a resumed run goes on from the last page. Memory stays bounded: one
// page at a time, and the findings listed in the result are capped (their counts are not).
// Repairs remove access before anything else, act only toward what the CRUD says, and leave alone
// what changed in the last minutes (an operation still under way looks like an inconsistency).
import type { AuthProvider } from '../../auth-providers/provider.js'
import type { CallContext } from '../../clients/http.js'
import { ALL_STATES } from '../../clients/crud.js'
import type { HeaderMap } from '../../clients/headers.js'
import type { UsersDeps } from '../users/context.js'
import { expirationOf, scheduleExpiry } from '../users/context.js'
import { UsersRepository, USERS_PAGE_SIZE, type StoredUser } from '../users/repository.js'
import { stringArray } from '../users/fields.js'
import { Rollback } from '../rollback.js'
import { UpstreamError } from '../../errors.js'
import type { JobDefinition, JobEngine, JobExecution, RunOutcome } from '../../jobs/engine.js'
import type { JobRecord } from '../../jobs/store.js'
import { CHECKS, isRecent, rolesDiffer, userProblems, type Action, type AuthProfile, type Check, type Finding, type Problem } from './checks.js'

export type { Check, Finding } from './checks.js'

/** What reconciliation calls: the users collection, the auth service and the Timer Service. */
export type ReconcileDeps = Pick<UsersDeps, 'config' | 'crud' | 'auth' | 'timer' | 'rond'>

export interface ReconcileOptions {
  /** Only report (default true). */
  dryRun: boolean
  /** Delete the auth users of the connection no CRUD user points to (default false: report them). */
  deleteOrphanAuthUsers: boolean
}

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
const PROFILE_FIELDS = '_id,authUserId,email,username,blocked,roles,expirationDate,expirationId,updatedAt,__STATE__'
/** Tries of an auth call the provider answers 429. */
const RATE_LIMITED_ATTEMPTS = 5
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000

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

/** Retries an auth call the provider rate-limits, as long as it asks. */
async function paced<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call()
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.status !== 429 || attempt >= RATE_LIMITED_ATTEMPTS) throw error
      await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS))
    }
  }
}

class ReconcileRun {
  private readonly progress: Progress
  private readonly ctx: CallContext
  private readonly repository: UsersRepository
  private readonly now = Date.now()

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
      found: emptyCounts(),
      repaired: 0,
      repairFailed: 0,
      findings: [],
      truncated: false,
    }
    for (const entry of execution.checkpoints) apply(this.progress, entry as ReconcileEntry)
    this.ctx = { forwarded: execution.input.forwarded, incoming: {}, log: execution.log.child({ jobId: execution.jobId }) }
    this.repository = new UsersRepository(deps.crud.users)
  }

  private get auth(): AuthProvider {
    return this.deps.auth
  }

  /** CRUD users counted at the start of the run: progress counts them, and as many auth users (an estimate). */
  private usersTotal = 0

  private async record(entry: ReconcileEntry): Promise<void> {
    await this.execution.checkpoint(entry)
    apply(this.progress, entry)
    this.reportProgress()
  }

  private reportProgress(): void {
    const { usersChecked, authUsersChecked } = this.progress
    const done = usersChecked + authUsersChecked
    this.execution.progress(done, Math.max(done, 2 * Math.max(this.usersTotal, usersChecked)))
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
      for await (const page of this.repository.pages<StoredUser>(filter, this.ctx, { fields: PROFILE_FIELDS })) {
        await this.record({ phase: 'users', after: page[page.length - 1]!._id, checked: page.length, findings: await this.checkUsers(page) })
        if (this.execution.signal.aborted) return { status: 'interrupted' }
      }
    }
    for (;;) {
      if (this.execution.signal.aborted) return { status: 'interrupted' }
      const offset = this.progress.authOffset
      const page = await paced(() => this.auth.listUsersPage({ offset, limit: AUTH_PAGE_SIZE }, this.ctx))
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
    const authIds = users.flatMap((user) => (typeof user.authUserId === 'string' && user.authUserId !== '' ? [user.authUserId] : []))
    const profiles = new Map<string, AuthProfile>()
    if (authIds.length > 0) {
      for (const profile of await paced(() => this.auth.listUsersByIds(authIds, this.ctx))) {
        if (typeof profile.user_id === 'string') profiles.set(profile.user_id, profile as unknown as AuthProfile)
      }
    }
    const bound = await this.boundRoles([...profiles.keys()])
    const findings: Finding[] = []
    for (const user of users) {
      const profile = typeof user.authUserId === 'string' ? profiles.get(user.authUserId) : undefined
      const problems = userProblems(user, profile, this.now, this.deps.timer !== undefined, this.deps.config.authHardDelete)
      if (bound && profile && rolesDiffer(user.roles, bound.get(profile.user_id) ?? [])) problems.push({ check: 'roles-mismatch', crudId: user._id, authUserId: profile.user_id })
      for (const problem of problems) findings.push({ ...problem, action: await this.repairUser(problem, user) })
    }
    return findings
  }

  /**
   * The roles of the resource-free bindings naming each of `authIds`, read from the collection
   * Rönd keeps them in; undefined when Rönd is off or that collection is not configured.
   */
  private async boundRoles(authIds: string[]): Promise<Map<string, Set<string>> | undefined> {
    const { bindings } = this.deps.crud
    if (!this.deps.config.rondEnabled || !bindings) return undefined
    const roles = new Map<string, Set<string>>(authIds.map((id) => [id, new Set()]))
    if (authIds.length === 0) return roles
    const query = JSON.stringify({ subjects: { $in: authIds } })
    for (let skip = 0; ; skip += USERS_PAGE_SIZE) {
      const page = await bindings.list<{ subjects?: unknown; roles?: unknown; resource?: unknown }>({ _q: query, _l: USERS_PAGE_SIZE, _sk: skip, _s: '_id' }, this.ctx)
      for (const binding of page) {
        if (binding.resource !== undefined || !Array.isArray(binding.subjects)) continue
        for (const subject of binding.subjects) {
          const held = roles.get(subject as string)
          if (held) for (const role of Array.isArray(binding.roles) ? binding.roles : []) held.add(String(role))
        }
      }
      if (page.length < USERS_PAGE_SIZE) return roles
    }
  }

  /** Repairs toward what the CRUD user says, access removed first. */
  private async repairUser(problem: Problem, user: StoredUser): Promise<Action> {
    if (this.execution.input.dryRun) return 'reported'
    const { crud } = this.deps
    try {
      switch (problem.check) {
        case 'expired-not-blocked':
          if (problem.authUserId) await this.blockIfPresent(problem.authUserId)
          await crud.users.patchById(user._id, { $set: { blocked: true } }, this.ctx)
          return 'repaired'
        case 'access-not-removed':
          await this.auth.updateUser(problem.authUserId!, { blocked: true }, this.ctx)
          return 'repaired'
        case 'profile-mismatch': {
          const changes: { email?: string; username?: string } = {}
          for (const field of problem.fields ?? []) changes[field as 'email' | 'username'] = user[field as 'email' | 'username'] as string
          await this.auth.updateUser(problem.authUserId!, changes, this.ctx)
          return 'repaired'
        }
        case 'auth-user-missing':
          if (isRecent(user.updatedAt, this.now, this.deps.config.reconcileRecentWindowMs)) return 'skipped-recent'
          // Guarded: only while the user still points to the missing auth user.
          await crud.users.patchBulk([{ filter: { _id: user._id, _st: ALL_STATES, _q: JSON.stringify({ authUserId: problem.authUserId }) }, update: { $unset: { authUserId: true } } }], this.ctx)
          return 'repaired'
        case 'expiry-timer-missing':
          return await this.scheduleMissingTimer(user)
        case 'roles-mismatch': {
          if (isRecent(user.updatedAt, this.now, this.deps.config.reconcileRecentWindowMs)) return 'skipped-recent'
          // As a PATCH of the roles does: every binding naming the user revoked, then the CRUD roles granted.
          await this.deps.rond.revokeSubject(problem.authUserId!, this.ctx)
          const roles = stringArray(user.roles)
          if (roles.length > 0) await this.deps.rond.grantRoles(problem.authUserId!, roles, this.ctx)
          return 'repaired'
        }
        default:
          return 'reported'
      }
    } catch (error) {
      this.ctx.log.warn({ err: error, check: problem.check, crudId: problem.crudId, authUserId: problem.authUserId }, 'reconciliation: repair failed')
      return 'repair-failed'
    }
  }

  private async blockIfPresent(authUserId: string): Promise<void> {
    try {
      await this.auth.updateUser(authUserId, { blocked: true }, this.ctx)
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.status !== 404) throw error
    }
  }

  private async scheduleMissingTimer(user: StoredUser): Promise<Action> {
    const expiresAt = expirationOf(user.expirationDate)
    if (!expiresAt) return 'reported'
    const rollback = new Rollback('reconcile', this.ctx.log, { userId: user._id })
    await rollback.guard(async () => {
      const expirationId = await scheduleExpiry(this.deps, user._id, expiresAt, this.ctx, rollback)
      if (expirationId) await this.deps.crud.users.patchById(user._id, { $set: { expirationId } }, this.ctx)
    })
    return 'repaired'
  }

  private async checkAuthUsers(page: AuthProfile[]): Promise<Finding[]> {
    const ids = page.map((profile) => profile.user_id)
    const linked = new Set((await this.repository.byAuthUserIds<StoredUser>(ids, this.ctx, '_id,authUserId')).map((user) => user.authUserId))
    const findings: Finding[] = []
    for (const profile of page) {
      if (linked.has(profile.user_id)) continue
      findings.push({ check: 'orphan-auth-user', authUserId: profile.user_id, action: await this.repairOrphan(profile) })
    }
    return findings
  }

  private async repairOrphan(profile: AuthProfile): Promise<Action> {
    const { dryRun, deleteOrphanAuthUsers } = this.execution.input
    if (dryRun || !deleteOrphanAuthUsers) return 'reported'
    // An auth user a moment old may be one whose CRUD user is being linked right now.
    if (isRecent(profile.created_at, this.now, this.deps.config.reconcileRecentWindowMs)) return 'skipped-recent'
    try {
      await this.auth.deleteUser(profile.user_id, this.ctx)
      return 'repaired'
    } catch (error) {
      this.ctx.log.warn({ err: error, authUserId: profile.user_id }, 'reconciliation: orphan auth user not deleted')
      return 'repair-failed'
    }
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
