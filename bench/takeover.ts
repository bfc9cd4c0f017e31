// Takeover after a crash, on PostgreSQL and on Redis: two ums replicas (A and B) on one job store
// with JOBS_LOCK_LIFETIME_MS=5000, a change-password job of 300 ids at 50/s (~6 s) run by A, and A
// killed with SIGKILL while it runs the job. Reported per store: the time from the kill to the
// first email sent after it (B going on, from the Auth0 Client emulator's outbox timestamps); bar ≤
// lock lifetime + 2 s, the expected value being the lock's remaining life (A renews it every
// quarter of its lifetime) plus up to one scan interval of B (1 s). The job must then complete with
// every id sent at least once; the emails sent twice (sent by A, not yet recorded) are reported.
//
// B starts only once A has sent some emails: a replica started before the job exists could lock
// it first, and A would never run it.
import { maxInFlight } from '../src/services/change-password-bulk/index.js'
import { startChild, type ServerChild } from './children.js'
import { burstFromEnv, changePasswordPeers, changePasswordUsers, RATE, type ChangePasswordJob } from './change-password.js'
import { callJson, count, round2, round3, sleep, waitForJob } from './common.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { OutboxMail, SeedAuthUsersArg } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'
import { DURABLE_STORES, isolatedStore, STORE_LABELS, type IsolatedStore } from './stores.js'

const USERS = 300
const LOCK_LIFETIME_MS = 5_000
const BAR_MS = LOCK_LIFETIME_MS + 2_000
/** Emails A sends before B is started. */
const SENT_BEFORE_B = 25
/** A must still have this much of the job ahead when it is killed, or the takeover is not measured. */
const MIN_LEFT_AT_KILL = RATE
/**
 * After A's exit, requests A had already written may still be answered by the emulator: the
 * outbox is read this much later, so that its length counts them as A's.
 */
const SETTLE_MS = 200
const ROUTE = 'POST /change-password'

