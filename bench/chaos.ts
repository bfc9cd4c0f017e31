// Chaos at scale, on PostgreSQL and on Redis: the workload of tests/jobs/chaos.test.ts (three ums
// replicas on one store, jobs of every kind sent to random replicas, random SIGKILLs and SIGTERMs
// with restarts) at ten times its activation and change-password jobs, with a kill every 5–15 s
// until every job has ended. Reconciliation dry runs stay at the test's rate (one per 20 s): each
// reads every user, and ten times as many over ten times the users would take hours.
// Reported per store: jobs completed per minute, the longest time no job of a kind made progress
// while one was pending (bar: the lock lifetime + 2 s, the time a crashed replica's job may wait to
// be taken over) and the emails sent twice (bar: the sends in flight at each SIGKILL). Every check
// of the test must hold too. BENCH_CHAOS_SEED replays a run (its seed is printed); BENCH_CHAOS_S
// sets how long jobs are submitted (60).
import { chaosSeed, runChaos, type ChaosReport } from '../tests/helpers/chaos.js'
import { round2 } from './common.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import { DURABLE_STORES, isolatedStore, STORE_LABELS, type StoreKind } from './stores.js'

const LOCK_LIFETIME_MS = 3_000
const STALL_BAR_MS = LOCK_LIFETIME_MS + 2_000
const RATE = 100
/** The chaos test submits a job every 4 s, a fifth of them dry runs; ten times as many of the others here. */
const JOBS_PER_SECOND = (10 * 4) / 5 / 4
const RECONCILES_PER_SECOND = 1 / 20

function durationMs(): number {
  const seconds = Number(process.env.BENCH_CHAOS_S ?? 60)
  if (!Number.isFinite(seconds) || seconds < 10) throw new Error(`BENCH_CHAOS_S must be a number of seconds ≥ 10, got ${process.env.BENCH_CHAOS_S}`)
  return seconds * 1000
}

function seed(): number {
  if (process.env.BENCH_CHAOS_SEED !== undefined) process.env.CHAOS_SEED = process.env.BENCH_CHAOS_SEED
  return chaosSeed()
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const duration = durationMs()
  const reports: Array<{ store: StoreKind; report: ChaosReport }> = []
  for (const kind of DURABLE_STORES) {
    const store = await isolatedStore(kind)
    try {
      const report = await runChaos({
        storeEnv: store.env,
        seed: seed(),
        replicas: 3,
        jobs: Math.round((duration / 1000) * (JOBS_PER_SECOND + RECONCILES_PER_SECOND)),
        reconciles: Math.round((duration / 1000) * RECONCILES_PER_SECOND),
        durationMs: duration,
        killUntilJobsEnd: true,
        killEveryMs: [5_000, 15_000],
        downForMs: [500, 2_500],
        activationUsers: [100, 500],
        changePasswordIds: [50, 200],
        lockLifetimeMs: LOCK_LIFETIME_MS,
        rate: RATE,
        drainTimeoutMs: 15 * 60_000,
        log: (line) => ctx.log(`${STORE_LABELS[kind]}: ${line}`),
      })
      reports.push({ store: kind, report })
    } finally {
      await store.cleanup()
    }
  }
  const rows: BarRow[] = reports.flatMap(({ store, report }) => {
    const label = STORE_LABELS[store]
    const completed = report.jobs.filter((job) => job.status === 'completed').length
    return [
      {
        check: `chaos, ${label}: jobs completed`,
        baseline: '',
        measured: `${completed}/${report.jobs.length} in ${round2(report.wallMs / 60_000)} min through ${report.kills.length} kills: ${round2(report.completedPerMinute)} jobs/min`,
        value: report.completedPerMinute,
        bar: 'all completed, no violation',
        pass: completed === report.jobs.length && report.violations.length === 0,
      },
      {
        check: `chaos, ${label}: longest stall of a job kind`,
        baseline: `lock lifetime ${LOCK_LIFETIME_MS / 1000} s`,
        measured: `${round2(report.longestStallMs / 1000)} s (${Object.entries(report.stallsMs).map(([kind, ms]) => `${kind} ${round2(ms / 1000)}`).join(', ')})`,
        value: report.longestStallMs / 1000,
        bar: `≤ ${STALL_BAR_MS / 1000} s`,
        pass: report.longestStallMs <= STALL_BAR_MS,
      },
      {
        check: `chaos, ${label}: emails sent twice`,
        baseline: `${report.kills.filter((kill) => kill.signal === 'SIGKILL').length} SIGKILLs`,
        measured: `${report.repeatedEmails} of ${report.emailsSent}`,
        value: report.repeatedEmails,
        bar: `≤ ${report.repeatedEmailsBound} (in flight at the SIGKILLs)`,
        pass: report.repeatedEmails <= report.repeatedEmailsBound,
      },
    ]
  })
  return {
    rows,
    commands: reports.map(({ report }) => `BENCH_CHAOS_SEED=${report.seed} BENCH_CHAOS_S=${duration / 1000} npm run bench -- chaos`),
    notes: [
      `three ums processes per store (JOBS_LOCK_LIFETIME_MS=${LOCK_LIFETIME_MS}, AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND=${RATE}), ` +
        `${Math.round((duration / 1000) * JOBS_PER_SECOND)} activations of 100–500 users and change-password jobs of 50–200 ids, and ${Math.round((duration / 1000) * RECONCILES_PER_SECOND)} reconciliation dry runs, ` +
        `sent to random replicas over ${duration / 1000} s, a SIGKILL or SIGTERM every 5–15 s until every job has ended (one replica always up), each back after 0.5–2.5 s; ` +
        `the Auth0 emulator takes 2 s per import, 2 at a time. A stall of a kind is the time no job of that kind progressed or ended while one was pending, from polls every 250 ms`,
      ...reports.flatMap(({ store, report }) => [
        `${STORE_LABELS[store]}: seed ${report.seed}; kills ${report.kills.map((kill) => `${kill.signal.slice(3)} ${kill.replica}@${round2(kill.atMs / 1000)}s`).join(', ')}`,
        ...report.violations.map((violation) => `${STORE_LABELS[store]} violation: ${violation}`),
      ]),
    ],
    details: reports.map(({ store, report }) => ({ store, ...report, plan: undefined })),
  }
}

export const chaosScenario: Scenario = {
  name: 'chaos',
  description: 'three replicas on one store under random SIGKILLs and SIGTERMs, on PostgreSQL and on Redis: every job completes, stalls within the lock lifetime + 2 s, emails repeated within the bound',
  run,
}
