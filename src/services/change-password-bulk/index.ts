// The change-password bulk job: one change-password email per auth user, sent at
// AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND. A 429 pauses the sending for as long as the
// provider asks and the user is tried again (bounded), so a rate limit costs time, not failures.
// The job always ends `completed`, listing who got the email and who did not.
//
// Each outcome is journaled (outcomes.ts) and a send counts as in flight until its outcome is
// written: a run that resumes the job sends only to ids with no recorded outcome, so a crash
// repeats at most the sends in flight at that moment (MAX_IN_FLIGHT). Jobs of this kind run one
// at a time across the replicas, so that together they keep the configured rate.
import type { CallContext } from '../../clients/http.js'
import type { HeaderMap } from '../../clients/headers.js'
import type { UsersRepository } from '../users/repository.js'
import { USERS_PAGE_SIZE } from '../users/repository.js'
import type { AuthProvider } from '../../auth-providers/provider.js'
import { UpstreamError } from '../../errors/index.js'
import { messageOf } from '../../lib/message-of.js'
import type { JobDefinition, JobEngine, JobExecution, RunOutcome } from '../../jobs/engine.js'
import type { JobRecord } from '../../jobs/store.js'
import { countJobItems } from '../../observability/metrics.js'
import { OutcomeRecorder, Outcomes, type ChangePasswordFailure, type Outcome } from './outcomes.js'
import { Pacer } from './pacer.js'
import type { ChangePasswordBulkBody } from '../../schemas/jobs.js'

export interface ChangePasswordBulkResult {
  summary: { failed: number; completed: number; total: number }
  completed: Array<{ authUserId: string }>
  failures: ChangePasswordFailure[]
}

/** What the job keeps from its request. */
export interface ChangePasswordBulkInput extends ChangePasswordBulkBody {
  /** The request's forwarded headers, replayed on every peer call of the job. */
  forwarded: HeaderMap
}

export interface ChangePasswordBulkDeps {
  users: UsersRepository
  auth: AuthProvider
  ratePerSecond: number
}

/** Tries per user when the provider keeps answering 429. */
export const MAX_RATE_LIMITED_ATTEMPTS = 5
/** Wait after a 429 that says nothing about when to come back. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000

/** Sends in flight at most (sent, or answered but not yet journaled): enough to keep the rate when the provider is slow. */
export function maxInFlight(ratePerSecond: number): number {
  return Math.max(4, Math.ceil(ratePerSecond * 2))
}

/** Email of each auth user: from the CRUD users, else from the auth profiles. */
async function resolveEmails(deps: ChangePasswordBulkDeps, ids: string[], ctx: CallContext): Promise<Map<string, string>> {
  const emails = new Map<string, string>()
  const repository = deps.users
  for (let start = 0; start < ids.length; start += USERS_PAGE_SIZE) {
    const chunk = ids.slice(start, start + USERS_PAGE_SIZE)
    try {
      for (const user of await repository.byAuthUserIds(chunk, ctx, 'authUserId,email')) {
        if (typeof user.authUserId === 'string' && typeof user.email === 'string' && user.email !== '') emails.set(user.authUserId, user.email)
      }
    } catch (error) {
      // The auth profiles below still give the emails of this chunk.
      ctx.log.warn({ err: error }, 'CRUD lookup of change-password emails failed')
    }
  }
  const missing = ids.filter((id) => !emails.has(id))
  if (missing.length > 0) {
    const profiles = await deps.auth.listUsersByIds(missing, ctx)
    for (const profile of profiles) {
      if (typeof profile.user_id === 'string' && typeof profile.email === 'string') emails.set(profile.user_id, profile.email)
    }
  }
  return emails
}

/**
 * Sends to every id of `pending`, recording each outcome. Stops launching sends when the run is
 * asked to stop; rethrows the journal's failure once the sends in flight are settled.
 */