interface Takeover {
  store: IsolatedStore['kind']
  env: Record<string, string>
  urls: { a: string; b: string }
  sentBeforeB: number
  /** Emails in the outbox once B was ready, just before A was killed. */
  sentAtKillDecision: number
  /** Emails counted as A's: the outbox after A's exit and SETTLE_MS. */
  sentByA: number
  /** Of those, the ones timestamped after the kill (requests in flight). */
  answeredAfterKill: number
  takeoverMs: number
  job: ChangePasswordJob
  completed: boolean
  emails: number
  distinct: number
  everySent: boolean
  repeated: number
  outcomes: Record<string, number>
}

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (performance.now() > deadline) throw new Error(`takeover: timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

async function takeover(ctx: BenchContext, store: IsolatedStore): Promise<Takeover> {
  const label = STORE_LABELS[store.kind]
  const burst = burstFromEnv()
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, changePasswordPeers(burst), children)
    const env = { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(RATE), JOBS_LOCK_LIFETIME_MS: String(LOCK_LIFETIME_MS), ...store.env }
    const startUms = async (name: string) => {
      const ums = await startChild<UmsInfo>({ name, entry: 'ums.ts', options: { peers: peers.info, env } satisfies UmsOptions })
      children.push(ums)
      return ums
    }
    const outboxSize = () => peers.auth.call<number>('outboxSize')
    const a = await startUms('ums-a')
    const ids = await peers.main.call<string[]>('seedAuthUsers', { users: changePasswordUsers(USERS) } satisfies SeedAuthUsersArg, 60_000)
    await peers.resetStats()

    const created = await callJson<ChangePasswordJob>('POST', `${a.info.url}/jobs/change-password/bulk`, { json: { authUsersIds: ids }, timeoutMs: 30_000 })
    if (created.status !== 202) throw new Error(`POST /jobs/change-password/bulk answered ${created.status}: ${created.text.slice(0, 300)}`)
    const sentBeforeB = await waitFor(outboxSize, (size) => size >= SENT_BEFORE_B, `A's first ${SENT_BEFORE_B} emails`, 30_000)
    const b = await startUms('ums-b')
    await waitFor(() => readiness(b), (status) => status === 200, "B's /-/ready", 30_000)

    const sentAtKillDecision = await outboxSize()
    if (sentAtKillDecision > USERS - MIN_LEFT_AT_KILL) {
      throw new Error(`takeover on ${label}: A had sent ${sentAtKillDecision} of ${USERS} emails by the time B was ready, too few left to measure a takeover (a very busy machine?)`)
    }
    const killedAtMs = Date.now()
    await a.kill('SIGKILL')
    await sleep(SETTLE_MS)
    const sentByA = await outboxSize()
    ctx.log(`${label}: A killed with SIGKILL after ${sentByA} of ${USERS} emails (B started after ${sentBeforeB}); waiting for B`)
    await waitFor(outboxSize, (size) => size > sentByA, 'B to send an email', LOCK_LIFETIME_MS + 20_000)
    const done = await waitForJob<ChangePasswordJob>(`${b.info.url}/jobs/change-password/bulk/${created.body.jobId}`, 60_000, 50)

    const mails = await peers.auth.call<OutboxMail[]>('outbox')
    const firstOfB = mails[sentByA]!
    const takeoverMs = firstOfB.atMs - killedAtMs
    const expected = new Set(changePasswordUsers(USERS).map((user) => user.email))
    const distinct = new Set(mails.map((mail) => mail.email))
    const summary = done.body.summary
    const stats = await peers.stats()
    const result: Takeover = {
      store: store.kind,
      env,
      urls: { a: a.info.url, b: b.info.url },
      sentBeforeB,
      sentAtKillDecision,
      sentByA,
      answeredAfterKill: mails.slice(0, sentByA).filter((mail) => mail.atMs >= killedAtMs).length,
      takeoverMs,
      job: done.body,
      completed: done.body.status === 'completed' && summary?.completed === USERS && summary.failed === 0,
      emails: mails.length,
      distinct: distinct.size,
      everySent: [...expected].every((email) => distinct.has(email)),
      repeated: mails.length - distinct.size,
      outcomes: stats.auth.routes[ROUTE]?.outcomes ?? {},
    }
    ctx.log(
      `  ${label}: first email after the kill ${round3(takeoverMs / 1000)} s later; job ${done.body.status} (${summary?.completed ?? 0} completed, ${summary?.failed ?? '?'} failed); ` +
        `${mails.length} emails to ${distinct.size} of ${USERS} users, ${result.repeated} repeated`,
    )
    return result
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

async function readiness(ums: ServerChild<UmsInfo>): Promise<number> {
  return callJson('GET', `${ums.info.url}/-/ready`, { timeoutMs: 2_000 }).then(
    (answer) => answer.status,
    () => 0,
  )
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const results: Takeover[] = []
  for (const kind of DURABLE_STORES) {
    const store = await isolatedStore(kind)
    try {
      results.push(await takeover(ctx, store))
    } finally {
      await store.cleanup()
    }
  }
  const rows: BarRow[] = results.map((result) => ({
    check: `takeover after SIGKILL, ${STORE_LABELS[result.store]}`,
    baseline: `lock lifetime ${LOCK_LIFETIME_MS / 1000} s`,
    measured:
      `${round2(result.takeoverMs / 1000)} s kill → next email; ${result.distinct}/${USERS} sent, ${result.repeated} repeated` +
      (result.completed ? '' : `; job ${result.job.status}`),
    value: result.takeoverMs / 1000,
    bar: `≤ ${BAR_MS / 1000} s, all sent`,
    pass: result.takeoverMs <= BAR_MS && result.completed && result.everySent,
  }))
  const notes = [
    `two ums replicas on one store (a PostgreSQL schema or Redis key prefix of its own), JOBS_LOCK_LIFETIME_MS=${LOCK_LIFETIME_MS}, ${count(USERS)} ids at ${RATE}/s ` +
      `(emulator bucket burst ${burstFromEnv()}, ${RATE}/s); B started after A's first ${SENT_BEFORE_B} emails, A killed with SIGKILL once B was ready; one run per store. ` +
      `Value = ms from the kill to the first email after those counted as A's (the outbox ${SETTLE_MS} ms after A's exit), from the emulator's timestamps; ` +
      `expected: the lock's remaining life (${(LOCK_LIFETIME_MS * 3) / 4000}–${LOCK_LIFETIME_MS / 1000} s, renewed every ${LOCK_LIFETIME_MS / 4000} s) plus up to B's 1 s scan interval`,
    ...results.map(
      (result) =>
        `${STORE_LABELS[result.store]}: A sent ${result.sentByA} (${result.answeredAfterKill} of them answered after the kill), B the other ${result.emails - result.sentByA}; ` +
        `${result.repeated} email${result.repeated === 1 ? '' : 's'} repeated (sent by A but not yet recorded as sent when it died; ums's bound: ${maxInFlight(RATE)}); ` +
        `change-password answers ${JSON.stringify(result.outcomes)}`,
    ),
  ]
  return {
    rows,
    commands: results.flatMap((result) => [
      `# ${STORE_LABELS[result.store]}: two ums with ${Object.entries(result.env)
        .map(([name, value]) => `${name}=${value}`)
        .join(' ')}`,
      `curl -sS -X POST -H 'content-type: application/json' -d '{"authUsersIds":[…${USERS} ids…]}' ${result.urls.a}/jobs/change-password/bulk   # on A, then kill -KILL <A>`,
      `curl -sS ${result.urls.b}/jobs/change-password/bulk/<jobId>   # on B, polled until status != pending`,
    ]),
    notes,
    details: {
      users: USERS,
      lockLifetimeMs: LOCK_LIFETIME_MS,
      barMs: BAR_MS,
      settleMs: SETTLE_MS,
      runs: results.map((result) => ({ ...result, takeoverMs: Math.round(result.takeoverMs), job: { status: result.job.status, summary: result.job.summary } })),
    },
  }
}

export const takeoverScenario: Scenario = {
  name: 'takeover',
  description: 'SIGKILL of the replica running a change-password job, on PostgreSQL and on Redis: the other replica goes on within the lock lifetime + 2 s, every email sent',
  run,
}
