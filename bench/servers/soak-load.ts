// Child process: the load driver of the soak scenario (bench/soak.ts), on an event loop of its own.
// It sends ums a weighted mix of its routes through a keep-alive node:http Agent, either closed-loop
// (N connections, each sending its next request when the last one is answered: the capacity) or
// open-loop (arrivals at a fixed rate whatever the answers, at most `connections` in flight at ums,
// the others queued here), plus periodic work on a fixed cadence: a CSV import, a bulk-activation
// job of the users it inserted (then those users go to the delete queue) and a change-password job,
// each job polled until it ends.
//
// Every request carries `x-soak-seq: <n>` so that the ums child (bench/servers/ums.ts with
// `shutdown`) can say which requests it read. Outcomes are tallied per phase, route and status
// (or error code); after `mark` (just before the SIGTERM) every request is also kept one by one,
// with when it was fully written and whether it went on a reused keep-alive connection.
import http from 'node:http'
import { serve } from './ipc.js'

/** The routes of the mix; `DELETE /users/:id` only once enough created users are queued. */
export const MIX_WEIGHTS = {
  'GET /users/': 25,
  'GET /users/count': 10,
  'GET /users/:id': 25,
  'POST /users/': 8,
  'DELETE /users/:id': 9,
  'PATCH /users/:id': 15,
  'POST /users/state': 8,
} as const

export type MixKind = keyof typeof MIX_WEIGHTS
export type Kind =
  | MixKind
  | 'PATCH /users/import'
  | 'POST /jobs/bulk-activation'
  | 'GET /jobs/bulk-activation/:id'
  | 'POST /jobs/change-password/bulk'
  | 'GET /jobs/change-password/bulk/:id'

export type Phase = 'warmup' | 'capacity' | 'soak' | 'shutdown'

export interface SetupArg {
  url: string
  /** CRUD `_id`s read and patched (GET, PATCH, the import's patch rows). */
  readIds: string[]
  /** CRUD `_id`s moved between PUBLIC and DRAFT (never read by id: a DRAFT user is a 404). */
  stateIds: string[]
  /** Auth user ids for the change-password jobs. */
  authIds: string[]
  /** Makes the emails and usernames of this run unique. */
  tag: string
}

export interface ClosedLoopArg {
  connections: number
  warmupS: number
  durationS: number
}

export interface OpenLoopArg {
  ratePerSec: number
  connections: number
  /** Periodic work (import, jobs) every this many ms; 0: none. */
  importEveryMs: number
  jobEveryMs: number
}

export interface KindTally {
  /** Status code or error code → count. */
  outcomes: Record<string, number>
  /** Latency from the scheduled time (open loop) or the start (closed loop), ms; answered requests only. */
  latencyMs?: { p50: number; p90: number; p99: number; max: number; count: number }
}

export interface PhaseTally {
  requests: number
  /** Answered completely, any status. */
  answered: number
  byKind: Partial<Record<Kind, KindTally>>
  wallS: number
}

export interface RequestRecord {
  seq: number
  kind: Kind
  /** Epoch ms (fractional): scheduled, headers + body fully handed to the kernel, settled. */
  scheduledAtMs: number
  writtenAtMs: number | undefined
  settledAtMs: number
  /** Sent on a keep-alive connection already used by an earlier request. */
  reused: boolean
  status: number | undefined
  /** Node error code (ECONNREFUSED, ECONNRESET, ...) or message; undefined when answered completely. */
  error: string | undefined
  /** Status line received but the body cut short. */
  truncated: boolean
}

export interface JobsSummary {
  posted: number
  /** Final status → count; `unfinished` when the polls stopped (ums gone) first. */
  ended: Record<string, number>
  /** Items of the jobs' summaries (e.g. inserted, failed / completed, failed). */
  items: Record<string, number>
}

export interface DriverStats {
  phases: Partial<Record<Phase, PhaseTally>>
  /** Open-loop arrivals dropped because `maxOutstanding` requests were already waiting or in flight. */
  shed: number
  openLoop: { ratePerSec: number; connections: number; maxOutstanding: number; scheduled: number } | undefined
  imports: { posted: number; rowsInserted: number; rowsUpdated: number; rowsInvalid: number; invalidSamples: string[] }
  jobs: { activation: JobsSummary; changePassword: JobsSummary }
  /** Users created or imported and not deleted yet. */
  deleteQueue: number
  /** Soak requests answered completely in each second since the soak began. */
  answeredPerSecond: number[]
  /** First error messages seen, for the notes. */
  errorSamples: string[]
  /** Unexpected statuses (4xx/5xx) with a piece of the body. */
  statusSamples: string[]
}

