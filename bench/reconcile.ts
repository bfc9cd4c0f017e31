// Reconciliation at scale: 100,000 consistent users (a CRUD user of the `customer` group linked to
// an auth user with the same email and username) plus PER_KIND users of each inconsistency the job
// looks for, spread evenly among them → a dry-run `POST /jobs/reconcile`, polled until it ends.
// Bars: the findings by check equal what was seeded (every seeded inconsistency found, none
// extra), ums's peak resident set (sampled from outside, like the import scenario) and the wall
// time. With BENCH_RECONCILE_REPAIR=1, a run with `dryRun: false` then repairs all but the orphan
// auth users (not deleted unless asked), and a last dry run must find those orphans alone.
//
// Every user is seeded with old dates (`updatedAt`, `created_at` a month back) so none counts as
// changed in the last minutes, which the job leaves alone. The Auth0 Client emulator runs in a
// peers child of its own, as in `activation`: each auth page and each id lookup walks its users, and
// in the CRUD emulator's process that work would hold up the CRUD answers too.
//
// The wall time is the CRUD emulator's: it answers every query by testing each of its 100,500
// documents with mingo (only `_id` lookups are indexed), about 0.2 s for a page of users and 0.5 s
// for the `authUserId` `$in` of each auth page when idle, while ums itself keeps a few percent of a
// core busy. That is also why ums runs with its default UPSTREAM_TIMEOUT_MS (10 s) instead of the
// sandbox's 2 s: on a busy 2-core machine one of those scans can take longer than 2 s, and a failed
// read ends the job. Each full run takes about 11 minutes, so the repair runs are opt-in.
import { CHECKS, type Check } from '../src/services/reconcile/checks.js'
import type { SeedUserInput } from '../src/sandbox/auth0-emulator.js'
import { USERS_ENDPOINT } from '../src/sandbox/fixtures.js'
import { startChild, type ServerChild } from './children.js'
import { callJson, count, cpuDelta, cpuOf, MB, round1, round2, RssSampler, sleep, type CpuDelta, type RssReport } from './common.js'
import { startPeers, type Peers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { PeerStats, SeedArg, SeedAuthArg } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'

const USERS = 100_000
const PER_KIND = 100
/** Users per seeding call: keeps each IPC message to a few MB. */
const CHUNK = 10_000
const RSS_BAR_MB = 300
const TIME_BAR_S = 900
const POLL_MS = 500
/** Past the time bar, so a slow run is measured (and fails its bar) rather than abandoned. */
const JOB_TIMEOUT_MS = 1_500_000
/** ums's own default; the sandbox wiring's 2 s is shorter than a CRUD emulator scan on a busy machine. */
const UPSTREAM_TIMEOUT_MS = '10000'
const DAY_MS = 24 * 60 * 60 * 1000
const ALL_STATES = 'PUBLIC,DRAFT,TRASH,DELETED'

interface ReconcileJob {
  jobId: string
  status: 'pending' | 'completed' | 'failed' | 'interrupted'
  progress?: { done: number; total: number }
  dryRun?: boolean
  summary?: { usersChecked: number; authUsersChecked: number; found: Record<Check, number>; repaired: number; repairFailed: number }
  findings?: Array<{ check: Check; crudId?: string; authUserId?: string; fields?: string[]; action: string }>
  findingsTruncated?: boolean
}

/** One seeded user: its auth user, its CRUD user, or both. */
interface Seeded {
  auth?: SeedUserInput
  crud?: Record<string, unknown>
}

/** The dates every user is seeded with, relative to the run. */
interface Dates {
  old: string
  expired: string
  future: string
}

/** A 24-hex-digit id as Auth0 gives them, unique per serial. */
const authIdOf = (serial: number) => `auth0|${serial.toString(16).padStart(24, '0')}`

function consistent(serial: number, dates: Dates): Required<Seeded> {
  const name = `rec${String(serial).padStart(7, '0')}`
  const email = `${name}@example.com`
  const authUserId = authIdOf(serial)
  return {
    auth: { user_id: authUserId, email, username: name, created_at: dates.old },
    crud: { userGroup: 'customer', name: 'Name', surname: 'Surname', email, username: name, authUserId, createdAt: dates.old, updatedAt: dates.old },
  }
}

/** How each inconsistency is made from a consistent user: one finding of its check, nothing else. */
const INCONSISTENT: Record<Check, (user: Required<Seeded>, dates: Dates) => Seeded> = {
  // The auth user can still log in although the CRUD user is blocked.
  'access-not-removed': ({ auth, crud }) => ({ auth, crud: { ...crud, blocked: true } }),
  // The CRUD has a new email the auth user never got.
  'profile-mismatch': ({ auth, crud }) => ({ auth, crud: { ...crud, email: `new.${String(crud.email)}` } }),
  // Linked to an auth user that does not exist.
  'auth-user-missing': ({ crud }) => ({ crud }),
  // An auth user no CRUD user points to.
  'orphan-auth-user': ({ auth }) => ({ auth }),
  // Expired a week ago and still not blocked.
  'expired-not-blocked': ({ auth, crud }, dates) => ({ auth, crud: { ...crud, expirationDate: dates.expired } }),
  // Expiring ahead, no timer recorded (`expirationId`).
  'expiry-timer-missing': ({ auth, crud }, dates) => ({ auth, crud: { ...crud, expirationDate: dates.future } }),
  // A role in the CRUD that Rönd never bound.
  'roles-mismatch': ({ auth, crud }) => ({ auth, crud: { ...crud, roles: ['customer-basic'] } }),
  // Groups in the CRUD that the auth user's app_metadata never got.
  'groups-mismatch': ({ auth, crud }) => ({ auth, crud: { ...crud, groups: ['customers'] } }),
}

const INCONSISTENT_TOTAL = PER_KIND * CHECKS.length
/** One inconsistent user after every SPACING consistent ones, so they fall on many pages. */
const SPACING = Math.floor(USERS / INCONSISTENT_TOTAL)
const SEEDED: Record<Check, number> = Object.fromEntries(CHECKS.map((check) => [check, PER_KIND])) as Record<Check, number>

/** The seeded users in insertion order, CHUNK consistent ones (and the inconsistent among them) at a time. */
function* population(dates: Dates): Generator<Seeded[]> {
  let inconsistent = 0
  let chunk: Seeded[] = []
  for (let index = 0; index < USERS; index += 1) {
    chunk.push(consistent(index + 1, dates))
    if ((index + 1) % SPACING === 0 && inconsistent < INCONSISTENT_TOTAL) {
      const check = CHECKS[inconsistent % CHECKS.length]!
      chunk.push(INCONSISTENT[check](consistent(USERS + 1 + inconsistent, dates), dates))
      inconsistent += 1
    }
    if (chunk.length >= CHUNK) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

/** Seeds both emulators chunk by chunk, in parallel; answers how many users each holds. */
async function seed(peers: Peers, dates: Dates): Promise<{ crud: number; auth: number }> {
  let crud = 0
  let auth = 0
  for (const chunk of population(dates)) {
    const docs = chunk.flatMap((user) => (user.crud ? [user.crud] : []))
    const users = chunk.flatMap((user) => (user.auth ? [user.auth] : []))
    const [crudDone, authDone] = await Promise.all([
      peers.main.call<number>('seed', { path: USERS_ENDPOINT, docs } satisfies SeedArg, 60_000),
      peers.auth.call<number>('seedAuth', { users } satisfies SeedAuthArg, 60_000),
    ])
    crud += crudDone
    auth += authDone
  }
  return { crud, auth }
}

interface ReconcileRun {
  label: string
  body: { dryRun: boolean }
  wallMs: number
  /** From the POST until the job's progress passed the CRUD users (± one poll). */
  usersPhaseMs: number | undefined
  job: ReconcileJob
  umsCpu: CpuDelta
  crudCpu: CpuDelta
  authCpu: CpuDelta
  umsRss: RssReport & { peakMB: number; startMB: number }
  calls: { crud: PeerStats['routes']; auth: PeerStats['routes'] }
}

async function reconcile(ctx: BenchContext, label: string, ums: ServerChild<UmsInfo>, peers: Peers, body: { dryRun: boolean }, crudUsers: number): Promise<ReconcileRun> {
  await peers.resetStats()
  const rss = new RssSampler(ums)
  await rss.begin()
  const [umsBefore, crudBefore, authBefore] = await cpuOf([ums, ...peers.children])
  const started = performance.now()
  const created = await callJson<ReconcileJob>('POST', `${ums.info.url}/jobs/reconcile`, { json: body })
  if (created.status !== 202) throw new Error(`POST /jobs/reconcile answered ${created.status}: ${created.text.slice(0, 300)}`)
  const url = `${ums.info.url}/jobs/reconcile/${created.body.jobId}`
  let usersPhaseMs: number | undefined
  let lastLog = started
  let job: ReconcileJob
  for (;;) {
    const answer = await callJson<ReconcileJob>('GET', url, { timeoutMs: 10_000 })
    if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${answer.text.slice(0, 300)}`)
    job = answer.body
    const now = performance.now()
    if (job.status !== 'pending') break
    const done = job.progress?.done ?? 0
    if (usersPhaseMs === undefined && done >= crudUsers) usersPhaseMs = now - started
    if (now - lastLog >= 30_000) {
      ctx.log(`  ${label}: ${count(done)} of ~${count(job.progress?.total ?? 0)} users and auth users checked after ${Math.round((now - started) / 1000)} s`)
      lastLog = now
    }
    if (now - started > JOB_TIMEOUT_MS) throw new Error(`${label}: job still pending after ${JOB_TIMEOUT_MS / 1000} s: ${answer.text.slice(0, 300)}`)
    await sleep(POLL_MS)
  }
  const wallMs = performance.now() - started
  const [umsAfter, crudAfter, authAfter] = await cpuOf([ums, ...peers.children])
  const memory = await rss.end()
  const stats = await peers.stats()
  const run: ReconcileRun = {
    label,
    body,
    wallMs,
    usersPhaseMs,
    job,
    umsCpu: cpuDelta(umsBefore!, umsAfter!, wallMs),
    crudCpu: cpuDelta(crudBefore!, crudAfter!, wallMs),
    authCpu: cpuDelta(authBefore!, authAfter!, wallMs),
    umsRss: { ...memory, peakMB: round2(memory.peakBytes / MB), startMB: round2(memory.startBytes / MB) },
    calls: { crud: stats.crud.routes, auth: stats.auth.routes },
  }
  const summary = job.summary
  ctx.log(
    `  ${label}: job ${job.status} in ${round1(wallMs / 1000)} s (users phase ${usersPhaseMs === undefined ? '?' : round1(usersPhaseMs / 1000)} s); ` +
      `checked ${count(summary?.usersChecked ?? 0)} users, ${count(summary?.authUsersChecked ?? 0)} auth users; found ${JSON.stringify(summary?.found ?? {})}, ` +
      `repaired ${summary?.repaired ?? 0}, failed ${summary?.repairFailed ?? 0}; ums ${run.umsCpu.cores} core, CRUD emulator ${run.crudCpu.cores}, ` +
      `Auth0 emulator ${run.authCpu.cores}; ums RSS ${run.umsRss.startMB} → peak ${run.umsRss.peakMB} MB`,
  )
  return run
}

/** The checks whose count differs from `expected`, as `check found/expected`. */
function mismatches(found: Record<Check, number> | undefined, expected: Record<Check, number>): string[] {
  return CHECKS.filter((check) => found?.[check] !== expected[check]).map((check) => `${check} ${found?.[check] ?? '?'}/${expected[check]}`)
}

/** CPU time per call answered, ms. */
function perCall(cpu: CpuDelta, routes: PeerStats['routes']): number {
  const calls = Object.values(routes).reduce((sum, route) => sum + Object.values(route.outcomes).reduce((total, n) => total + n, 0), 0)
  return calls === 0 ? 0 : round1(cpu.cpuMs / calls)
}

/** `route n` per route, statuses other than 2xx in brackets. */
function callsText(routes: PeerStats['routes']): string {
  return Object.entries(routes)
    .map(([route, stats]) => {
      const total = Object.values(stats.outcomes).reduce((sum, n) => sum + n, 0)
      const others = Object.entries(stats.outcomes).filter(([outcome]) => !outcome.startsWith('2'))
      return `${route} ${count(total)}${others.length > 0 ? ` (${others.map(([outcome, n]) => `${n} × ${outcome}`).join(', ')})` : ''}`
    })
    .join(', ')
}

function runDetails(run: ReconcileRun) {
  const { findings, ...job } = run.job
  return {
    body: run.body,
    wallMs: Math.round(run.wallMs),
    usersPhaseMs: run.usersPhaseMs === undefined ? undefined : Math.round(run.usersPhaseMs),
    job: { ...job, findingsListed: findings?.length ?? 0, actions: tally((findings ?? []).map((finding) => `${finding.check} ${finding.action}`)) },
    umsCpu: run.umsCpu,
    crudEmulatorCpu: run.crudCpu,
    authEmulatorCpu: run.authCpu,
    umsRss: run.umsRss,
    calls: run.calls,
  }
}

/** BENCH_RECONCILE_REPAIR=1: also the repair run and the dry run after it (about 22 minutes more). */
function repairFromEnv(): boolean {
  const raw = process.env.BENCH_RECONCILE_REPAIR ?? ''
  if (raw === '' || raw === '0') return false
  if (raw === '1') return true
  throw new Error(`BENCH_RECONCILE_REPAIR must be 0 or 1, got ${raw}`)
}

function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1
  return counts
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const withRepair = repairFromEnv()
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, { authApart: true }, children)
    const ums = await startChild<UmsInfo>({
      name: 'ums',
      entry: 'ums.ts',
      options: { peers: peers.info, env: { UPSTREAM_TIMEOUT_MS } } satisfies UmsOptions,
      cpuProfileDir: ctx.cpuProfileDir('ums'),
    })
    children.push(ums)

    const nowMs = Date.now()
    const dates: Dates = {
      old: new Date(nowMs - 30 * DAY_MS).toISOString(),
      expired: new Date(nowMs - 7 * DAY_MS).toISOString(),
      future: new Date(nowMs + 365 * DAY_MS).toISOString(),
    }
    const seedStarted = performance.now()
    const seeded = await seed(peers, dates)
    const seedMs = performance.now() - seedStarted
    const stored = await callJson<number>('GET', `${peers.info.crud}${USERS_ENDPOINT}/count?_st=${ALL_STATES}`)
    if (stored.body !== seeded.crud) throw new Error(`the CRUD emulator holds ${stored.text} users, ${seeded.crud} seeded`)
    ctx.log(
      `${count(seeded.crud)} CRUD users and ${count(seeded.auth)} auth users seeded in ${round1(seedMs / 1000)} s ` +
        `(${count(USERS)} consistent, ${PER_KIND} of each of ${CHECKS.length} inconsistencies); dry run`,
    )

    const dry = await reconcile(ctx, 'dry run', ums, peers, { dryRun: true }, seeded.crud)
    const repair = withRepair ? await reconcile(ctx, 'repair', ums, peers, { dryRun: false }, seeded.crud) : undefined
    const recheck = withRepair ? await reconcile(ctx, 'dry run after the repair', ums, peers, { dryRun: true }, seeded.crud) : undefined

    const checkedAll = (job: ReconcileJob) => job.summary?.usersChecked === seeded.crud && job.summary.authUsersChecked === seeded.auth
    const dryWrong = mismatches(dry.job.summary?.found, SEEDED)
    const dryOk = dry.job.status === 'completed' && dryWrong.length === 0 && checkedAll(dry.job) && dry.job.summary?.repaired === 0
    const foundTotal = Object.values(dry.job.summary?.found ?? {}).reduce((sum, n) => sum + n, 0)
    const seconds = round1(dry.wallMs / 1000)
    const rows: BarRow[] = [
      {
        check: `dry run over ${count(USERS)} users: findings`,
        baseline: '',
        measured: dryOk
          ? `${foundTotal} found, ${PER_KIND} of each of ${CHECKS.length} checks`
          : `job ${dry.job.status}; ${dryWrong.join(', ') || 'users or auth users checked differ from those seeded'}`,
        value: foundTotal,
        bar: `= seeded (${INCONSISTENT_TOTAL})`,
        pass: dryOk,
      },
      {
        check: 'dry run: time',
        baseline: '',
        measured: `${seconds} s (users ${dry.usersPhaseMs === undefined ? '?' : round1(dry.usersPhaseMs / 1000)} s, then auth users)`,
        value: seconds,
        bar: `≤ ${TIME_BAR_S} s`,
        pass: dry.job.status === 'completed' && dry.wallMs <= TIME_BAR_S * 1000,
      },
      {
        check: 'dry run: ums peak RSS',
        baseline: '',
        measured: `${dry.umsRss.peakMB} MB (${dry.umsRss.startMB} MB before)`,
        value: dry.umsRss.peakMB,
        bar: `< ${RSS_BAR_MB} MB`,
        pass: dry.umsRss.peakMB < RSS_BAR_MB,
      },
    ]
    const expectedRepaired = INCONSISTENT_TOTAL - PER_KIND
    const onlyOrphans = Object.fromEntries(CHECKS.map((check) => [check, check === 'orphan-auth-user' ? PER_KIND : 0])) as Record<Check, number>
    if (repair && recheck) {
      const repairWrong = mismatches(repair.job.summary?.found, SEEDED)
      const repairOk =
        repair.job.status === 'completed' && repairWrong.length === 0 && repair.job.summary?.repaired === expectedRepaired && repair.job.summary.repairFailed === 0
      const recheckWrong = mismatches(recheck.job.summary?.found, onlyOrphans)
      const recheckOk = recheck.job.status === 'completed' && recheckWrong.length === 0 && checkedAll(recheck.job)
      rows.push({
        check: 'repair, then dry run again',
        baseline: '',
        measured:
          `job ${repair.job.status}, repaired ${repair.job.summary?.repaired ?? '?'}, failed ${repair.job.summary?.repairFailed ?? '?'}` +
          (repairWrong.length > 0 ? ` (${repairWrong.join(', ')})` : '') +
          `; then ${recheckOk ? `the ${PER_KIND} orphans alone` : `job ${recheck.job.status}, ${recheckWrong.join(', ') || 'users or auth users checked differ'}`}`,
        value: repair.job.summary?.repaired ?? 0,
        bar: `= ${expectedRepaired}, then orphans alone`,
        pass: repairOk && recheckOk,
      })
    }

    const runs = [dry, ...(repair ? [repair] : []), ...(recheck ? [recheck] : [])]
    const notes = [
      `${count(seeded.crud)} CRUD users, ${count(seeded.auth)} auth users (${count(USERS)} consistent; ${PER_KIND} each of ${CHECKS.join(', ')}), ` +
        `seeded in ${round1(seedMs / 1000)} s, dated a month back; ums at UPSTREAM_TIMEOUT_MS=${UPSTREAM_TIMEOUT_MS}; the Auth0 Client emulator in a peers child of its own`,
      ...runs.map(
        (run) =>
          `${run.label}: ${round1(run.wallMs / 1000)} s; busy cores ums ${run.umsCpu.cores} (${count(run.umsCpu.cpuMs)} ms CPU), ` +
          `CRUD emulator ${run.crudCpu.cores} (${count(run.crudCpu.cpuMs)} ms, ${perCall(run.crudCpu, run.calls.crud)} ms a call), ` +
          `Auth0 emulator ${run.authCpu.cores} (${count(run.authCpu.cpuMs)} ms, ${perCall(run.authCpu, run.calls.auth)} ms a call); ums peak RSS ${run.umsRss.peakMB} MB`,
      ),
      ...runs.map((run) => `calls in the ${run.label}: CRUD ${callsText(run.calls.crud)}; Auth0 ${callsText(run.calls.auth)}`),
      `peak RSS is ums's child process (${dry.umsRss.method})` +
        (withRepair ? '; the repair run deletes no orphan auth user (deleteOrphanAuthUsers false)' : '; BENCH_RECONCILE_REPAIR=1 adds the repair run and a dry run after it'),
    ]
    return {
      rows,
      commands: [
        `curl -sS -X POST -H 'content-type: application/json' --data '{"dryRun":true}' ${ums.info.url}/jobs/reconcile`,
        `curl -sS ${ums.info.url}/jobs/reconcile/<jobId>   # polled every ${POLL_MS} ms until status != pending`,
        ...(withRepair ? [`curl -sS -X POST -H 'content-type: application/json' --data '{"dryRun":false}' ${ums.info.url}/jobs/reconcile   # then a dry run again`] : []),
      ],
      notes,
      details: {
        users: USERS,
        perKind: PER_KIND,
        seeded: { ...seeded, seedMs: Math.round(seedMs), dates, spacing: SPACING },
        umsEnv: { UPSTREAM_TIMEOUT_MS },
        expected: { dryRun: SEEDED, ...(withRepair && { repaired: expectedRepaired, afterRepair: onlyOrphans }) },
        runs: Object.fromEntries(runs.map((run) => [run.label, runDetails(run)])),
      },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const reconcileScenario: Scenario = {
  name: 'reconcile',
  description: `POST /jobs/reconcile over ${count(USERS)} users with ${PER_KIND} of each inconsistency: all found and nothing else, time and ums peak RSS (BENCH_RECONCILE_REPAIR=1: then repaired)`,
  run,
}
