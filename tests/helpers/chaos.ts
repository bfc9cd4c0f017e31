// The chaos workload: ums replicas (processes of the production entry) share one job store and
// the emulators, jobs of every kind are submitted to random replicas, and random replicas get a
// SIGKILL or a SIGTERM and are started again, on a schedule drawn from a seed. When every job has
// ended, the outcome is checked the way an operator would: jobs, links, Auth0 imports, emails,
// processes and a reconciliation dry run. Used by tests/jobs/chaos.test.ts and `npm run bench --
// chaos`; free of vitest.
import fc from 'fast-check'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { stackEnv, startEmulators, type Emulators } from '../../src/sandbox/stack.js'
import { maxInFlight } from '../../src/services/change-password-bulk/index.js'
import { seedAuthUsers, seedCrudOnlyUsers } from './job-users.js'
import { consecutiveFreePorts } from './processes.js'
import { call } from './stack.js'
import { errorLines, isRunning, spawnUms, waitUntilReady, type UmsProcess } from './ums-process.js'
import { sleep, waitForJob, waitUntil } from './wait.js'

export type ChaosJobKind = 'bulk-activation' | 'change-password' | 'reconcile'

/** Where each kind is started and read. */
const JOB_PATHS: Record<ChaosJobKind, { start: string; read: string }> = {
  'bulk-activation': { start: '/jobs/bulk-activation', read: '/jobs/bulk-activation' },
  'change-password': { start: '/jobs/change-password/bulk', read: '/jobs/change-password/bulk' },
  reconcile: { start: '/jobs/reconcile', read: '/jobs/reconcile' },
}

export interface ChaosOptions {
  /** The job store's variables (JOBS_STORE_URL, JOBS_COLLECTION_NAME). */
  storeEnv: Record<string, string>
  seed: number
  replicas: number
  /** Jobs submitted, spread over `durationMs`. */
  jobs: number
  /**
   * How many of them are reconciliation dry runs; default: a fifth, drawn like the other kinds.
   * Each dry run reads every user, so their cost grows with the users the other jobs create.
   */
  reconciles?: number
  /** How long jobs are submitted, and replicas killed and restarted. */
  durationMs: number
  /** Kills go on after `durationMs` until every job has ended (at most until the drain times out). */
  killUntilJobsEnd?: boolean
  /** Time between two kills. */
  killEveryMs: readonly [number, number]
  /** Time a killed replica stays down before it is started again. */
  downForMs: readonly [number, number]
  activationUsers: readonly [number, number]
  changePasswordIds: readonly [number, number]
  lockLifetimeMs: number
  /** AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND. */
  rate: number
  /** How long the jobs may take to end once the kills stop. */
  drainTimeoutMs: number
  log?: (line: string) => void
}

interface PlannedJob {
  atMs: number
  kind: ChaosJobKind
  size: number
  replica: number
}

interface PlannedKill {
  atMs: number
  replica: number
  signal: 'SIGKILL' | 'SIGTERM'
  downForMs: number
}

export interface ChaosPlan {
  jobs: PlannedJob[]
  kills: PlannedKill[]
}

interface SubmittedJob extends PlannedJob {
  jobId: string
  path: string
  /** Activation: the CRUD ids; change-password: the auth ids. */
  ids: string[]
  submittedAt: number
  endedAt?: number
  status?: string
  summary?: Record<string, unknown>
  /** The last progress seen. */
  lastProgress?: string
}

/**
 * The jobs of one kind as a lane: while any of them is pending, one of them should be moving (the
 * exclusive kinds run one job at a time, so one job's wait behind another is no stall). A stall is
 * the time since any job of the kind was submitted, progressed or ended, while one is pending.
 */
interface Lane {
  lastMoveAt: number
  longestStallMs: number
}

export interface ChaosKill {
  replica: string
  signal: 'SIGKILL' | 'SIGTERM'
  atMs: number
}

export interface ChaosReport {
  seed: number
  plan: ChaosPlan
  kills: ChaosKill[]
  jobs: Array<{ kind: ChaosJobKind; size: number; jobId: string; status: string | undefined; summary: Record<string, unknown> | undefined; durationMs: number | undefined }>
  /** From the first submission to the last job's end. */
  wallMs: number
  completedPerMinute: number
  /** The longest time no job of a kind moved (progressed or ended) while one of that kind was pending. */
  longestStallMs: number
  /** The same, by kind. */
  stallsMs: Partial<Record<ChaosJobKind, number>>
  emailsSent: number
  emailsDistinct: number
  /** Emails sent again, and the bound: sends in flight at each SIGKILL. */
  repeatedEmails: number
  repeatedEmailsBound: number
  /** Problems found; empty when the run is clean. */
  violations: string[]
}

