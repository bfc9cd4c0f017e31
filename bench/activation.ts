// The bulk-activation bar: 10,000 CRUD-only users (no authUserId) → `POST /jobs/bulk-activation`
// → the job polled until it ends. Bar: every user activated (authUserId set in the CRUD, naming an
// auth user with the same email in the Auth0 Client emulator) and every Auth0 import file at most
// 500 KB (the files' sizes come from the emulator's request log). ums polls its import jobs every
// AUTH0_JOB_POLLING_INTERVAL=200 ms; the emulator finishes them on its automatic timing.
//
// The Auth0 Client emulator runs in a peers child of its own: processing an import job is
// synchronous there (about 0.1 s per 3,500-user file; a second when its user store scanned for
// every email and username), and in the CRUD emulator's process it would stall ums's CRUD calls too.
//
// `activation` runs the workload once with ums's jobs in memory; `activation-stores` runs the same
// workload (`activate`) in memory, on PostgreSQL and on Redis, alternately (bench/store-comparison.ts).
import { IMPORT_FILE_MAX_BYTES, MAX_ACTIVE_IMPORT_JOBS } from '../src/auth-providers/auth0-contract.js'
import { USERS_ENDPOINT } from '../src/sandbox/fixtures.js'
import { startChild } from './children.js'
import { callJson, cpuDelta, cpuOf, count, machineBusyMs, machineCores, round2, round3, routeTimeline, waitForJob, type CpuDelta } from './common.js'
import { benchUsers } from './data.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { AuthUserBrief, CrudUserBrief, PeerStats, PeersOptions, SeedArg, StatsAnswer } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'
import { compareStores } from './store-comparison.js'
import { isolatedStore, STORE_LABELS, type IsolatedStore } from './stores.js'

const USERS = 10_000
const POLLING_INTERVAL_MS = '200'
const JOB_TIMEOUT_MS = 180_000
const ORIGINAL = 'original: 200 users per request'

interface ActivationJob {
  jobId: string
  status: 'pending' | 'completed' | 'failed'
  summary?: { failed: number; updated: number; inserted: number; total: number; skipped: number }
  failures?: Array<{ userId: string; errors: Array<{ code: string; message: string }> }>
  progress?: { done: number; total: number }
}

interface ActivationCheck {
  users: number
  withAuthUserId: number
  /** Users whose authUserId names an auth user with the same email. */
  presentInAuth: number
  authUsers: number
}

async function activationCheck(crudUsers: Promise<CrudUserBrief[]>, authUsers: Promise<AuthUserBrief[]>): Promise<ActivationCheck> {
  const [users, auth] = await Promise.all([crudUsers, authUsers])
  const emails = new Map(auth.map((user) => [user.user_id, user.email]))
  const linked = users.filter((user) => user.authUserId !== undefined && user.authUserId !== '')
  const present = linked.filter((user) => user.email !== undefined && emails.get(user.authUserId!) === user.email.toLowerCase())
  return { users: users.length, withAuthUserId: linked.length, presentInAuth: present.length, authUsers: auth.length }
}

/** One activation run: its own emulators and ums (on `store`), stopped before it returns. */
interface ActivationRun {
  env: Record<string, string>
  umsUrl: string
  /** Date.now() when the POST was sent: the emulators' request times are epoch ms. */
  postedAtEpochMs: number
  wallMs: number
  acceptedMs: number
  polls: number
  job: ActivationJob
  check: ActivationCheck
  files: StatsAnswer['auth']['importFiles']
  fileEntries: number
  largestFile: number
  filesOk: boolean
  /** The job completed with every user inserted and each one linked to its auth user. */
  allActivated: boolean
  umsCpu: CpuDelta
  crudCpu: CpuDelta
  authCpu: CpuDelta
  /** Cores the whole machine kept busy during the job (ums, the emulators, the store and anything else). */
  machineCores: number | undefined
  calls: { crud: PeerStats['routes']; auth: PeerStats['routes'] }
}

const PEERS_OPTIONS: PeersOptions = { auth0: { importTiming: { mode: 'automatic' } } }