const now = () => performance.timeOrigin + performance.now()

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

const round1 = (value: number) => Math.round(value * 10) / 10

interface Answer {
  status: number | undefined
  text: string
}

interface Pending {
  record: RequestRecord
  phase: Phase
}

class Driver {
  private setup: SetupArg | undefined
  private agent: http.Agent | undefined
  private seq = 0
  private phase: Phase = 'warmup'
  private phaseStartedAt: Partial<Record<Phase, number>> = {}
  private phaseEndedAt: Partial<Record<Phase, number>> = {}
  private readonly tallies: Partial<Record<Phase, { requests: number; answered: number; outcomes: Map<Kind, Map<string, number>>; latencies: Map<Kind, number[]> }>> = {}
  private readonly inFlight = new Map<number, Pending>()
  private readonly socketUses = new WeakMap<object, number>()
  /** Requests of the soak phase answered completely, per second since its start. */
  private readonly answeredPerSecond: number[] = []
  private marked: RequestRecord[] | undefined
  private stopping = false
  private readonly background: Array<Promise<void>> = []
  private shed = 0
  private openLoop: DriverStats['openLoop']
  private openTimer: NodeJS.Timeout | undefined
  private created = 0
  private readonly deleteQueue: string[] = []
  private readonly toActivate: string[] = []
  private readonly draft = new Set<string>()
  private readonly stateBusy = new Set<string>()
  private readonly imports: DriverStats['imports'] = { posted: 0, rowsInserted: 0, rowsUpdated: 0, rowsInvalid: 0, invalidSamples: [] }
  private readonly jobs = {
    activation: { posted: 0, ended: {}, items: {} } as JobsSummary,
    changePassword: { posted: 0, ended: {}, items: {} } as JobsSummary,
  }
  private readonly errorSamples: string[] = []
  private readonly statusSamples: string[] = []
  private readonly mixTable: MixKind[] = Object.entries(MIX_WEIGHTS).flatMap(([kind, weight]) => Array<MixKind>(weight).fill(kind as MixKind))

  configure(arg: SetupArg): void {
    this.setup = arg
  }

  private get base(): SetupArg {
    if (!this.setup) throw new Error('soak-load: setup first')
    return this.setup
  }

  private newAgent(connections: number): void {
    this.agent?.destroy()
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  }

  private startPhase(phase: Phase): void {
    const at = now()
    if (this.phaseStartedAt[this.phase] !== undefined) this.phaseEndedAt[this.phase] ??= at
    this.phase = phase
    this.phaseStartedAt[phase] = at
    this.tallies[phase] ??= { requests: 0, answered: 0, outcomes: new Map(), latencies: new Map() }
  }

