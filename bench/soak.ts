// Soak (issue 9, item 5): BENCH_SOAK_S (300) seconds of mixed traffic against ums near its
// measured capacity, then a SIGTERM under that load. Bars:
//
// 1. No 5xx and no transport error (reset, hang-up, timeout) on any request of the soak.
// 2. No growth trend of ums's RSS (read from /proc, from outside) after full collections.
// 3. The SIGTERM loses no accepted request, and ums exits 0 within its grace period.
//
// Capacity: a closed loop first (BENCH_CONNECTIONS connections, each sending its next request of
// the mix as soon as the last is answered; 5 s warm-up, BENCH_SOAK_CAPACITY_S measured) gives the
// throughput of the mix on this machine now. The soak is then open-loop at BENCH_SOAK_LOAD (0.85)
// of it: arrivals on a fixed schedule, whatever the answers, through at most the same
// BENCH_CONNECTIONS keep-alive connections (ums never has more requests in flight than when its
// capacity was measured; the rest wait in the driver). Open loop rather than closed: the offered
// load, and so the work behind each RSS sample, is the same from the first minute to the last,
// while a closed loop's rate follows the machine's other work; and at 85 % rather than 100 % a
// busy spell of the machine is absorbed instead of queueing up for the rest of the run (arrivals
// beyond 2 s of backlog are shed and reported: on a machine shared with other work the capacity
// measured in 15 s may not hold for 5 minutes). Latencies are measured from the scheduled time,
// so a stall is not hidden by the schedule.
//
// The mix (bench/servers/soak-load.ts): GET /users/ (25 %), /users/count (10), /users/:id (25),
// POST /users/ (8), DELETE /users/:id of the oldest created users (9; a GET while fewer than 50
// wait, and a create becomes a delete while more than 150 wait), PATCH /users/:id (15), POST /users/state PUBLIC ↔ DRAFT (8); and on a fixed cadence a
// PATCH /users/import of 40 rows (20 patches, 20 new users) every 5 s, a bulk-activation job of the
// users imported since the last one every 10 s (after which they are deleted too) and a
// change-password job of 20 auth users every 10 s, each job polled every 500 ms until it ends.
// The users created and imported are deleted again, so the CRUD emulator (which scans its
// documents for every query) keeps the same size and the same cost per request all along.
//
// RSS trend: V8 makes ums's RSS a sawtooth (garbage piles up in the old space, then a major
// collection frees it), and on this mix one tooth can last a minute or two and span ~90 MB (seen:
// flat at 162 MB for two minutes, then up to 256 MB in 60 s, then down to 181 MB), so no statistic
// of the raw RSS over 5 minutes tells a leak from the phase of the sawtooth. The bar is therefore
// on the RSS after a full collection, the memory ums actually retains: ums runs with --expose-gc,
// and every tenth of the run (30 s) the parent asks it for a full GC over IPC (bench/servers/ums.ts
// `gc`), then reads its VmRSS from /proc as usual, from outside (the lowest reading of the next
// 2 s: V8 unmaps the freed pages shortly after the collection). The first fifth of the run (at
// most 60 s: JIT code, pools, caches) is warm-up; over the later points the slope must be
// ≤ 2 MB/min, i.e. ≤ 8 MB over the 4 judged minutes: a leak of ~80 bytes per request at ~400
// req/s fails it. The slope is Theil–Sen's (the median of the slopes between every two points),
// so that one point read before V8 gave its pages back cannot decide the bar. The raw RSS read
// every second is reported too (start, end, peak, the medians of minute 2 and of the last minute,
// its slope), not judged. The forced GCs pause ums for tens of ms every 30 s; they show in the
// latencies, not in the statuses.
//
// SIGTERM: ums runs with its own handler (src/lifecycle/shutdown.ts, as in src/index.ts) and
// WAIT_BEFORE_SERVER_CLOSE_SEC=BENCH_SOAK_WAIT_S (3): it keeps serving for the wait, then closes.
// The load goes on until ums has exited. Every request from just before the signal on is kept
// with its outcome and when it was fully written; the ums child records which requests it read
// (the HTTP server's `request` event) and when close() began. A request is LOST when it got no
// complete answer although ums read it, or it was fully written before close() began, or it failed
// before close() began. Not lost: a connection refused once the listener is closed (`refused`),
// and a request neither read nor written before close() began, on a connection the server closed
// as it closed (`cut`, a keep-alive connection idle at that moment: HTTP lets a server close an
// idle persistent connection, and the client can retry such a request: it was never processed).
// The exit: code 0 (not a signal) within WAIT_BEFORE_SERVER_CLOSE_SEC + 5 s of the signal
// (Kubernetes sends SIGKILL 30 s after SIGTERM by default).
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { startChild, type ServerChild } from './children.js'
import { callJson, count, cpuDelta, cpuOf, machineBusyMs, machineCores, MB, median, residentBytes, round1, round2, sleep } from './common.js'
import { startPeers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { CpuSample } from './servers/ipc.js'
import type { CrudUserBrief, PeersInfo, SeedAuthUsersArg } from './servers/peers.js'
import type { DriverStats, Kind, OpenLoopArg, PhaseTally, RequestRecord, SetupArg } from './servers/soak-load.js'
import type { ShutdownRecord, UmsInfo, UmsOptions } from './servers/ums.js'

const POOL_USERS = 1_000
/** Of the pool, the last ones only change state (a DRAFT user is a 404 to the reads). */
const STATE_USERS = 100
const WARMUP_S = 5
/** Largest growth of the RSS after a full GC, least squares over the points after the warm-up. */
const RSS_SLOPE_BAR_MB_PER_MIN = 2
/** Full-GC points per run. */
const GC_POINTS = 10
/** The exit must come within the wait plus this much (the close itself and ums's 1 s exit delay). */
const EXIT_MARGIN_S = 5
/** Load goes on this long after ums has exited (its connections refused), then stops. */
const AFTER_EXIT_MS = 1_000
const IMPORT_EVERY_MS = 5_000
const JOB_EVERY_MS = 10_000

function envNumber(name: string, fallback: number, min: number, max = Number.POSITIVE_INFINITY): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number in [${min}, ${max}], got ${raw}`)
  return value
}

const now = () => performance.timeOrigin + performance.now()

interface RssSample {
  /** Seconds since the soak began. */
  tS: number
  mb: number
}

interface GcPoint extends RssSample {
  /** V8 heap in use after the collection (the child's own process.memoryUsage()). */
  heapUsedMB: number
}

/** Theil–Sen: the median of the slopes between every pair of points, per minute (one odd point cannot move it). */
function robustSlopePerMin(points: Array<{ tS: number; value: number }>): number {
  const slopes: number[] = []
  for (let i = 0; i < points.length; i += 1) {
    for (let j = i + 1; j < points.length; j += 1) {
      const a = points[i]!
      const b = points[j]!
      if (b.tS !== a.tS) slopes.push((b.value - a.value) / (b.tS - a.tS))
    }
  }
  return slopes.length > 0 ? round2(median(slopes) * 60) : 0
}

/** Least squares, per minute. */
function slopePerMin(points: Array<{ tS: number; value: number }>): number {
  if (points.length < 2) return 0
  const meanT = points.reduce((sum, p) => sum + p.tS, 0) / points.length
  const meanV = points.reduce((sum, p) => sum + p.value, 0) / points.length
  const sxx = points.reduce((sum, p) => sum + (p.tS - meanT) ** 2, 0)
  const sxy = points.reduce((sum, p) => sum + (p.tS - meanT) * (p.value - meanV), 0)
  return sxx > 0 ? round2((sxy / sxx) * 60) : 0
}

export interface RssTrend {
  warmupS: number
  /** The bar: RSS after a full GC, points after the warm-up; slopes by Theil–Sen. */
  afterGc: { points: GcPoint[]; judged: number; slopeMBPerMin: number; heapSlopeMBPerMin: number; firstMB: number; lastMB: number }
  /** Context: the RSS every second. */
  raw: {
    firstWindow: [number, number]
    lastWindow: [number, number]
    firstMedianMB: number
    lastMedianMB: number
    slopeMBPerMin: number
    startMB: number
    endMB: number
    peakMB: number
    samples: number
  }
}

export function rssTrend(samples: RssSample[], gcPoints: GcPoint[], soakS: number): RssTrend {
  const warmupS = Math.min(60, soakS / 5)
  const windowS = Math.min(60, (soakS - warmupS) / 3)
  const firstWindow: [number, number] = [warmupS, warmupS + windowS]
  const lastWindow: [number, number] = [soakS - windowS, soakS]
  const inWindow = ([from, to]: [number, number]) => samples.filter((s) => s.tS >= from && s.tS <= to).map((s) => s.mb)
  const judged = gcPoints.filter((p) => p.tS >= warmupS)
  return {
    warmupS: round1(warmupS),
    afterGc: {
      points: gcPoints,
      judged: judged.length,
      slopeMBPerMin: robustSlopePerMin(judged.map((p) => ({ tS: p.tS, value: p.mb }))),
      heapSlopeMBPerMin: robustSlopePerMin(judged.map((p) => ({ tS: p.tS, value: p.heapUsedMB }))),
      firstMB: judged[0]?.mb ?? 0,
      lastMB: judged.at(-1)?.mb ?? 0,
    },
    raw: {
      firstWindow: [round1(firstWindow[0]), round1(firstWindow[1])],
      lastWindow: [round1(lastWindow[0]), round1(lastWindow[1])],
      firstMedianMB: round1(median(inWindow(firstWindow))),
      lastMedianMB: round1(median(inWindow(lastWindow))),
      slopeMBPerMin: slopePerMin(samples.filter((s) => s.tS >= warmupS).map((s) => ({ tS: s.tS, value: s.mb }))),
      startMB: round1(samples[0]?.mb ?? 0),
      endMB: round1(samples.at(-1)?.mb ?? 0),
      peakMB: round1(Math.max(0, ...samples.map((s) => s.mb))),
      samples: samples.length,
    },
  }
}

export interface ShutdownOutcome {
  /** Requests in flight at the mark or sent after it. */
  requests: number
  answered: number
  answeredByStatus: Record<string, number>
  /** Answered although still unanswered when close() began. */
  answeredAfterCloseStart: number
  refused: number
  lost: number
  /** Neither read nor written before close() began, on a connection closed by the server: by reused / new connection. */
  cut: { reused: number; fresh: number; byError: Record<string, number> }
  lostSamples: Array<RequestRecord & { readByUms: boolean; writtenBeforeCloseMs: number | undefined; settledAfterCloseMs: number | undefined }>
  /** Requests sent on a new connection (not a reused keep-alive one), and of those the ones not answered. */
  freshConnections: { requests: number; notAnswered: number }
  /** Server side (ums's record). */
  inFlightAtSignal: number
  inFlightAtClose: number
  inFlightAtExit: number
  readAfterSignal: number
  /** ms after the signal. */
  closeStartedMs: number | undefined
  closedMs: number | undefined
  exitMs: number | undefined
  exitCode: number | null | undefined
  exitSignal: string | null | undefined
}

function classify(records: RequestRecord[], server: ShutdownRecord | undefined, signalAtMs: number, exit: ServerChild<unknown>['exit']): ShutdownOutcome {
  const read = new Set(server?.received ?? [])
  const closeAt = server?.closeStartedAtMs ?? Number.POSITIVE_INFINITY
  const outcome: ShutdownOutcome = {
    requests: records.length,
    answered: 0,
    answeredByStatus: {},
    answeredAfterCloseStart: 0,
    refused: 0,
    lost: 0,
    cut: { reused: 0, fresh: 0, byError: {} },
    lostSamples: [],
    freshConnections: { requests: 0, notAnswered: 0 },
    inFlightAtSignal: server?.inFlightAtSignal.length ?? -1,
    inFlightAtClose: server?.inFlightAtClose.length ?? -1,
    inFlightAtExit: server?.inFlightAtExit.length ?? -1,
    readAfterSignal: server?.received.length ?? -1,
    closeStartedMs: server?.closeStartedAtMs === undefined ? undefined : round1(server.closeStartedAtMs - signalAtMs),
    closedMs: server?.closedAtMs === undefined ? undefined : round1(server.closedAtMs - signalAtMs),
    exitMs: exit ? round1(exit.atMs - signalAtMs) : undefined,
    exitCode: exit?.code,
    exitSignal: exit?.signal,
  }
  for (const record of records) {
    if (!record.reused) {
      outcome.freshConnections.requests += 1
      if (record.error !== undefined) outcome.freshConnections.notAnswered += 1
    }
    if (record.error === undefined) {
      outcome.answered += 1
      const status = String(record.status)
      outcome.answeredByStatus[status] = (outcome.answeredByStatus[status] ?? 0) + 1
      if (record.settledAtMs >= closeAt && record.scheduledAtMs < closeAt) outcome.answeredAfterCloseStart += 1
      continue
    }
    const readByUms = read.has(record.seq)
    const lost = readByUms || record.settledAtMs < closeAt || (record.writtenAtMs !== undefined && record.writtenAtMs < closeAt)
    if (lost) {
      outcome.lost += 1
      if (outcome.lostSamples.length < 20) {
        const sinceClose = (atMs: number | undefined) => (atMs === undefined || !Number.isFinite(closeAt) ? undefined : round2(atMs - closeAt))
        const written = sinceClose(record.writtenAtMs)
        outcome.lostSamples.push({ ...record, readByUms, writtenBeforeCloseMs: written === undefined ? undefined : -written, settledAfterCloseMs: sinceClose(record.settledAtMs) })
      }
    } else if (record.error === 'ECONNREFUSED') {
      outcome.refused += 1
    } else {
      if (record.reused) outcome.cut.reused += 1
      else outcome.cut.fresh += 1
      outcome.cut.byError[record.error] = (outcome.cut.byError[record.error] ?? 0) + 1
    }
  }
  return outcome
}

function outcomeCounts(tally: PhaseTally | undefined): { status5xx: number; status4xx: number; errors: number } {
  let status5xx = 0
  let status4xx = 0
  let errors = 0
  for (const kind of Object.values(tally?.byKind ?? {})) {
    for (const [key, value] of Object.entries(kind.outcomes)) {
      if (!/^\d+$/.test(key)) errors += value
      else if (Number(key) >= 500) status5xx += value
      else if (Number(key) >= 400) status4xx += value
    }
  }
  return { status5xx, status4xx, errors }
}

function kindLine(kind: string, tally: PhaseTally['byKind'][Kind]): string {
  if (!tally) return kind
  const outcomes = Object.entries(tally.outcomes)
    .map(([key, value]) => `${key} × ${count(value)}`)
    .join(', ')
  const latency = tally.latencyMs ? `; p50 ${tally.latencyMs.p50} ms, p99 ${tally.latencyMs.p99} ms` : ''
  return `${kind}: ${outcomes}${latency}`
}

/** How much each emulator holds (their inspection routes), to tell a growing cost from a busy machine. */
async function emulatorInventory(peers: PeersInfo): Promise<Record<string, number | undefined>> {
  const length = async (url: string) => {
    try {
      const answer = await callJson<unknown>('GET', url, { timeoutMs: 10_000 })
      return Array.isArray(answer.body) ? answer.body.length : typeof answer.body === 'number' ? answer.body : undefined
    } catch {
      return undefined
    }
  }
  return {
    'CRUD users (all states)': await length(`${peers.crud}/users/count?_st=PUBLIC,DRAFT,TRASH,DELETED`),
    'Rönd bindings': await length(`${peers.rond}/__emulator/bindings`),
    'Timer timers': await length(`${peers.timer}/__emulator/timers`),
    'Auth0 outbox': await length(`${peers.auth}/__emulator/outbox`),
  }
}

/** Cores busy in ums, the emulators (together) and the driver, from samples of [ums, driver, ...peers]. */
function cpuShares(before: CpuSample[], after: CpuSample[], wallMs: number): { ums: number; peers: number; driver: number } {
  const cores = before.map((sample, index) => cpuDelta(sample, after[index]!, wallMs).cores)
  const [ums = 0, driver = 0, ...peers] = cores
  return { ums, peers: round2(peers.reduce((sum, value) => sum + value, 0)), driver }
}

/** The median of each `spanS` seconds of a per-second series. */
function perSpan(perSecond: number[], spanS: number): number[] {
  const spans: number[] = []
  for (let start = 0; start < perSecond.length; start += spanS) spans.push(Math.round(median(perSecond.slice(start, start + spanS))))
  return spans
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const soakS = Math.round(envNumber('BENCH_SOAK_S', 300, 30))
  const loadShare = envNumber('BENCH_SOAK_LOAD', 0.85, 0.1, 1)
  const waitS = envNumber('BENCH_SOAK_WAIT_S', 3, 0)
  const capacityS = Math.round(envNumber('BENCH_SOAK_CAPACITY_S', 15, 3))
  const connections = ctx.settings.connections
  const recordFile = join(os.tmpdir(), `ums-soak-${process.pid}-${randomBytes(4).toString('hex')}.json`)
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, {}, children)
    const env = {
      WAIT_BEFORE_SERVER_CLOSE_SEC: String(waitS),
      // The production default (the sandbox's 2 s would turn a slow spell of the busy machine into 500s).
      UPSTREAM_TIMEOUT_MS: '10000',
      AUTH0_JOB_POLLING_INTERVAL: '1000',
      AUTH0_BULK_CHANGE_PASSWORD_RATE_LIMIT_PER_SECOND: '20',
    }
    const ums = await startChild<UmsInfo>({
      name: 'ums',
      entry: 'ums.ts',
      options: { peers: peers.info, env, shutdown: { recordFile }, gcCall: true } satisfies UmsOptions,
      cpuProfileDir: ctx.cpuProfileDir('ums'),
      nodeFlags: ['--expose-gc'],
    })
    children.push(ums)
    const driver = await startChild<{ pid: number }>({ name: 'soak-load', entry: 'soak-load.ts' })
    children.push(driver)

    const tag = randomBytes(3).toString('hex')
    const pool = Array.from({ length: POOL_USERS }, (_, index) => {
      const n = String(index + 1).padStart(5, '0')
      return { email: `pool.${tag}.${n}@example.com`, username: `pool.${tag}.${n}`, name: `Pool${n}`, surname: 'Soak' }
    })
    const authIds = await peers.main.call<string[]>('seedAuthUsers', { users: pool } satisfies SeedAuthUsersArg, 60_000)
    const byEmail = new Map((await peers.main.call<CrudUserBrief[]>('crudUsers')).map((user) => [user.email, user._id]))
    const crudIds = pool.map((user) => byEmail.get(user.email) ?? '')
    if (crudIds.some((id) => id === '')) throw new Error('soak: seeded users missing from the CRUD emulator')
    const setup: SetupArg = {
      url: ums.info.url,
      readIds: crudIds.slice(0, POOL_USERS - STATE_USERS),
      stateIds: crudIds.slice(POOL_USERS - STATE_USERS),
      authIds,
      tag,
    }
    await driver.call('setup', setup)

    // Capacity of the mix: closed loop, warm-up first (also ums's warm-up).
    ctx.log(`capacity: closed loop, ${connections} connections, ${WARMUP_S} s warm-up + ${capacityS} s`)
    const capacityCpuBefore = await cpuOf([ums, driver, ...peers.children])
    const capacityBusyBefore = machineBusyMs()
    const capacityStarted = now()
    const capacity = await driver.call<PhaseTally>('closedLoop', { connections, warmupS: WARMUP_S, durationS: capacityS }, (WARMUP_S + capacityS + 60) * 1000)
    const capacityCpu = cpuShares(capacityCpuBefore, await cpuOf([ums, driver, ...peers.children]), now() - capacityStarted)
    const capacityMachine = machineCores(capacityBusyBefore, machineBusyMs(), now() - capacityStarted)
    const capacityRps = capacity.wallS > 0 ? capacity.answered / capacity.wallS : 0
    const capacityCounts = outcomeCounts(capacity)
    if (capacityRps <= 0) throw new Error('soak: no request answered in the capacity run')
    const ratePerSec = Math.max(1, Math.round(capacityRps * loadShare))
    ctx.log(`capacity ${round1(capacityRps)} req/s (${capacityCounts.status5xx} 5xx, ${capacityCounts.errors} errors); soak at ${ratePerSec} req/s (${loadShare} ×) for ${soakS} s`)

    // The soak.
    const samples: RssSample[] = []
    const cpuBefore = await cpuOf([ums, driver, ...peers.children])
    const busyBefore = machineBusyMs()
    const loadAvgBefore = os.loadavg()
    const openLoop: OpenLoopArg = { ratePerSec, connections, importEveryMs: IMPORT_EVERY_MS, jobEveryMs: JOB_EVERY_MS }
    const { startedAtMs } = await driver.call<{ startedAtMs: number }>('startOpenLoop', openLoop)
    const sampleRss = () => {
      const bytes = ums.pid === undefined ? undefined : residentBytes(ums.pid)
      if (bytes !== undefined) samples.push({ tS: round2((now() - startedAtMs) / 1000), mb: round2(bytes / MB) })
    }
    sampleRss()
    const sampler = setInterval(sampleRss, 1_000)
    const gcPoints: GcPoint[] = []
    const gcEveryS = soakS / GC_POINTS
    // V8 gives the freed pages back a little after the collection (a background task): the lowest
    // VmRSS of the next 2 s is the point.
    const gcPoint = async () => {
      const memory = await ums.call<NodeJS.MemoryUsage>('gc')
      const tS = round2((now() - startedAtMs) / 1000)
      let lowest = memory.rss
      for (let read = 0; read < 20; read += 1) {
        const bytes = ums.pid === undefined ? undefined : residentBytes(ums.pid)
        if (bytes !== undefined) lowest = Math.min(lowest, bytes)
        await sleep(100)
      }
      gcPoints.push({ tS, mb: round2(lowest / MB), heapUsedMB: round2(memory.heapUsed / MB) })
    }
    let nextGc = gcEveryS
    // CPU per answered request in each 30 s span: a cost that grows with the run shows here.
    const spans: Array<{ untilS: number; answered: number; umsCpuMsPerRequest: number; peersCpuMsPerRequest: number }> = []
    let spanStart = { answered: 0, cpu: cpuBefore }
    const inventoryBefore = await emulatorInventory(peers.info)
    let nextLog = 30
    try {
      for (;;) {
        const elapsedS = (now() - startedAtMs) / 1000
        if (elapsedS >= soakS) break
        if (elapsedS >= nextGc && nextGc < soakS - 0.5) {
          nextGc += gcEveryS
          await gcPoint()
        }
        if (elapsedS >= nextLog) {
          nextLog += 30
          const progress = await driver.call<{ inFlight: number; shed: number; soak: { requests: number; answered: number; errors: number; status5xx: number } }>('progress')
          const cpu = await cpuOf([ums, driver, ...peers.children])
          const answered = progress.soak.answered - spanStart.answered
          const perRequest = (index: number) => (answered > 0 ? round2(cpuDelta(spanStart.cpu[index]!, cpu[index]!, 1).cpuMs / answered) : 0)
          const span = {
            untilS: Math.round(elapsedS),
            answered,
            umsCpuMsPerRequest: perRequest(0),
            peersCpuMsPerRequest: round2(peers.children.reduce((sum, _child, index) => sum + perRequest(index + 2), 0)),
          }
          spans.push(span)
          spanStart = { answered: progress.soak.answered, cpu }
          ctx.log(
            `  ${Math.round(elapsedS)} s: ${count(progress.soak.answered)} answered (${round1(progress.soak.answered / elapsedS)} req/s), ` +
              `${progress.soak.status5xx} 5xx, ${progress.soak.errors} errors, ${progress.inFlight} in flight, ${progress.shed} shed; ums RSS ${samples.at(-1)?.mb ?? '?'} MB; ` +
              `CPU ms per answer: ums ${span.umsCpuMsPerRequest}, emulators ${span.peersCpuMsPerRequest}`,
          )
        }
        await sleep(Math.min(250, Math.max(0, (soakS - elapsedS) * 1000)))
      }
    } finally {
      clearInterval(sampler)
    }
    sampleRss()
    await gcPoint()
    const soakWallMs = now() - startedAtMs
    const cpuAfter = await cpuOf([ums, driver, ...peers.children])
    const busyAfter = machineBusyMs()
    const soakCpu = cpuShares(cpuBefore, cpuAfter, soakWallMs)
    const machine = machineCores(busyBefore, busyAfter, soakWallMs)

    const inventoryAfter = await emulatorInventory(peers.info)

    // SIGTERM under the load.
    await ums.call('recordFrom')
    const mark = await driver.call<{ seq: number; atMs: number; inFlight: number }>('mark')
    const signalAtMs = now()
    ctx.log(`SIGTERM to ums (pid ${ums.pid}) with ${mark.inFlight} requests in flight; WAIT_BEFORE_SERVER_CLOSE_SEC=${waitS}`)
    const exited = ums.kill('SIGTERM')
    const exitLimitMs = (waitS + 30) * 1000
    const exitedInTime = await Promise.race([exited.then(() => true), sleep(exitLimitMs).then(() => false)])
    if (!exitedInTime) {
      ctx.log(`ums still running ${exitLimitMs / 1000} s after SIGTERM: SIGKILL`)
      await ums.kill('SIGKILL')
    }
    await sleep(AFTER_EXIT_MS)
    const { stats, records } = await driver.call<{ stats: DriverStats; records: RequestRecord[] }>('stop', { drainMs: 15_000 }, 60_000)
    let server: ShutdownRecord | undefined
    try {
      server = JSON.parse(readFileSync(recordFile, 'utf8')) as ShutdownRecord
    } catch (error) {
      ctx.log(`no shutdown record from ums: ${error instanceof Error ? error.message : String(error)}`)
    }
    const shutdown = classify(records, server, signalAtMs, ums.exit)
    ctx.log(
      `  exit ${shutdown.exitSignal ?? shutdown.exitCode} after ${shutdown.exitMs} ms (close began at ${shutdown.closeStartedMs} ms, done at ${shutdown.closedMs} ms); ` +
        `${shutdown.answered} answered, ${shutdown.lost} lost, ${shutdown.refused} refused, ${shutdown.cut.reused + shutdown.cut.fresh} cut`,
    )

    // Bars.
    const soakTally = stats.phases.soak
    const soakCounts = outcomeCounts(soakTally)
    const shutdownCounts = outcomeCounts(stats.phases.shutdown)
    const soakRps = soakTally && soakTally.wallS > 0 ? soakTally.answered / soakTally.wallS : 0
    const trend = rssTrend(samples, gcPoints, soakS)
    const signed = (value: number) => `${value >= 0 ? '+' : ''}${value}`
    const exitOk = shutdown.exitCode === 0 && shutdown.exitSignal === null && shutdown.exitMs !== undefined && shutdown.exitMs <= (waitS + EXIT_MARGIN_S) * 1000
    const answeredText = Object.entries(shutdown.answeredByStatus)
      .map(([status, n]) => `${n} × ${status}`)
      .join(', ')
    const rows: BarRow[] = [
      {
        check: `${soakS} s of mixed traffic: 5xx and transport errors`,
        baseline: `capacity ${count(capacityRps)} req/s`,
        measured:
          `${soakCounts.status5xx + shutdownCounts.status5xx} 5xx, ${soakCounts.errors} errors of ${count(soakTally?.requests ?? 0)} requests ` +
          `(${count(soakRps)} req/s offered ${ratePerSec})`,
        value: soakCounts.status5xx + shutdownCounts.status5xx + soakCounts.errors,
        bar: '0 5xx, 0 errors',
        pass: soakCounts.status5xx + shutdownCounts.status5xx + soakCounts.errors === 0 && (soakTally?.requests ?? 0) > 0,
      },
      {
        check: `ums RSS after a full GC, every ${round1(gcEveryS)} s after ${trend.warmupS} s: growth`,
        baseline: `${trend.afterGc.firstMB} MB at ${gcPoints.find((p) => p.tS >= trend.warmupS)?.tS ?? '?'} s`,
        measured: `${trend.afterGc.lastMB} MB at ${gcPoints.at(-1)?.tS ?? '?'} s; ${signed(trend.afterGc.slopeMBPerMin)} MB/min (heap ${signed(trend.afterGc.heapSlopeMBPerMin)} MB/min)`,
        value: trend.afterGc.slopeMBPerMin,
        bar: `≤ ${RSS_SLOPE_BAR_MB_PER_MIN} MB/min`,
        pass: trend.afterGc.judged >= 3 && trend.afterGc.slopeMBPerMin <= RSS_SLOPE_BAR_MB_PER_MIN,
      },
      {
        check: 'SIGTERM under load: accepted requests lost',
        baseline: '',
        measured:
          `${shutdown.lost} lost; ${count(shutdown.answered)} answered after the mark (${answeredText}), ${shutdown.answeredAfterCloseStart} of them in flight at close; ` +
          `${count(shutdown.refused)} refused, ${shutdown.cut.reused + shutdown.cut.fresh} cut unread`,
        value: shutdown.lost,
        bar: '0',
        pass: shutdown.lost === 0 && server !== undefined,
      },
      {
        check: 'SIGTERM: exit',
        baseline: '',
        measured: `${shutdown.exitSignal ?? `code ${shutdown.exitCode}`} after ${round2((shutdown.exitMs ?? 0) / 1000)} s (close ${round2((shutdown.closeStartedMs ?? 0) / 1000)}–${round2((shutdown.closedMs ?? 0) / 1000)} s)`,
        value: round2((shutdown.exitMs ?? 0) / 1000),
        bar: `code 0, ≤ ${waitS + EXIT_MARGIN_S} s`,
        pass: exitOk,
      },
    ]

    const kinds = Object.entries(soakTally?.byKind ?? {}).sort(([a], [b]) => a.localeCompare(b))
    const capacityKinds = Object.entries(capacity.byKind)
      .map(([kind, tally]) => `${kind} ${count(Object.values(tally.outcomes).reduce((sum, n) => sum + n, 0))}`)
      .join(', ')
    const notes = [
      `capacity: closed loop, ${connections} connections, ${capacityS} s after ${WARMUP_S} s warm-up: ${round1(capacityRps)} req/s of the mix ` +
        `(${capacityCounts.status5xx} 5xx, ${capacityCounts.errors} errors, ${capacityCounts.status4xx} 4xx; ${capacityKinds})`,
      `soak: open loop at ${ratePerSec} req/s (${loadShare} × capacity) through at most ${openLoop.connections} connections for ${round1(soakWallMs / 1000)} s: ` +
        `${count(soakTally?.answered ?? 0)} answered (${round1(soakRps)} req/s), ${soakCounts.status4xx} 4xx, ${stats.shed} arrivals shed (over ${stats.openLoop?.maxOutstanding} outstanding); latencies from the scheduled time`,
      `answered per second, by 30 s span (median of its seconds): ${perSpan(stats.answeredPerSecond, 30).join(', ')}`,
      ...kinds.map(([kind, tally]) => `  ${kindLine(kind, tally)}`),
      `imports: ${stats.imports.posted} posted, ${count(stats.imports.rowsInserted)} rows inserted, ${count(stats.imports.rowsUpdated)} updated, ${stats.imports.rowsInvalid} invalid${stats.imports.invalidSamples.length > 0 ? ` (${stats.imports.invalidSamples.join('; ')})` : ''}; ` +
        `activation jobs: ${stats.jobs.activation.posted} (${JSON.stringify(stats.jobs.activation.ended)}, items ${JSON.stringify(stats.jobs.activation.items)}); ` +
        `change-password jobs: ${stats.jobs.changePassword.posted} (${JSON.stringify(stats.jobs.changePassword.ended)}, items ${JSON.stringify(stats.jobs.changePassword.items)}); ` +
        `jobs still running at the SIGTERM end unfinished (in-memory job store)`,
      `busy cores (ums / emulators / load driver / whole machine of ${os.cpus().length}): capacity run ${capacityCpu.ums} / ${capacityCpu.peers} / ${capacityCpu.driver} / ${capacityMachine ?? '?'}, ` +
        `soak ${soakCpu.ums} / ${soakCpu.peers} / ${soakCpu.driver} / ${machine ?? '?'} (load average ${loadAvgBefore.map((l) => l.toFixed(1)).join(' ')} before the soak)`,
      `ums RSS after each full GC (MB at s): ${gcPoints.map((p) => `${p.mb}@${Math.round(p.tS)}`).join(', ')}; heap used after it: ${gcPoints.map((p) => p.heapUsedMB).join(', ')} MB; warm-up ${trend.warmupS} s not judged`,
      `ums RSS every second (raw, with the sawtooth; not judged): ${trend.raw.startMB} MB at the start of the soak, ${trend.raw.endMB} MB at its end, peak ${trend.raw.peakMB} MB; ` +
        `median ${trend.raw.firstMedianMB} MB over ${trend.raw.firstWindow[0]}–${trend.raw.firstWindow[1]} s, ${trend.raw.lastMedianMB} MB over ${trend.raw.lastWindow[0]}–${trend.raw.lastWindow[1]} s, slope ${signed(trend.raw.slopeMBPerMin)} MB/min`,
      `SIGTERM: ${mark.inFlight} requests in flight at the driver, ${shutdown.inFlightAtSignal} in ums at the signal, ${shutdown.inFlightAtClose} at close(), ${shutdown.inFlightAtExit} at exit; ` +
        `ums read ${count(shutdown.readAfterSignal)} requests from the mark on; cut unread: ${shutdown.cut.reused} on reused keep-alive connections, ${shutdown.cut.fresh} on new ones ${JSON.stringify(shutdown.cut.byError)}`,
      `CPU ms per answered request by 30 s span (ums / emulators): ${spans.map((span) => `${span.umsCpuMsPerRequest}/${span.peersCpuMsPerRequest}`).join(', ')}`,
      `emulator contents at the start → end of the soak: ${Object.keys(inventoryAfter)
        .map((name) => `${name} ${inventoryBefore[name] ?? '?'} → ${inventoryAfter[name] ?? '?'}`)
        .join(', ')}`,
      ...(stats.statusSamples.length > 0 ? [`first 4xx/5xx answers: ${stats.statusSamples.slice(0, 5).join(' | ')}`] : []),
      ...(stats.errorSamples.length > 0 ? [`first transport errors: ${stats.errorSamples.slice(0, 5).join(' | ')}`] : []),
    ]
    const url = ums.info.url
    return {
      rows,
      commands: [
        `BENCH_SOAK_S=${soakS} BENCH_SOAK_LOAD=${loadShare} BENCH_SOAK_WAIT_S=${waitS} BENCH_CONNECTIONS=${connections} npm run bench -- soak   # driver: bench/servers/soak-load.ts`,
        `curl -s '${url}/users/?_l=25&_sk=0'; curl -s ${url}/users/count; curl -s ${url}/users/<id>`,
        `curl -s -X POST ${url}/users/ -H 'content-type: application/json' -d '{"userGroup":"customer","name":"N","surname":"S","email":"e@example.com","username":"u","roles":["customer-basic"],"expirationDate":"2035-01-01T00:00:00.000Z"}'`,
        `curl -s -X PATCH ${url}/users/<id> -H 'content-type: application/json' -d '{"$set":{"age":30,"roles":["customer-premium"]}}'; curl -s -X DELETE ${url}/users/<id>`,
        `curl -s -X POST ${url}/users/state -H 'content-type: application/json' -d '[{"filter":{"_id":"<id>"},"stateTo":"DRAFT"}]'`,
        `curl -s -X PATCH ${url}/users/import -F 'file=@users.csv;type=text/csv' -F 'delimiter=;'   # header _id;userGroup;name;surname;email;username;age;tags`,
        `curl -s -X POST ${url}/jobs/bulk-activation -H 'content-type: application/json' -d '[{"filter":{"userId":"<id>"}}]'; curl -s -X POST ${url}/jobs/change-password/bulk -d '{"authUsersIds":["<auth id>"]}' -H 'content-type: application/json'`,
        `kill -TERM ${ums.pid}   # after ${soakS} s, WAIT_BEFORE_SERVER_CLOSE_SEC=${waitS}`,
      ],
      notes,
      details: {
        settings: { soakS, loadShare, waitS, capacityS, connections, openLoop, umsEnv: env, poolUsers: POOL_USERS, stateUsers: STATE_USERS, importEveryMs: IMPORT_EVERY_MS, jobEveryMs: JOB_EVERY_MS },
        capacity: { ...capacity, requestsPerSec: round1(capacityRps), cpuCores: capacityCpu, machineCores: capacityMachine },
        soak: { ...stats, requestsPerSec: round1(soakRps), cpuCores: soakCpu, spans, emulatorContents: { before: inventoryBefore, after: inventoryAfter }, machineCores: machine, loadAverageBefore: loadAvgBefore },
        rss: { trend, samples },
        shutdown: { ...shutdown, mark, server: server && { ...server, received: server.received.length, answered: server.answered.length } },
      },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
    rmSync(recordFile, { force: true })
  }
}

export const soakScenario: Scenario = {
  name: 'soak',
  description: 'BENCH_SOAK_S (300) s of mixed traffic at 0.85 × the measured capacity: no 5xx, no RSS growth trend, then a SIGTERM under load losing no accepted request',
  run,
}