/** The random schedule of one run, drawn from `seed` (replayable). */
export function planChaos(
  options: Pick<ChaosOptions, 'seed' | 'replicas' | 'jobs' | 'reconciles' | 'durationMs' | 'killUntilJobsEnd' | 'drainTimeoutMs' | 'killEveryMs' | 'downForMs' | 'activationUsers' | 'changePasswordIds'>,
): ChaosPlan {
  const within = ([min, max]: readonly [number, number]) => fc.integer({ min, max })
  const replica = fc.integer({ min: 0, max: options.replicas - 1 })
  const activation = fc.record({ kind: fc.constant<ChaosJobKind>('bulk-activation'), size: within(options.activationUsers), replica })
  const changePassword = fc.record({ kind: fc.constant<ChaosJobKind>('change-password'), size: within(options.changePasswordIds), replica })
  const reconcile = fc.record({ kind: fc.constant<ChaosJobKind>('reconcile'), size: fc.constant(0), replica })
  const job =
    options.reconciles === undefined
      ? fc.oneof({ weight: 2, arbitrary: activation }, { weight: 2, arbitrary: changePassword }, { weight: 1, arbitrary: reconcile })
      : fc.oneof(activation, changePassword)
  const reconciles = options.reconciles ?? 0
  const at = fc.integer({ min: 0, max: options.durationMs })
  const killsForMs = options.durationMs + (options.killUntilJobsEnd ? options.drainTimeoutMs : 0)
  const maxKills = Math.ceil(killsForMs / options.killEveryMs[0]) + 1
  const kill = fc.record({ gapMs: within(options.killEveryMs), replica, signal: fc.constantFrom<'SIGKILL' | 'SIGTERM'>('SIGKILL', 'SIGTERM'), downForMs: within(options.downForMs) })
  const plan = fc.record({
    jobs: fc.array(fc.record({ job, atMs: at }), { minLength: options.jobs - reconciles, maxLength: options.jobs - reconciles }),
    reconciles: fc.array(fc.record({ job: reconcile, atMs: at }), { minLength: reconciles, maxLength: reconciles }),
    kills: fc.array(kill, { minLength: maxKills, maxLength: maxKills }),
  })
  const [drawn] = fc.sample(plan, { seed: options.seed, numRuns: 1 })
  const jobs = [...drawn!.jobs, ...drawn!.reconciles].map(({ job: planned, atMs }) => ({ ...planned, atMs })).sort((a, b) => a.atMs - b.atMs)
  const kills: PlannedKill[] = []
  let atMs = 0
  for (const { gapMs, ...rest } of drawn!.kills) {
    atMs += gapMs
    if (atMs > killsForMs) break
    kills.push({ atMs, ...rest })
  }
  return { jobs, kills }
}

/** A seed from CHAOS_SEED, else a new one. */
export function chaosSeed(): number {
  const fromEnv = process.env.CHAOS_SEED
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv)
    if (!Number.isSafeInteger(seed)) throw new Error(`CHAOS_SEED must be an integer, got ${fromEnv}`)
    return seed
  }
  return Math.floor(Math.random() * 2 ** 31)
}

class Replica {
  process: UmsProcess | undefined
  ready = false
  /** Set from the moment the run kills it until its exit. */
  killedBy: NodeJS.Signals | undefined
  readonly deaths: string[] = []
  readonly errorLines: string[] = []

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    const ums = spawnUms(this.name, this.env, this.port)
    this.process = ums
    this.killedBy = undefined
    void ums.exited.then(() => {
      this.ready = false
      const { exitCode, signalCode } = ums.child
      // pino's lines at error level, and any line that is not a log line (a crash's stack).
      this.errorLines.push(...errorLines(ums))
      if (this.killedBy === undefined) this.deaths.push(`${this.name} died unasked (code ${exitCode}, signal ${signalCode}): ${ums.output.join('').slice(-2_000)}`)
      else if (this.killedBy === 'SIGTERM' && exitCode !== 0) this.deaths.push(`${this.name} exited with code ${exitCode} (signal ${signalCode}) after SIGTERM`)
    })
    await waitUntilReady(ums, 60_000)
    this.ready = true
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const ums = this.process!
    this.ready = false
    this.killedBy = signal
    ums.child.kill(signal)
    await ums.exited
  }

  async stop(): Promise<void> {
    if (this.process && isRunning(this.process)) await this.kill('SIGKILL')
  }
}