  /** One request; settles with the status and body text, or the error code as `status: undefined`. */
  private request(kind: Kind, method: string, path: string, body?: { data: Buffer; type: string }, scheduledAtMs = now()): Promise<Answer> {
    const url = new URL(path, this.base.url)
    const seq = ++this.seq
    const record: RequestRecord = { seq, kind, scheduledAtMs, writtenAtMs: undefined, settledAtMs: 0, reused: false, status: undefined, error: undefined, truncated: false }
    const pending: Pending = { record, phase: this.phase }
    this.inFlight.set(seq, pending)
    this.marked?.push(record)
    const tally = this.tallies[pending.phase]
    if (tally) tally.requests += 1

    return new Promise<Answer>((resolve) => {
      const chunks: Buffer[] = []
      let settled = false
      const settle = (error?: Error & { code?: string }) => {
        if (settled) return
        settled = true
        record.settledAtMs = now()
        if (error) record.error = error.code ?? error.message
        this.inFlight.delete(seq)
        this.count(pending, record)
        const text = Buffer.concat(chunks).toString('utf8')
        if (record.status !== undefined && record.status >= 400 && this.statusSamples.length < 20) {
          this.statusSamples.push(`${kind} ${record.status}: ${text.slice(0, 200)}`)
        }
        if (error && this.errorSamples.length < 20) this.errorSamples.push(`${kind} (${pending.phase}): ${record.error} ${error.message}`)
        resolve({ status: error ? undefined : record.status, text })
      }
      const headers: Record<string, string> = { 'x-soak-seq': String(seq) }
      if (body) {
        headers['content-type'] = body.type
        headers['content-length'] = String(body.data.length)
      }
      const req = http.request({ agent: this.agent, host: url.hostname, port: url.port, method, path: `${url.pathname}${url.search}`, headers })
      req.setTimeout(60_000, () => req.destroy(Object.assign(new Error('no answer within 60 s'), { code: 'TIMEOUT' })))
      req.once('finish', () => {
        record.writtenAtMs = now()
      })
      req.once('response', (res) => {
        record.status = res.statusCode
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.once('end', () => settle())
        res.once('error', (error) => {
          record.truncated = true
          settle(error)
        })
        res.once('close', () => {
          if (!res.complete) {
            record.truncated = true
            settle(Object.assign(new Error('answer cut short'), { code: 'TRUNCATED' }))
          }
        })
      })
      req.once('error', (error) => settle(error))
      // Counted here: req.reusedSocket is false for a queued request the agent hands a freed socket.
      req.once('socket', (socket) => {
        const used = (this.socketUses.get(socket) ?? 0) + 1
        this.socketUses.set(socket, used)
        record.reused = used > 1
      })
      req.end(body?.data)
    })
  }

  private count(pending: Pending, record: RequestRecord): void {
    const tally = this.tallies[pending.phase]
    if (!tally) return
    const key = record.error ?? String(record.status)
    const outcomes = tally.outcomes.get(record.kind) ?? new Map<string, number>()
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    tally.outcomes.set(record.kind, outcomes)
    if (record.error === undefined) {
      tally.answered += 1
      if (pending.phase === 'soak') {
        const second = Math.floor((record.settledAtMs - (this.phaseStartedAt.soak ?? 0)) / 1000)
        this.answeredPerSecond[second] = (this.answeredPerSecond[second] ?? 0) + 1
      }
      const latencies = tally.latencies.get(record.kind) ?? []
      latencies.push(record.settledAtMs - record.scheduledAtMs)
      tally.latencies.set(record.kind, latencies)
    }
  }

  private json(kind: Kind, method: string, path: string, value: unknown, scheduledAtMs?: number): Promise<Answer> {
    return this.request(kind, method, path, { data: Buffer.from(JSON.stringify(value)), type: 'application/json' }, scheduledAtMs)
  }

  private pick<T>(items: T[]): T {
    const item = items[Math.floor(Math.random() * items.length)]
    if (item === undefined) throw new Error('soak-load: empty pool')
    return item
  }

