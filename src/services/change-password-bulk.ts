// The change-password bulk job (SPEC §7): one change-password email per auth user, sent at
// AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND. A 429 pauses the sending for as long as the
// provider asks and the user is tried again (bounded), so a rate limit costs time, not failures.
// The job always ends `completed`, listing who got the email and who did not.
import type { CallContext } from '../clients/http.js'
import { ALL_STATES, type CrudClient } from '../clients/crud.js'
import type { AuthProvider } from '../auth-providers/provider.js'
import { UpstreamError } from '../errors.js'
import type { Job, JobRegistry } from '../jobs/registry.js'

export interface ChangePasswordBulkResult {
  summary: { failed: number; completed: number; total: number }
  completed: Array<{ authUserId: string }>
  failures: Array<{ authUserId: string; message: string }>
}

export interface ChangePasswordBulkDeps {
  crud: CrudClient
  auth: AuthProvider
  registry: JobRegistry
  ratePerSecond: number
}

/** Tries per user when the provider keeps answering 429. */
export const MAX_RATE_LIMITED_ATTEMPTS = 5
/** Wait after a 429 that says nothing about when to come back. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000
/** CRUD users read per lookup of their emails. */
const EMAIL_LOOKUP_PAGE = 200

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Hands out send slots `1000 / rate` ms apart; a 429 pushes the next slot back. A slot whose
 * timer fired late is not caught up with a back-to-back send: the next one stays at least half an
 * interval away (a provider's bucket with a small burst would answer it 429).
 */
export class Pacer {
  private nextSlot = 0
  private readonly intervalMs: number

  constructor(
    ratePerSecond: number,
    private readonly clock: { now: () => number; sleep: (ms: number) => Promise<unknown> } = { now: Date.now, sleep },
  ) {
    this.intervalMs = 1000 / ratePerSecond
  }

  async slot(): Promise<void> {
    const now = this.clock.now()
    const at = Math.max(now, this.nextSlot)
    this.nextSlot = at + this.intervalMs
    if (at > now) await this.clock.sleep(at - now)
    this.nextSlot = Math.max(this.nextSlot, this.clock.now() + this.intervalMs / 2)
  }

  pauseFor(ms: number): void {
    this.nextSlot = Math.max(this.nextSlot, this.clock.now() + ms)
  }
}

function failureMessage(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error'
}

/** Email of each auth user: from the CRUD users, else from the auth profiles. */
async function resolveEmails(deps: ChangePasswordBulkDeps, ids: string[], ctx: CallContext): Promise<Map<string, string>> {
  const emails = new Map<string, string>()
  for (let start = 0; start < ids.length; start += EMAIL_LOOKUP_PAGE) {
    const chunk = ids.slice(start, start + EMAIL_LOOKUP_PAGE)
    try {
      const users = await deps.crud.users.list<{ authUserId?: unknown; email?: unknown }>(
        { _q: JSON.stringify({ authUserId: { $in: chunk } }), _st: ALL_STATES, _p: 'authUserId,email', _l: EMAIL_LOOKUP_PAGE },
        ctx,
      )
      for (const user of users) {
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

/** Never rejects: every failure ends up as a per-user entry of the result. */
async function runJob(deps: ChangePasswordBulkDeps, jobId: string, ids: string[], ctx: CallContext): Promise<ChangePasswordBulkResult> {
  const completed: ChangePasswordBulkResult['completed'] = []
  const failures: ChangePasswordBulkResult['failures'] = []
  const report = () => deps.registry.progress(jobId, completed.length + failures.length, ids.length)

  let emails: Map<string, string>
  try {
    emails = await resolveEmails(deps, ids, ctx)
  } catch (error) {
    const message = failureMessage(error)
    return { summary: { failed: ids.length, completed: 0, total: ids.length }, completed, failures: ids.map((authUserId) => ({ authUserId, message })) }
  }

  const pacer = new Pacer(deps.ratePerSecond)
  // Enough sends in flight to keep the rate when the provider is slow, never unbounded.
  const maxInFlight = Math.max(4, Math.ceil(deps.ratePerSecond * 2))
  const queue = ids.map((authUserId) => ({ authUserId, attempts: 0 }))
  const inFlight = new Set<Promise<void>>()

  const send = async (item: { authUserId: string; attempts: number }) => {
    const email = emails.get(item.authUserId)
    if (email === undefined) {
      failures.push({ authUserId: item.authUserId, message: 'no email found for this user' })
      return report()
    }
    item.attempts += 1
    try {
      await deps.auth.sendChangePasswordEmail(email, ctx)
      completed.push({ authUserId: item.authUserId })
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 429 && item.attempts < MAX_RATE_LIMITED_ATTEMPTS) {
        pacer.pauseFor(error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS)
        queue.push(item)
        return
      }
      failures.push({ authUserId: item.authUserId, message: failureMessage(error) })
    }
    report()
  }

  while (queue.length > 0 || inFlight.size > 0) {
    if (queue.length === 0 || inFlight.size >= maxInFlight) {
      await Promise.race(inFlight)
      continue
    }
    const item = queue.shift()!
    if (emails.has(item.authUserId)) await pacer.slot()
    const sending: Promise<void> = send(item).finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  }
  return { summary: { failed: failures.length, completed: completed.length, total: ids.length }, completed, failures }
}

/** Creates the job and starts it in the background; answers the pending job at once. */
export function startChangePasswordBulk(deps: ChangePasswordBulkDeps, authUsersIds: string[], ctx: CallContext): Job<ChangePasswordBulkResult> {
  const ids = [...new Set(authUsersIds)]
  const job = deps.registry.create<ChangePasswordBulkResult>('change-password')
  deps.registry.progress(job.jobId, 0, ids.length)
  void runJob(deps, job.jobId, ids, ctx).then((result) => deps.registry.complete(job.jobId, result))
  return job
}
