// SPEC §9, change-password bar: 1,000 auth users (each with its CRUD user) → `POST
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
import { startChild } from './children.js'
import { callJson, count, round2, round3, waitForJob } from './common.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { PeersOptions, SeedAuthUsersArg } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'

const USERS = 1_000
const RATE = 50
const DEFAULT_BURST = 5
const BAR_FACTOR = 1.05
const IDEAL_S = USERS / RATE
const ROUTE = 'POST /change-password'
const ORIGINAL = 'original at 10/s on Auth0: 223/1000'

interface ChangePasswordJob {
  jobId: string
  status: 'pending' | 'completed' | 'failed'
  summary?: { failed: number; completed: number; total: number }
  completed?: Array<{ authUserId: string }>
  failures?: Array<{ authUserId: string; message: string }>
}

function burstFromEnv(): number {
  const raw = process.env.BENCH_CP_BURST
  const value = raw === undefined || raw === '' ? DEFAULT_BURST : Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_CP_BURST must be an integer ≥ 1, got ${raw}`)
  return value
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const burst = burstFromEnv()
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peersOptions: PeersOptions = { auth0: { rateLimits: { authApi: { burst, perSecond: RATE } } } }
    const peers = await startPeers(ctx, peersOptions, children)
    const env = { AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(RATE) }
    const ums = await startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info, env } satisfies UmsOptions, cpuProfileDir: ctx.cpuProfileDir('ums') })
    children.push(ums)

    const users = Array.from({ length: USERS }, (_, index) => {
      const n = String(index + 1).padStart(6, '0')
      return { email: `cp.user${n}@example.com`, username: `cp.user${n}`, name: `Name${n}`, surname: `Surname${n}` }
    })
    const ids = await peers.main.call<string[]>('seedAuthUsers', { users } satisfies SeedAuthUsersArg, 60_000)
    await peers.resetStats()
    ctx.log(`${count(USERS)} auth users seeded; emulator bucket ${burst} burst, ${RATE}/s; POST /jobs/change-password/bulk`)

    const started = performance.now()
    const created = await callJson<ChangePasswordJob>('POST', `${ums.info.url}/jobs/change-password/bulk`, { json: { authUsersIds: ids }, timeoutMs: 30_000 })
    if (created.status !== 202) throw new Error(`POST /jobs/change-password/bulk answered ${created.status}: ${created.text.slice(0, 300)}`)
    const done = await waitForJob<ChangePasswordJob>(`${ums.info.url}/jobs/change-password/bulk/${created.body.jobId}`, IDEAL_S * 4 * 1000, 50)
    const wallMs = done.doneAt - started
    const stats = await peers.stats()

    const route = stats.auth.routes[ROUTE]
    const outcomes = route?.outcomes ?? {}
    const tooMany = outcomes['429'] ?? 0
    const accepted = outcomes['200'] ?? 0
    const sendSpanS = route ? (route.lastAtMs - route.firstAtMs) / 1000 : 0
    const summary = done.body.summary
    const seconds = round3(wallMs / 1000)
    const barS = BAR_FACTOR * IDEAL_S
    const allCompleted = done.body.status === 'completed' && summary?.completed === USERS && summary.failed === 0
    ctx.log(
      `  job ${done.body.status} in ${seconds} s: completed ${summary?.completed ?? 0}, failed ${summary?.failed ?? 0}; ` +
        `emulator answered ${accepted} × 200 and ${tooMany} × 429; first to last send ${round3(sendSpanS)} s`,
    )

    const rows: BarRow[] = [
      {
        check: `${count(USERS)} emails at ${RATE}/s`,
        baseline: ORIGINAL,
        measured: `${count(summary?.completed ?? 0)} completed in ${seconds} s, ${tooMany} × 429`,
        value: seconds,
        bar: `all, ≤ ${round2(barS)} s`,
        pass: allCompleted && wallMs <= barS * 1000,
      },
    ]
    const notes = [
      `emulator token bucket: burst ${burst}, ${RATE}/s on the authentication API (BENCH_CP_BURST); it answered ${accepted} × 200 and ${tooMany} × 429` +
        `${Object.keys(outcomes).some((key) => key !== '200' && key !== '429') ? ` (all answers ${JSON.stringify(outcomes)})` : ''}`,
      `wall time ${seconds} s = ${round3(wallMs / 1000 / IDEAL_S)} × the ${IDEAL_S} s of ${count(USERS)} at ${RATE}/s; first to last change-password request ${round3(sendSpanS)} s; ` +
        `${done.polls} polls every 50 ms; ${ORIGINAL}`,
    ]
    return {
      rows,
      commands: [
        `curl -sS -X POST -H 'content-type: application/json' -d '{"authUsersIds":[…${USERS} ids…]}' ${ums.info.url}/jobs/change-password/bulk`,
        `curl -sS ${ums.info.url}/jobs/change-password/bulk/<jobId>   # polled until status != pending`,
      ],
      notes,
      details: {
        users: USERS,
        original: ORIGINAL,
        env,
        emulator: peersOptions,
        wallMs: Math.round(wallMs),
        idealMs: IDEAL_S * 1000,
        barMs: barS * 1000,
        polls: done.polls,
        job: { status: done.body.status, summary, failures: (done.body.failures ?? []).slice(0, 10) },
        changePasswordAnswers: outcomes,
        tooManyRequests: tooMany,
        sendSpanMs: Math.round(sendSpanS * 1000),
        calls: { crud: stats.crud.routes, auth: stats.auth.routes },
      },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const changePasswordScenario: Scenario = {
  name: 'change-password',
  description: 'POST /jobs/change-password/bulk of 1,000 users against a 50/s rate-limited Auth0 Client emulator (SPEC §9)',
  run,
}