  /** One request of the weighted mix. */
  private mixRequest(scheduledAtMs?: number): Promise<Answer> {
    const { readIds, stateIds, tag } = this.base
    let kind = this.pick(this.mixTable)
    // Deletes take the oldest created (or imported) users, keeping ~50 of them; past 150 waiting
    // (at low rates the imports add more than the deletes' share removes) a create becomes a
    // delete: the collection stays about the same size.
    if (kind === 'DELETE /users/:id' && this.deleteQueue.length <= 50) kind = 'GET /users/:id'
    else if (kind === 'POST /users/' && this.deleteQueue.length > 150) kind = 'DELETE /users/:id'
    switch (kind) {
      case 'GET /users/':
        return this.request(kind, 'GET', `/users/?_l=25&_sk=${Math.floor(Math.random() * (readIds.length - 25))}`, undefined, scheduledAtMs)
      case 'GET /users/count':
        return this.request(kind, 'GET', '/users/count', undefined, scheduledAtMs)
      case 'GET /users/:id':
        return this.request(kind, 'GET', `/users/${this.pick(readIds)}`, undefined, scheduledAtMs)
      case 'POST /users/': {
        const n = `${tag}c${++this.created}`
        const user = {
          userGroup: 'customer',
          name: `Soak${n}`,
          surname: 'Created',
          email: `soak.${n}@example.com`,
          username: `soak.${n}`,
          age: 30,
          roles: ['customer-basic'],
          expirationDate: '2035-01-01T00:00:00.000Z',
        }
        return this.json(kind, 'POST', '/users/', user, scheduledAtMs).then((answer) => {
          const id = answer.status === 200 ? (JSON.parse(answer.text) as { _id?: string })._id : undefined
          if (id) this.deleteQueue.push(id)
          return answer
        })
      }
      case 'DELETE /users/:id':
        return this.request(kind, 'DELETE', `/users/${this.deleteQueue.shift()}`, undefined, scheduledAtMs)
      case 'PATCH /users/:id': {
        const patch = { $set: { age: 18 + Math.floor(Math.random() * 60), roles: [Math.random() < 0.5 ? 'customer-basic' : 'customer-premium'] } }
        return this.json(kind, 'PATCH', `/users/${this.pick(readIds)}`, patch, scheduledAtMs)
      }
      case 'POST /users/state': {
        // A user with a state change in flight is left alone, so the expected state stays known.
        const free = stateIds.filter((id) => !this.stateBusy.has(id))
        const id = this.pick(free.length > 0 ? free : stateIds)
        const stateTo = this.draft.has(id) ? 'PUBLIC' : 'DRAFT'
        this.stateBusy.add(id)
        return this.json(kind, 'POST', '/users/state', [{ filter: { _id: id }, stateTo }], scheduledAtMs).then((answer) => {
          this.stateBusy.delete(id)
          if (answer.status === 200) {
            if (stateTo === 'DRAFT') this.draft.add(id)
            else this.draft.delete(id)
          }
          return answer
        })
      }
    }
  }

  /** Closed loop: `connections` workers, each sending its next request once the last is answered. */
  async closedLoop(arg: ClosedLoopArg): Promise<PhaseTally> {
    this.newAgent(arg.connections)
    this.startPhase('warmup')
    const end = performance.now() + (arg.warmupS + arg.durationS) * 1000
    const switchAt = setTimeout(() => this.startPhase('capacity'), arg.warmupS * 1000)
    const worker = async () => {
      while (performance.now() < end) await this.mixRequest()
    }
    await Promise.all(Array.from({ length: arg.connections }, worker))
    clearTimeout(switchAt)
    this.phaseEndedAt.capacity = now()
    return this.phaseTally('capacity')
  }

  /** Open loop at `ratePerSec`, plus the periodic work; runs until `stop`. */
  startOpenLoop(arg: OpenLoopArg): { startedAtMs: number } {
    this.newAgent(arg.connections)
    this.startPhase('soak')
    // Beyond this many requests waiting or in flight (2 s of arrivals) new arrivals are dropped and
    // counted: the driver's memory and the latencies stay bounded if ums (or the machine) falls behind.
    const maxOutstanding = arg.connections + Math.ceil(arg.ratePerSec * 2)
    this.openLoop = { ratePerSec: arg.ratePerSec, connections: arg.connections, maxOutstanding, scheduled: 0 }
    const t0 = now()
    const intervalMs = 1000 / arg.ratePerSec
    const tick = () => {
      const loop = this.openLoop
      if (this.stopping || !loop) return
      const due = Math.floor((now() - t0) / intervalMs)
      while (loop.scheduled < due) {
        loop.scheduled += 1
        if (this.inFlight.size >= maxOutstanding) {
          this.shed += 1
          continue
        }
        void this.mixRequest(t0 + loop.scheduled * intervalMs)
      }
      this.openTimer = setTimeout(tick, 2)
    }
    tick()
    if (arg.importEveryMs > 0) this.background.push(this.every(arg.importEveryMs, 0, () => this.importOnce()))
    if (arg.jobEveryMs > 0) {
      this.background.push(this.every(arg.jobEveryMs, arg.jobEveryMs / 2, () => this.activationJob()))
      this.background.push(this.every(arg.jobEveryMs, arg.jobEveryMs / 4, () => this.changePasswordJob()))
    }
    return { startedAtMs: t0 }
  }

  private async every(periodMs: number, offsetMs: number, task: () => Promise<void>): Promise<void> {
    await this.pause(offsetMs)
    while (!this.stopping) {
      const started = performance.now()
      await task()
      await this.pause(Math.max(0, periodMs - (performance.now() - started)))
    }
  }

