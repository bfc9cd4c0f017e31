// The change-password bar: 1,000 auth users (each with its CRUD user) → `POST
// /jobs/change-password/bulk` → the job polled until it ends, against an Auth0 Client emulator whose
// authentication API (the change-password route) allows 50 requests a second and answers 429 beyond
// (token bucket: `rateLimits.authApi = { burst, perSecond: 50 }`), with ums paced at
// AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND=50. Bar: all 1,000 completed and the wall time
// (POST to the job seen completed) at most 1.05 × 20 s, 20 s being 1,000 / 50. The 429s the
// emulator answered are counted from its request log.
//
// The bucket's burst (BENCH_CP_BURST, default 5) is how many requests may arrive back to back
// after a quiet spell: 5 is 100 ms of the allowed rate, enough for the timer and loopback jitter of a
// sender keeping exactly 50/s, while a sender going faster than 50/s for more than ~0.1 s gets 429s.
// A 429 costs the sender at least a second (`retry-after` is in whole seconds).
//
// `change-password` runs the workload once with ums's jobs in memory; `change-password-stores` runs
// the same workload (`changePasswords`) in memory, on PostgreSQL and on Redis, alternately
// (bench/store-comparison.ts). bench/takeover.ts reuses its users and emulator settings.
import { startChild } from './children.js'
import { callJson, count, cpuDelta, cpuOf, machineBusyMs, machineCores, round2, round3, waitForJob } from './common.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { PeerStats, PeersOptions, SeedAuthUsersArg } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'
import { compareStores } from './store-comparison.js'
import { isolatedStore, STORE_LABELS, type IsolatedStore } from './stores.js'

const USERS = 1_000
export const RATE = 50
const DEFAULT_BURST = 5
const BAR_FACTOR = 1.05
const IDEAL_S = USERS / RATE
const ROUTE = 'POST /change-password'
const ORIGINAL = 'original at 10/s on Auth0: 223/1000'

export interface ChangePasswordJob {
  jobId: string
  status: 'pending' | 'completed' | 'failed'
  summary?: { failed: number; completed: number; total: number }
  completed?: Array<{ authUserId: string }>
  failures?: Array<{ authUserId: string; message: string }>
}