async function activate(ctx: BenchContext, store: IsolatedStore): Promise<ActivationRun> {
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, { ...PEERS_OPTIONS, authApart: true }, children)
    const env = { AUTH0_JOB_POLLING_INTERVAL: POLLING_INTERVAL_MS, ...store.env }
    const ums = await startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info, env } satisfies UmsOptions, cpuProfileDir: ctx.cpuProfileDir('ums') })
    children.push(ums)

    const ids = await peers.main.call<string[]>('seedIds', { path: USERS_ENDPOINT, docs: benchUsers(USERS, 'act', { withAuthUserId: false }) } satisfies SeedArg, 60_000)
    await peers.resetStats()
    const body = ids.map((userId) => ({ filter: { userId } }))
    ctx.log(`${count(USERS)} CRUD-only users seeded; POST /jobs/bulk-activation (polling every ${POLLING_INTERVAL_MS} ms; jobs ${STORE_LABELS[store.kind]})`)

    const [umsBefore, crudBefore, authBefore] = await cpuOf([ums, ...peers.children])
    const machineBefore = machineBusyMs()
    const postedAtEpochMs = Date.now()
    const started = performance.now()
    const created = await callJson<ActivationJob>('POST', `${ums.info.url}/jobs/bulk-activation`, { json: body, timeoutMs: 60_000 })
    if (created.status !== 202) throw new Error(`POST /jobs/bulk-activation answered ${created.status}: ${created.text.slice(0, 300)}`)
    const acceptedMs = performance.now() - started
    const done = await waitForJob<ActivationJob>(`${ums.info.url}/jobs/bulk-activation/${created.body.jobId}`, JOB_TIMEOUT_MS, 50)
    const wallMs = done.doneAt - started
    const machineAfter = machineBusyMs()
    const [umsAfter, crudAfter, authAfter] = await cpuOf([ums, ...peers.children])

    const check = await activationCheck(peers.main.call<CrudUserBrief[]>('crudUsers', undefined, 60_000), peers.auth.call<AuthUserBrief[]>('authUsers', undefined, 60_000))
    const stats = await peers.stats()
    const files = stats.auth.importFiles
    const job = done.body
    const run: ActivationRun = {
      env,
      umsUrl: ums.info.url,
      postedAtEpochMs,
      wallMs,
      acceptedMs,
      polls: done.polls,
      job,
      check,
      files,
      fileEntries: files.reduce((sum, file) => sum + Math.max(0, file.users), 0),
      largestFile: Math.max(0, ...files.map((file) => file.bytes)),
      filesOk: files.length > 0 && files.every((file) => file.bytes > 0 && file.bytes <= IMPORT_FILE_MAX_BYTES),
      allActivated:
        job.status === 'completed' && job.summary?.inserted === USERS && job.summary.failed === 0 && check.withAuthUserId === USERS && check.presentInAuth === USERS,
      umsCpu: cpuDelta(umsBefore!, umsAfter!, wallMs),
      crudCpu: cpuDelta(crudBefore!, crudAfter!, wallMs),
      authCpu: cpuDelta(authBefore!, authAfter!, wallMs),
      machineCores: machineCores(machineBefore, machineAfter, wallMs),
      calls: { crud: stats.crud.routes, auth: stats.auth.routes },
    }
    ctx.log(
      `  job ${job.status} in ${round3(wallMs / 1000)} s: inserted ${job.summary?.inserted ?? 0}, failed ${job.summary?.failed ?? 0}; ` +
        `${check.presentInAuth}/${USERS} linked to an auth user; ${files.length} import files, largest ${count(run.largestFile)} B; ` +
        `ums CPU ${run.umsCpu.cores} core, CRUD emulator ${run.crudCpu.cores} core, Auth0 emulator ${run.authCpu.cores} core`,
    )
    return run
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

/**
 * The run's wall time cut at what the emulators saw (their request times, epoch ms like the POST's):
 * where a job store adds time shows as the difference of a phase.
 */
function activationPhases(activation: ActivationRun): Record<string, number> {
  const since = (atMs: number | undefined) => (atMs === undefined ? Number.NaN : atMs - activation.postedAtEpochMs)
  const readStart = since(activation.calls.crud['GET /users/']?.firstAtMs)
  const readEnd = since(activation.calls.crud['GET /users/']?.lastAtMs)
  const firstImport = since(activation.calls.auth['POST /users/import']?.firstAtMs)
  return {
    '202': activation.acceptedMs,
    'POST → first user read': readStart,
    'users read': readEnd - readStart,
    'last read → first import': firstImport - readEnd,
    'first import → seen completed': activation.wallMs - firstImport,
  }
}