  private readonly sleepers = new Set<() => void>()

  /** Sleeps `ms`, cut short by `stop`. */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.sleepers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.sleepers.add(wake)
    })
  }

  private importCounter = 0

  /** 20 patch rows (read users, new age) and 20 new users, `;`-delimited. */
  private async importOnce(): Promise<void> {
    const { readIds, tag } = this.base
    const batch = ++this.importCounter
    const lines = ['_id;userGroup;name;surname;email;username;age;tags']
    // A patch row is validated as a whole user of its group: name and surname (required) are given.
    for (let row = 0; row < 20; row += 1) lines.push(`${this.pick(readIds)};customer;Patched${batch};Soak;;;${18 + ((batch + row) % 60)};[imported, b${batch}]`)
    for (let row = 0; row < 20; row += 1) {
      const n = `${tag}i${batch}r${row}`
      lines.push(`;customer;Soak${n};Imported;soak.${n}@example.com;soak.${n};${20 + row};[imported]`)
    }
    const boundary = `----soak${batch}${Math.random().toString(16).slice(2)}`
    const data = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="users.csv"\r\nContent-Type: text/csv\r\n\r\n${lines.join('\n')}\n\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="delimiter"\r\n\r\n;\r\n--${boundary}--\r\n`,
    )
    const answer = await this.request('PATCH /users/import', 'PATCH', '/users/import', { data, type: `multipart/form-data; boundary=${boundary}` })
    this.imports.posted += 1
    if (answer.status !== 200) return
    const body = JSON.parse(answer.text) as { inserted: string[]; updated: string[]; invalid: Array<{ row: number; error: string }> }
    for (const invalid of body.invalid) if (this.imports.invalidSamples.length < 5) this.imports.invalidSamples.push(`row ${invalid.row}: ${invalid.error}`)
    this.imports.rowsInserted += body.inserted.length
    this.imports.rowsUpdated += body.updated.length
    this.imports.rowsInvalid += body.invalid.length
    this.toActivate.push(...body.inserted)
  }

  /** Posts a job, then polls it every 500 ms until it ends (or ums stops answering). */
  private async runJob(summary: JobsSummary, post: Kind, poll: Kind, path: string, body: unknown, items: (job: Record<string, unknown>) => Record<string, number>): Promise<boolean> {
    const created = await this.json(post, 'POST', path, body)
    summary.posted += 1
    if (created.status !== 202) return false
    const { jobId } = JSON.parse(created.text) as { jobId: string }
    const deadline = performance.now() + 120_000
    for (;;) {
      await this.pause(500)
      const answer = await this.request(poll, 'GET', `${path}/${jobId}`)
      const job = answer.status === 200 ? (JSON.parse(answer.text) as Record<string, unknown>) : undefined
      if (!job || job.status !== 'pending' || performance.now() > deadline) {
        const ended = typeof job?.status === 'string' && job.status !== 'pending' ? job.status : 'unfinished'
        summary.ended[ended] = (summary.ended[ended] ?? 0) + 1
        if (job) for (const [name, value] of Object.entries(items(job))) summary.items[name] = (summary.items[name] ?? 0) + value
        return ended === 'completed'
      }
    }
  }

  /** The users imported since the last one get their auth users; then they may be deleted. */
  private async activationJob(): Promise<void> {
    const ids = this.toActivate.splice(0)
    if (ids.length === 0) return
    const summaryItems = (job: Record<string, unknown>) => (job.summary ?? {}) as Record<string, number>
    await this.runJob(this.jobs.activation, 'POST /jobs/bulk-activation', 'GET /jobs/bulk-activation/:id', '/jobs/bulk-activation', ids.map((userId) => ({ filter: { userId } })), summaryItems)
    this.deleteQueue.push(...ids)
  }

  private async changePasswordJob(): Promise<void> {
    const authIds = this.base.authIds
    const ids = [...new Set(Array.from({ length: 20 }, () => this.pick(authIds)))]
    const summaryItems = (job: Record<string, unknown>) => (job.summary ?? {}) as Record<string, number>
    await this.runJob(this.jobs.changePassword, 'POST /jobs/change-password/bulk', 'GET /jobs/change-password/bulk/:id', '/jobs/change-password/bulk', { authUsersIds: ids }, summaryItems)
  }

  /** From now on every request is also recorded one by one, those in flight included; they count as `shutdown`. */
  mark(): { seq: number; atMs: number; inFlight: number } {
    this.marked = []
    for (const pending of this.inFlight.values()) {
      pending.phase = 'shutdown'
      this.marked.push(pending.record)
    }
    const inFlight = this.marked.length
    this.startPhase('shutdown')
    const tally = this.tallies.shutdown
    if (tally) tally.requests += inFlight
    const soak = this.tallies.soak
    if (soak) soak.requests -= inFlight
    return { seq: this.seq, atMs: now(), inFlight }
  }

  /** Stops scheduling, waits (at most `drainMs`) for what is in flight, answers everything. */
  async stop(drainMs: number): Promise<{ stats: DriverStats; records: RequestRecord[] }> {
    this.stopping = true
    clearTimeout(this.openTimer)
    for (const wake of [...this.sleepers]) wake()
    const deadline = performance.now() + drainMs
    while (this.inFlight.size > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    await Promise.race([Promise.allSettled(this.background), new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())))])
    this.phaseEndedAt[this.phase] ??= now()
    this.agent?.destroy()
    return { stats: this.stats(), records: this.marked ?? [] }
  }

  private phaseTally(phase: Phase): PhaseTally {
    const tally = this.tallies[phase]
    if (!tally) return { requests: 0, answered: 0, byKind: {}, wallS: 0 }
    const byKind: Partial<Record<Kind, KindTally>> = {}
    for (const [kind, outcomes] of tally.outcomes) {
      const sorted = [...(tally.latencies.get(kind) ?? [])].sort((a, b) => a - b)
      byKind[kind] = {
        outcomes: Object.fromEntries(outcomes),
        ...(sorted.length > 0 && {
          latencyMs: { p50: round1(quantile(sorted, 0.5)), p90: round1(quantile(sorted, 0.9)), p99: round1(quantile(sorted, 0.99)), max: round1(sorted.at(-1) ?? 0), count: sorted.length },
        }),
      }
    }
    const start = this.phaseStartedAt[phase] ?? 0
    const end = this.phaseEndedAt[phase] ?? now()
    return { requests: tally.requests, answered: tally.answered, byKind, wallS: round1((end - start) / 1000) }
  }

  progress(): { phase: Phase; inFlight: number; shed: number; soak: { requests: number; answered: number; errors: number; status5xx: number } } {
    const tally = this.tallies.soak
    let errors = 0
    let status5xx = 0
    for (const outcomes of tally?.outcomes.values() ?? []) {
      for (const [key, value] of outcomes) {
        if (!/^\d+$/.test(key)) errors += value
        else if (Number(key) >= 500) status5xx += value
      }
    }
    return { phase: this.phase, inFlight: this.inFlight.size, shed: this.shed, soak: { requests: tally?.requests ?? 0, answered: tally?.answered ?? 0, errors, status5xx } }
  }

  stats(): DriverStats {
    const phases: DriverStats['phases'] = {}
    for (const phase of Object.keys(this.tallies) as Phase[]) phases[phase] = this.phaseTally(phase)
    return {
      phases,
      shed: this.shed,
      openLoop: this.openLoop,
      imports: this.imports,
      jobs: this.jobs,
      deleteQueue: this.deleteQueue.length + this.toActivate.length,
      answeredPerSecond: Array.from(this.answeredPerSecond, (n) => n ?? 0),
      errorSamples: this.errorSamples,
      statusSamples: this.statusSamples,
    }
  }
}

const driver = new Driver()

await serve<{ pid: number }>(async () => ({
  info: { pid: process.pid },
  handlers: {
    setup: (arg) => driver.configure(arg as SetupArg),
    closedLoop: (arg) => driver.closedLoop(arg as ClosedLoopArg),
    startOpenLoop: (arg) => driver.startOpenLoop(arg as OpenLoopArg),
    progress: () => driver.progress(),
    mark: () => driver.mark(),
    stop: (arg) => driver.stop((arg as { drainMs: number }).drainMs),
  },
  close: async () => {},
}))
