// SPEC §9, bulk-activation bar: 10,000 CRUD-only users (no authUserId) → `POST /jobs/bulk-activation`
// → the job polled until it ends. Bar: every user activated (authUserId set in the CRUD, naming an
// auth user with the same email in the Auth0 Client emulator) and every Auth0 import file at most
// 500 KB (the files' sizes come from the emulator's request log). ums polls its import jobs every
// AUTH0_JOB_POLLING_INTERVAL=200 ms; the emulator finishes them on its automatic timing.
//
// The Auth0 Client emulator runs in a peers child of its own: processing an import job is
// synchronous there and grows with the users it already holds (about a second per 3,500-user file
// on a 10,000-user tenant), and in the CRUD emulator's process it would stall ums's CRUD calls too.
import { IMPORT_FILE_MAX_BYTES, MAX_ACTIVE_IMPORT_JOBS } from '../src/auth-providers/auth0-contract.js'
import { USERS_ENDPOINT } from '../src/sandbox/fixtures.js'
import { startChild } from './children.js'
import { callJson, cpuDelta, cpuOf, count, round3, waitForJob } from './common.js'
import { benchUsers } from './data.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { AuthUserBrief, CrudUserBrief, PeersOptions, SeedArg } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'

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

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peersOptions: PeersOptions = { auth0: { importTiming: { mode: 'automatic' } } }
    const peers = await startPeers(ctx, { ...peersOptions, authApart: true }, children)
    const env = { AUTH0_JOB_POLLING_INTERVAL: POLLING_INTERVAL_MS }
    const ums = await startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info, env } satisfies UmsOptions, cpuProfileDir: ctx.cpuProfileDir('ums') })
    children.push(ums)

    const ids = await peers.main.call<string[]>('seedIds', { path: USERS_ENDPOINT, docs: benchUsers(USERS, 'act', { withAuthUserId: false }) } satisfies SeedArg, 60_000)
    await peers.resetStats()
    const body = ids.map((userId) => ({ filter: { userId } }))
    ctx.log(`${count(USERS)} CRUD-only users seeded; POST /jobs/bulk-activation (polling every ${POLLING_INTERVAL_MS} ms)`)

    const [umsBefore, crudBefore, authBefore] = await cpuOf([ums, ...peers.children])
    const started = performance.now()
    const created = await callJson<ActivationJob>('POST', `${ums.info.url}/jobs/bulk-activation`, { json: body, timeoutMs: 60_000 })
    if (created.status !== 202) throw new Error(`POST /jobs/bulk-activation answered ${created.status}: ${created.text.slice(0, 300)}`)
    const acceptedMs = performance.now() - started
    const done = await waitForJob<ActivationJob>(`${ums.info.url}/jobs/bulk-activation/${created.body.jobId}`, JOB_TIMEOUT_MS, 50)
    const wallMs = done.doneAt - started
    const [umsAfter, crudAfter, authAfter] = await cpuOf([ums, ...peers.children])

    const check = await activationCheck(peers.main.call<CrudUserBrief[]>('crudUsers', undefined, 60_000), peers.auth.call<AuthUserBrief[]>('authUsers', undefined, 60_000))
    const stats = await peers.stats()
    const files = stats.auth.importFiles
    const fileEntries = files.reduce((sum, file) => sum + Math.max(0, file.users), 0)
    const largestFile = Math.max(0, ...files.map((file) => file.bytes))
    const filesOk = files.length > 0 && files.every((file) => file.bytes > 0 && file.bytes <= IMPORT_FILE_MAX_BYTES)
    const job = done.body
    const summary = job.summary
    const activated = job.status === 'completed' && summary?.inserted === USERS && summary.failed === 0
    const allLinked = check.withAuthUserId === USERS && check.presentInAuth === USERS
    const umsCpu = cpuDelta(umsBefore!, umsAfter!, wallMs)
    const crudCpu = cpuDelta(crudBefore!, crudAfter!, wallMs)
    const authCpu = cpuDelta(authBefore!, authAfter!, wallMs)
    const seconds = round3(wallMs / 1000)
    ctx.log(
      `  job ${job.status} in ${seconds} s: inserted ${summary?.inserted ?? 0}, failed ${summary?.failed ?? 0}; ` +
        `${check.presentInAuth}/${USERS} linked to an auth user; ${files.length} import files, largest ${count(largestFile)} B; ` +
        `ums CPU ${umsCpu.cores} core, CRUD emulator ${crudCpu.cores} core, Auth0 emulator ${authCpu.cores} core`,
    )

    const rows: BarRow[] = [
      {
        check: `${count(USERS)} users activated`,
        baseline: ORIGINAL,
        measured: `${count(check.presentInAuth)} linked in ${seconds} s (job ${job.status}, ${summary?.failed ?? '?'} failed)`,
        value: check.presentInAuth,
        bar: `= ${count(USERS)}`,
        pass: activated && allLinked,
      },
      {
        check: 'import files ≤ 500 KB',
        baseline: '',
        measured: `${files.length} files, largest ${count(largestFile)} B`,
        value: largestFile / 1024,
        bar: `each ≤ ${IMPORT_FILE_MAX_BYTES / 1024} KB`,
        pass: filesOk,
      },
    ]
    const importRoute = stats.auth.routes['POST /users/import']
    const notes = [
      `wall time ${seconds} s from POST to the job seen completed (202 after ${Math.round(acceptedMs)} ms; ${done.polls} polls every 50 ms); ` +
        `${files.length} Auth0 import jobs (at most ${MAX_ACTIVE_IMPORT_JOBS} at once), polled every ${POLLING_INTERVAL_MS} ms; emulator import timing automatic (pending 20 ms, processing 50 ms)`,
      `busy cores during the job: ums ${umsCpu.cores} (${count(umsCpu.cpuMs)} ms CPU), CRUD emulator ${crudCpu.cores} (${count(crudCpu.cpuMs)} ms), ` +
        `Auth0 emulator ${authCpu.cores} (${count(authCpu.cpuMs)} ms)`,
      `import files carried ${count(fileEntries)} entries for ${count(USERS)} users` +
        (fileEntries > USERS ? ' — some users were sent twice (a file re-sent after a start that got no answer in time)' : '') +
        `; import answers ${JSON.stringify(importRoute?.outcomes ?? {})}; value of the first row = users linked to an auth user with their email`,
    ]
    return {
      rows,
      commands: [
        `curl -sS -X POST -H 'content-type: application/json' --data @activation-body.json ${ums.info.url}/jobs/bulk-activation   # [{"filter":{"userId":<each _id>}}] x ${USERS}`,
        `curl -sS ${ums.info.url}/jobs/bulk-activation/<jobId>   # polled until status != pending`,
      ],
      notes,
      details: {
        users: USERS,
        original: ORIGINAL,
        env,
        emulator: peersOptions,
        wallMs: Math.round(wallMs),
        acceptedMs: Math.round(acceptedMs),
        polls: done.polls,
        job: { status: job.status, summary, failures: (job.failures ?? []).slice(0, 10), failureCount: job.failures?.length ?? 0 },
        check,
        importFiles: files,
        maxFileBytes: IMPORT_FILE_MAX_BYTES,
        importFileEntries: fileEntries,
        umsCpu,
        crudEmulatorCpu: crudCpu,
        authEmulatorCpu: authCpu,
        calls: { crud: stats.crud.routes, auth: stats.auth.routes },
      },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const activationScenario: Scenario = {
  name: 'activation',
  description: 'POST /jobs/bulk-activation of 10,000 CRUD-only users: all activated, import files ≤ 500 KB (SPEC §9)',
  run,
}