async function sendAll(
  deps: ChangePasswordBulkDeps,
  execution: JobExecution<ChangePasswordBulkInput>,
  pending: string[],
  emails: Map<string, string>,
  recorder: OutcomeRecorder,
  ctx: CallContext,
): Promise<void> {
  const pacer = new Pacer(deps.ratePerSecond)
  const limit = maxInFlight(deps.ratePerSecond)
  const queue = pending.map((authUserId) => ({ authUserId, attempts: 0 }))
  const inFlight = new Set<Promise<void>>()
  let journalError: unknown

  const send = async (item: { authUserId: string; attempts: number }): Promise<void> => {
    const email = emails.get(item.authUserId)
    let outcome: Outcome
    if (email === undefined) {
      outcome = { authUserId: item.authUserId, failure: 'user not found' }
    } else {
      item.attempts += 1
      try {
        await deps.auth.sendChangePasswordEmail(email, ctx)
        outcome = { authUserId: item.authUserId }
      } catch (error) {
        if (error instanceof UpstreamError && error.status === 429 && item.attempts < MAX_RATE_LIMITED_ATTEMPTS) {
          pacer.pauseFor(error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS)
          queue.push(item)
          return
        }
        outcome = { authUserId: item.authUserId, failure: messageOf(error, 'unknown error') }
      }
    }
    await recorder.record(outcome)
  }

  while ((queue.length > 0 && !execution.signal.aborted && journalError === undefined) || inFlight.size > 0) {
    if (queue.length === 0 || execution.signal.aborted || journalError !== undefined || inFlight.size >= limit) {
      await Promise.race(inFlight)
      continue
    }
    const item = queue.shift()!
    if (emails.has(item.authUserId)) await pacer.slot()
    const sending: Promise<void> = send(item)
      .catch((error: unknown) => {
        journalError ??= error
      })
      .finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  }
  if (journalError !== undefined) throw journalError
}

async function run(deps: ChangePasswordBulkDeps, execution: JobExecution<ChangePasswordBulkInput>): Promise<RunOutcome<ChangePasswordBulkResult>> {
  const ids = execution.input.authUsersIds
  const ctx: CallContext = { forwarded: execution.input.forwarded, incoming: {}, log: execution.log }
  const outcomes = new Outcomes(execution.checkpoints)
  const recorder = new OutcomeRecorder(async (entry) => {
    await execution.checkpoint(entry)
    // Counted once journaled: a resumed run never sends to these users again.
    countJobItems('change-password', 'completed', entry.completed.length)
    countJobItems('change-password', 'failed', entry.failures.length)
    execution.progress(outcomes.size + entry.completed.length + entry.failures.length, ids.length)
  }, outcomes)

  const pending = ids.filter((id) => !outcomes.has(id))
  if (pending.length > 0) {
    let emails: Map<string, string> | undefined
    try {
      emails = await resolveEmails(deps, pending, ctx)
    } catch (error) {
      const failure = messageOf(error, 'unknown error')
      await Promise.all(pending.map((authUserId) => recorder.record({ authUserId, failure })))
    }
    if (emails) await sendAll(deps, execution, pending, emails, recorder, ctx)
  }
  if (outcomes.size < ids.length) return { status: 'interrupted' }
  return {
    status: 'completed',
    result: {
      summary: { failed: outcomes.failures.length, completed: outcomes.completed.length, total: ids.length },
      completed: outcomes.completed.map((authUserId) => ({ authUserId })),
      failures: outcomes.failures,
    },
  }
}

export function changePasswordBulkJob(deps: ChangePasswordBulkDeps): JobDefinition<ChangePasswordBulkInput, ChangePasswordBulkResult> {
  return { kind: 'change-password', exclusive: true, run: (execution) => run(deps, execution) }
}

/** Records the job (each id once) and schedules it; answers the pending job. */
export function submitChangePasswordBulk(engine: JobEngine, body: ChangePasswordBulkBody, ctx: CallContext): Promise<JobRecord> {
  const ids = [...new Set(body.authUsersIds)]
  const input: ChangePasswordBulkInput = { authUsersIds: ids, forwarded: ctx.forwarded }
  return engine.submit('change-password', input, ids.length)
}