/** The first ready replica from `index` on, in a ring. */
function readyFrom(replicas: Replica[], index: number): Replica | undefined {
  for (let step = 0; step < replicas.length; step += 1) {
    const replica = replicas[(index + step) % replicas.length]!
    if (replica.ready) return replica
  }
  return undefined
}

async function submit(replicas: Replica[], emulators: Emulators, planned: PlannedJob, serial: number): Promise<SubmittedJob> {
  let ids: string[] = []
  let body: unknown = { dryRun: true }
  if (planned.kind === 'bulk-activation') {
    ids = seedCrudOnlyUsers(emulators, planned.size, `chaos${serial}`)
    body = ids.map((userId) => ({ filter: { userId } }))
  } else if (planned.kind === 'change-password') {
    ids = seedAuthUsers(emulators, planned.size, `mail${serial}`)
    body = { authUsersIds: ids }
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no replica took the ${planned.kind} job for a minute: ${replicas.flatMap((replica) => replica.deaths).join('\n')}`)
    const replica = readyFrom(replicas, planned.replica)
    if (replica) {
      const answer = await call(replica.process!.url, 'POST', JOB_PATHS[planned.kind].start, { json: body }).catch(() => undefined)
      if (answer?.status === 202) {
        const jobId = (answer.body as { jobId: string }).jobId
        return { ...planned, jobId, path: `${JOB_PATHS[planned.kind].read}/${jobId}`, ids, submittedAt: Date.now() }
      }
      if (answer !== undefined) throw new Error(`${planned.kind} refused by ${replica.name}: ${answer.status} ${answer.text}`)
    }
    await sleep(100)
  }
}

/** Jobs read at once by the observer: each turn must stay short next to the stalls it measures. */
const OBSERVED_AT_ONCE = 16

/** Reads every pending job on a ready replica, recording ends, progress and the lanes' stalls. */
async function observe(replicas: Replica[], jobs: SubmittedJob[], lanes: Map<ChaosJobKind, Lane>, turn: number): Promise<void> {
  const pending = jobs.filter((job) => job.status === undefined || job.status === 'pending')
  for (let start = 0; start < pending.length; start += OBSERVED_AT_ONCE) {
    await Promise.all(
      pending.slice(start, start + OBSERVED_AT_ONCE).map(async (job, index) => {
        const replica = readyFrom(replicas, turn + start + index)
        if (!replica) return
        const answer = await call(replica.process!.url, 'GET', job.path).catch(() => undefined)
        if (answer?.status !== 200) return
        const record = answer.body as { status: string; progress?: unknown; summary?: Record<string, unknown> }
        const now = Date.now()
        job.status = record.status
        const progress = JSON.stringify(record.progress)
        if (record.status !== 'pending') {
          job.endedAt = now
          job.summary = record.summary
        } else if (progress === job.lastProgress) {
          return
        }
        job.lastProgress = progress
        lanes.get(job.kind)!.lastMoveAt = now
      }),
    )
  }
  const now = Date.now()
  for (const [kind, lane] of lanes) {
    if (jobs.some((job) => job.kind === kind && (job.status === undefined || job.status === 'pending'))) lane.longestStallMs = Math.max(lane.longestStallMs, now - lane.lastMoveAt)
  }
}

/** Runs the workload and checks its outcome; never throws for a violation, only lists it. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {})
  const plan = planChaos(options)
  log(`chaos seed ${options.seed} (replay with CHAOS_SEED=${options.seed}): ${plan.jobs.length} jobs over ${options.durationMs / 1000} s, up to ${plan.kills.length} kills`)
  const emulators = await startEmulators({ auth0: { importTiming: { mode: 'automatic', pendingMs: 100, processingMs: 2_000 } } })
  const env = {
    ...stackEnv(emulators.urls, 0),
    ...options.storeEnv,
    LOG_LEVEL: 'warn',
    JOBS_LOCK_LIFETIME_MS: String(options.lockLifetimeMs),
    AUTH0_JOB_POLLING_INTERVAL: '200',
    AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: String(options.rate),
    // The final dry run must see every change, however recent.
    RECONCILE_RECENT_WINDOW_MS: '0',
    // The production default: the workload loads this machine, and what is measured is kills, not slow peers.
    UPSTREAM_TIMEOUT_MS: '10000',
  }
  const replicas: Replica[] = []
  for (let index = 0; index < options.replicas; index += 1) replicas.push(new Replica(String.fromCharCode(65 + index), await consecutiveFreePorts(1), env))
  const violations: string[] = []
  const kills: ChaosKill[] = []
  const submitted: SubmittedJob[] = []
  try {
    await Promise.all(replicas.map((replica) => replica.start()))
    const startedAt = Date.now()
    const restarts: Array<Promise<void>> = []
    let stopObserving = false
    const lanes = new Map<ChaosJobKind, Lane>()
    const observer = (async () => {
      for (let turn = 0; !stopObserving; turn += 1) {
        await observe(replicas, submitted, lanes, turn)
        await sleep(250)
      }
    })()

    const allEnded = () => submitted.length === plan.jobs.length && submitted.every((job) => job.status !== undefined && job.status !== 'pending')
    const events = [...plan.jobs.map((job) => ({ atMs: job.atMs, job })), ...plan.kills.map((kill) => ({ atMs: kill.atMs, kill }))].sort((a, b) => a.atMs - b.atMs)
    for (const event of events) {
      // Waiting for a kill past the jobs' end would only delay the checks.
      while (Date.now() < startedAt + event.atMs && !('kill' in event && allEnded())) await sleep(Math.min(250, startedAt + event.atMs - Date.now()))
      if ('job' in event) {
        const job = await submit(replicas, emulators, event.job, submitted.length)
        submitted.push(job)
        // A lane with nothing pending was idle, not stalled: it starts moving with this job.
        const lane = lanes.get(job.kind)
        const idle = !submitted.some((other) => other !== job && other.kind === job.kind && (other.status === undefined || other.status === 'pending'))
        if (!lane) lanes.set(job.kind, { lastMoveAt: job.submittedAt, longestStallMs: 0 })
        else if (idle) lane.lastMoveAt = job.submittedAt
        continue
      }
      const { kill } = event
      if (allEnded()) break
      // One replica always stays up: the cluster must go on, not start from nothing.
      if (replicas.filter((replica) => replica.ready).length < 2) continue
      const victim = readyFrom(replicas, kill.replica)!
      kills.push({ replica: victim.name, signal: kill.signal, atMs: Date.now() - startedAt })
      log(`${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${kill.signal} to ${victim.name}, back in ${kill.downForMs} ms`)
      await victim.kill(kill.signal)
      restarts.push(
        sleep(kill.downForMs).then(() =>
          victim.start().catch((error: unknown) => {
            violations.push(`${victim.name} did not start again: ${String(error)}`)
          }),
        ),
      )
    }
    await Promise.all(restarts)

    const deadline = Date.now() + options.drainTimeoutMs
    await waitUntil(() => submitted.every((job) => job.status !== undefined && job.status !== 'pending') || Date.now() > deadline, 'the jobs to end', options.drainTimeoutMs + 5_000)
    stopObserving = true
    await observer
    const wallMs = Math.max(...submitted.map((job) => job.endedAt ?? Date.now())) - startedAt

    for (const job of submitted) {
      if (job.status !== 'completed') violations.push(`${job.kind} job ${job.jobId} (seed ${options.seed}) ended ${job.status ?? 'never'}: ${JSON.stringify(job.summary)}`)
      else if (job.kind !== 'reconcile' && job.summary?.failed !== 0) violations.push(`${job.kind} job ${job.jobId} completed with failures: ${JSON.stringify(job.summary)}`)
    }
    violations.push(...checkLinks(emulators, submitted), ...checkImports(emulators))
    const emails = emulators.auth0.outbox.map((mail) => mail.email)
    const emailsDistinct = new Set(emails).size
    const expectedEmails = submitted.filter((job) => job.kind === 'change-password').reduce((sum, job) => sum + job.size, 0)
    if (emailsDistinct !== expectedEmails) violations.push(`${emailsDistinct} addresses got the change-password email, ${expectedEmails} expected`)
    const repeatedEmailsBound = kills.filter((kill) => kill.signal === 'SIGKILL').length * maxInFlight(options.rate)
    if (emails.length - emailsDistinct > repeatedEmailsBound) violations.push(`${emails.length - emailsDistinct} emails sent twice, bound ${repeatedEmailsBound}`)

    violations.push(...(await finalDryRun(replicas)))
    for (const replica of replicas) {
      violations.push(...replica.deaths)
      const running = replica.process!
      const lines = [...replica.errorLines, ...errorLines(running)]
      if (lines.length > 0) violations.push(`${replica.name} logged errors: ${lines.slice(0, 5).join('\n')}`)
      if (!isRunning(running) || (await call(running.url, 'GET', '/-/healthz').catch(() => undefined))?.status !== 200) violations.push(`${replica.name} does not answer /-/healthz`)
    }

    return {
      seed: options.seed,
      plan,
      kills,
      jobs: submitted.map((job) => ({ kind: job.kind, size: job.size, jobId: job.jobId, status: job.status, summary: job.summary, durationMs: job.endedAt === undefined ? undefined : job.endedAt - job.submittedAt })),
      wallMs,
      completedPerMinute: (submitted.filter((job) => job.status === 'completed').length / wallMs) * 60_000,
      longestStallMs: Math.max(0, ...[...lanes.values()].map((lane) => lane.longestStallMs)),
      stallsMs: Object.fromEntries([...lanes].map(([kind, lane]) => [kind, lane.longestStallMs])),
      emailsSent: emails.length,
      emailsDistinct,
      repeatedEmails: emails.length - emailsDistinct,
      repeatedEmailsBound,
      violations,
    }
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()))
    await emulators.close()
  }
}

/** Every activated user linked once, to an auth user of its own with its email. */
function checkLinks(emulators: Emulators, jobs: SubmittedJob[]): string[] {
  const violations: string[] = []
  const docs = new Map(emulators.crud.documents(USERS_ENDPOINT).map((doc) => [doc._id, doc]))
  const authByEmail = new Map<string, number>()
  for (const user of emulators.auth0.listUsers()) if (user.email) authByEmail.set(user.email, (authByEmail.get(user.email) ?? 0) + 1)
  const linked = new Set<string>()
  for (const job of jobs.filter((submitted) => submitted.kind === 'bulk-activation')) {
    for (const crudId of job.ids) {
      const doc = docs.get(crudId)
      const authUserId = doc?.authUserId
      if (typeof authUserId !== 'string') {
        violations.push(`user ${crudId} of activation ${job.jobId} is not linked`)
        continue
      }
      if (linked.has(authUserId)) violations.push(`auth user ${authUserId} is linked to two users`)
      linked.add(authUserId)
      if (emulators.auth0.getUser(authUserId)?.email !== doc!.email) violations.push(`user ${crudId} is linked to ${authUserId}, which is not its auth user`)
      if (authByEmail.get(String(doc!.email)) !== 1) violations.push(`${authByEmail.get(String(doc!.email)) ?? 0} auth users have the email of user ${crudId}`)
    }
  }
  return violations.slice(0, 20)
}

/** No user was in two Auth0 imports that were started (201). */
function checkImports(emulators: Emulators): string[] {
  const seen = new Set<string>()
  let twice = 0
  for (const request of emulators.auth0.requestsTo('POST', '/users/import')) {
    if (request.outcome !== 201) continue
    const users = (request.body as { users?: { json?: Array<{ user_id?: string; email?: string }> } }).users?.json ?? []
    for (const user of users) {
      const key = user.user_id ?? user.email ?? ''
      if (seen.has(key)) twice += 1
      seen.add(key)
    }
  }
  return twice === 0 ? [] : [`${twice} users were in two started Auth0 imports`]
}

async function finalDryRun(replicas: Replica[]): Promise<string[]> {
  const replica = readyFrom(replicas, 0)
  if (!replica) return ['no replica is ready for the final reconciliation']
  const started = await call(replica.process!.url, 'POST', '/jobs/reconcile', { json: { dryRun: true } })
  if (started.status !== 202) return [`the final reconciliation was refused: ${started.status} ${started.text}`]
  const ended = await waitForJob(replica.process!.url, `/jobs/reconcile/${(started.body as { jobId: string }).jobId}`, { timeoutMs: 60_000 })
  const body = ended.body as { status: string; summary?: { found?: Record<string, number> }; findings?: unknown[] } | undefined
  const found = Object.entries(body?.summary?.found ?? {}).filter(([, count]) => count > 0)
  if (body?.status !== 'completed') return [`the final reconciliation ended ${body?.status}`]
  return found.length === 0 ? [] : [`the final reconciliation found ${JSON.stringify(Object.fromEntries(found))}: ${JSON.stringify(body.findings?.slice(0, 5))}`]
}