export function burstFromEnv(): number {
  const raw = process.env.BENCH_CP_BURST
  const value = raw === undefined || raw === '' ? DEFAULT_BURST : Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_CP_BURST must be an integer ≥ 1, got ${raw}`)
  return value
}

/** The emulators' settings: the authentication API limited to `burst` and RATE a second. */
export function changePasswordPeers(burst: number): PeersOptions {
  return { auth0: { rateLimits: { authApi: { burst, perSecond: RATE } } } }
}

/** `total` auth users (each with its CRUD user, seeded by the peers child), emails `cp.user<n>@example.com`. */
export function changePasswordUsers(total: number): SeedAuthUsersArg['users'] {
  return Array.from({ length: total }, (_, index) => {
    const n = String(index + 1).padStart(6, '0')
    return { email: `cp.user${n}@example.com`, username: `cp.user${n}`, name: `Name${n}`, surname: `Surname${n}` }
  })
}

/** One change-password run: its own emulators and ums (on `store`), stopped before it returns. */
interface ChangePasswordRun {
  burst: number
  env: Record<string, string>
  umsUrl: string
  wallMs: number
  acceptedMs: number
  polls: number
  job: ChangePasswordJob
  allCompleted: boolean
  outcomes: Record<string, number>
  sendSpanMs: number
  /** First and last change-password request after the POST, ms (the emulator's times). */
  firstSendMs: number
  lastSendMs: number
  /** Cores ums and the emulators kept busy during the job, and ums's CPU time (ms). */
  ownCores: number
  umsCpuMs: number
  /** Cores the whole machine kept busy during the job (ums, the emulators, the store and anything else). */
  machineCores: number | undefined
  calls: { crud: PeerStats['routes']; auth: PeerStats['routes'] }
}

async function changePasswords(ctx: BenchContext, store: IsolatedStore): Promise<ChangePasswordRun> {
  const burst = burstFromEnv()
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, changePasswordPeers(burst), children)
    const env = { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(RATE), ...store.env }
    const ums = await startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info, env } satisfies UmsOptions, cpuProfileDir: ctx.cpuProfileDir('ums') })
    children.push(ums)

    const ids = await peers.main.call<string[]>('seedAuthUsers', { users: changePasswordUsers(USERS) } satisfies SeedAuthUsersArg, 60_000)
    await peers.resetStats()
    ctx.log(`${count(USERS)} auth users seeded; emulator bucket ${burst} burst, ${RATE}/s; POST /jobs/change-password/bulk (jobs ${STORE_LABELS[store.kind]})`)

    const [umsBefore, peersBefore] = await cpuOf([ums, peers.main])
    const machineBefore = machineBusyMs()
    const postedAtEpochMs = Date.now()
    const started = performance.now()
    const created = await callJson<ChangePasswordJob>('POST', `${ums.info.url}/jobs/change-password/bulk`, { json: { authUsersIds: ids }, timeoutMs: 30_000 })
    if (created.status !== 202) throw new Error(`POST /jobs/change-password/bulk answered ${created.status}: ${created.text.slice(0, 300)}`)
    const acceptedMs = performance.now() - started
    const done = await waitForJob<ChangePasswordJob>(`${ums.info.url}/jobs/change-password/bulk/${created.body.jobId}`, IDEAL_S * 4 * 1000, 50)
    const wallMs = done.doneAt - started
    const machineAfter = machineBusyMs()
    const [umsAfter, peersAfter] = await cpuOf([ums, peers.main])
    const umsCpu = cpuDelta(umsBefore!, umsAfter!, wallMs)
    const stats = await peers.stats()

    const route = stats.auth.routes[ROUTE]
    const outcomes = route?.outcomes ?? {}
    const summary = done.body.summary
    const run: ChangePasswordRun = {
      burst,
      env,
      umsUrl: ums.info.url,
      wallMs,
      acceptedMs,
      polls: done.polls,
      job: done.body,
      allCompleted: done.body.status === 'completed' && summary?.completed === USERS && summary.failed === 0,
      outcomes,
      sendSpanMs: route ? route.lastAtMs - route.firstAtMs : 0,
      firstSendMs: route ? route.firstAtMs - postedAtEpochMs : Number.NaN,
      lastSendMs: route ? route.lastAtMs - postedAtEpochMs : Number.NaN,
      ownCores: round2(umsCpu.cores + cpuDelta(peersBefore!, peersAfter!, wallMs).cores),
      umsCpuMs: umsCpu.cpuMs,
      machineCores: machineCores(machineBefore, machineAfter, wallMs),
      calls: { crud: stats.crud.routes, auth: stats.auth.routes },
    }
    ctx.log(
      `  job ${done.body.status} in ${round3(wallMs / 1000)} s: completed ${summary?.completed ?? 0}, failed ${summary?.failed ?? 0}; ` +
        `emulator answered ${outcomes['200'] ?? 0} × 200 and ${outcomes['429'] ?? 0} × 429; first to last send ${round3(run.sendSpanMs / 1000)} s`,
    )
    return run
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

function commandsOf(run: ChangePasswordRun): string[] {
  return [
    `curl -sS -X POST -H 'content-type: application/json' -d '{"authUsersIds":[…${USERS} ids…]}' ${run.umsUrl}/jobs/change-password/bulk`,
    `curl -sS ${run.umsUrl}/jobs/change-password/bulk/<jobId>   # polled until status != pending`,
  ]
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const changed = await changePasswords(ctx, await isolatedStore('memory'))
  const { burst, outcomes, wallMs } = changed
  const tooMany = outcomes['429'] ?? 0
  const accepted = outcomes['200'] ?? 0
  const sendSpanS = changed.sendSpanMs / 1000
  const summary = changed.job.summary
  const seconds = round3(wallMs / 1000)
  const barS = BAR_FACTOR * IDEAL_S
  const rows: BarRow[] = [
    {
      check: `${count(USERS)} emails at ${RATE}/s`,
      baseline: ORIGINAL,
      measured: `${count(summary?.completed ?? 0)} completed in ${seconds} s, ${tooMany} × 429`,
      value: seconds,
      bar: `all, ≤ ${round2(barS)} s`,
      pass: changed.allCompleted && wallMs <= barS * 1000,
    },
  ]
  const notes = [
    `emulator token bucket: burst ${burst}, ${RATE}/s on the authentication API (BENCH_CP_BURST); it answered ${accepted} × 200 and ${tooMany} × 429` +
      `${Object.keys(outcomes).some((key) => key !== '200' && key !== '429') ? ` (all answers ${JSON.stringify(outcomes)})` : ''}`,
    `wall time ${seconds} s = ${round3(wallMs / 1000 / IDEAL_S)} × the ${IDEAL_S} s of ${count(USERS)} at ${RATE}/s; first to last change-password request ${round3(sendSpanS)} s; ` +
      `${changed.polls} polls every 50 ms; ${ORIGINAL}`,
  ]
  return {
    rows,
    commands: commandsOf(changed),
    notes,
    details: {
      users: USERS,
      original: ORIGINAL,
      env: changed.env,
      emulator: changePasswordPeers(burst),
      wallMs: Math.round(wallMs),
      idealMs: IDEAL_S * 1000,
      barMs: barS * 1000,
      polls: changed.polls,
      job: { status: changed.job.status, summary, failures: (changed.job.failures ?? []).slice(0, 10) },
      changePasswordAnswers: outcomes,
      tooManyRequests: tooMany,
      sendSpanMs: Math.round(changed.sendSpanMs),
      calls: changed.calls,
    },
  }
}