function jobDetails(job: ActivationJob) {
  return { status: job.status, summary: job.summary, failures: (job.failures ?? []).slice(0, 10), failureCount: job.failures?.length ?? 0 }
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const activation = await activate(ctx, await isolatedStore('memory'))
  const { job, check, files, fileEntries, largestFile, wallMs, umsCpu, crudCpu, authCpu } = activation
  const summary = job.summary
  const seconds = round3(wallMs / 1000)
  const rows: BarRow[] = [
    {
      check: `${count(USERS)} users activated`,
      baseline: ORIGINAL,
      measured: `${count(check.presentInAuth)} linked in ${seconds} s (job ${job.status}, ${summary?.failed ?? '?'} failed)`,
      value: check.presentInAuth,
      bar: `= ${count(USERS)}`,
      pass: activation.allActivated,
    },
    {
      check: 'import files ≤ 500 KB',
      baseline: '',
      measured: `${files.length} files, largest ${count(largestFile)} B`,
      value: largestFile / 1024,
      bar: `each ≤ ${IMPORT_FILE_MAX_BYTES / 1024} KB`,
      pass: activation.filesOk,
    },
  ]
  const importRoute = activation.calls.auth['POST /users/import']
  const notes = [
    `wall time ${seconds} s from POST to the job seen completed (202 after ${Math.round(activation.acceptedMs)} ms; ${activation.polls} polls every 50 ms); ` +
      `${files.length} Auth0 import jobs (at most ${MAX_ACTIVE_IMPORT_JOBS} at once), polled every ${POLLING_INTERVAL_MS} ms; emulator import timing automatic (pending 20 ms, processing 50 ms)`,
    `busy cores during the job: ums ${umsCpu.cores} (${count(umsCpu.cpuMs)} ms CPU), CRUD emulator ${crudCpu.cores} (${count(crudCpu.cpuMs)} ms), ` +
      `Auth0 emulator ${authCpu.cores} (${count(authCpu.cpuMs)} ms)`,
    `import files carried ${count(fileEntries)} entries for ${count(USERS)} users` +
      (fileEntries > USERS ? ' — some users were sent twice (a file re-sent after a start that got no answer in time)' : '') +
      `; import answers ${JSON.stringify(importRoute?.outcomes ?? {})}; value of the first row = users linked to an auth user with their email`,
  ]
  return {
    rows,
    commands: commandsOf(activation),
    notes,
    details: {
      users: USERS,
      original: ORIGINAL,
      env: activation.env,
      emulator: PEERS_OPTIONS,
      wallMs: Math.round(wallMs),
      acceptedMs: Math.round(activation.acceptedMs),
      polls: activation.polls,
      job: jobDetails(job),
      check,
      importFiles: files,
      maxFileBytes: IMPORT_FILE_MAX_BYTES,
      importFileEntries: fileEntries,
      umsCpu,
      crudEmulatorCpu: crudCpu,
      authEmulatorCpu: authCpu,
      calls: activation.calls,
    },
  }
}

function commandsOf(activation: ActivationRun): string[] {
  return [
    `curl -sS -X POST -H 'content-type: application/json' --data @activation-body.json ${activation.umsUrl}/jobs/bulk-activation   # [{"filter":{"userId":<each _id>}}] x ${USERS}`,
    `curl -sS ${activation.umsUrl}/jobs/bulk-activation/<jobId>   # polled until status != pending`,
  ]
}

export const activationScenario: Scenario = {
  name: 'activation',
  description: 'POST /jobs/bulk-activation of 10,000 CRUD-only users: all activated, import files ≤ 500 KB',
  run,
}

export const activationStoresScenario: Scenario = {
  name: 'activation-stores',
  description: 'the activation workload with jobs on PostgreSQL and on Redis: each time ≤ 1.10 × the in-memory time of the same run',
  run: (ctx) =>
    compareStores(ctx, {
      workload: `${count(USERS)} users activated`,
      // A ~4 s job that keeps about a core busy in the emulators: another process on the machine
      // moves a run by ±20%, so the median needs more rounds than change-password's.
      defaultRounds: 5,
      measure: async (store) => {
        const activation = await activate(ctx, store)
        const { job, check, files } = activation
        return {
          wallMs: activation.wallMs,
          phasesMs: activationPhases(activation),
          machineCores: activation.machineCores,
          ownCores: round2(activation.umsCpu.cores + activation.crudCpu.cores + activation.authCpu.cores),
          umsCpuMs: activation.umsCpu.cpuMs,
          ok: activation.allActivated && activation.filesOk,
          outcome: `job ${job.status}, ${job.summary?.inserted ?? 0} inserted, ${job.summary?.failed ?? '?'} failed, ${check.presentInAuth} linked, ${files.length} files, largest ${count(activation.largestFile)} B`,
          commands: commandsOf(activation),
          details: {
            env: activation.env,
            acceptedMs: Math.round(activation.acceptedMs),
            polls: activation.polls,
            job: jobDetails(job),
            check,
            importFiles: files,
            umsCpu: activation.umsCpu,
            crudEmulatorCpu: activation.crudCpu,
            authEmulatorCpu: activation.authCpu,
            callsSincePostMs: { crud: routeTimeline(activation.calls.crud, activation.postedAtEpochMs), auth: routeTimeline(activation.calls.auth, activation.postedAtEpochMs) },
          },
        }
      },
    }),
}