export const changePasswordScenario: Scenario = {
  name: 'change-password',
  description: 'POST /jobs/change-password/bulk of 1,000 users against a 50/s rate-limited Auth0 Client emulator',
  run,
}

export const changePasswordStoresScenario: Scenario = {
  name: 'change-password-stores',
  description: 'the change-password workload with jobs on PostgreSQL and on Redis: each time ≤ 1.10 × the in-memory time of the same run',
  run: (ctx) =>
    compareStores(ctx, {
      workload: `${count(USERS)} emails at ${RATE}/s`,
      // Paced at 50/s, a run moves by a few percent at most even on a busy machine.
      defaultRounds: 2,
      measure: async (store) => {
        const changed = await changePasswords(ctx, store)
        const summary = changed.job.summary
        return {
          wallMs: changed.wallMs,
          // Where a job store adds time shows as the difference of a phase.
          phasesMs: {
            '202': changed.acceptedMs,
            'POST → first email': changed.firstSendMs,
            'first → last email': changed.sendSpanMs,
            'last email → seen completed': changed.wallMs - changed.lastSendMs,
          },
          machineCores: changed.machineCores,
          ownCores: changed.ownCores,
          umsCpuMs: changed.umsCpuMs,
          ok: changed.allCompleted,
          outcome: `job ${changed.job.status}, ${summary?.completed ?? 0} completed, ${summary?.failed ?? '?'} failed, ${changed.outcomes['429'] ?? 0} × 429`,
          commands: commandsOf(changed),
          details: {
            env: changed.env,
            polls: changed.polls,
            job: { status: changed.job.status, summary, failures: (changed.job.failures ?? []).slice(0, 10) },
            changePasswordAnswers: changed.outcomes,
            sendSpanMs: Math.round(changed.sendSpanMs),
          },
        }
      },
    }),
}
