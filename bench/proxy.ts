// The proxy bar: `GET /users/` and `GET /users/count` of ums against a bare
// @fastify/reply-from proxy in front of the same CRUD emulator process. Same query strings, same
// connections and durations, warm-up first, then A/B rounds whose order alternates (A B, B A, ...)
// so a drift of the machine weighs on both sides alike.
//
// Then each proxy's own CPU cost: CPU time per request (process.cpuUsage of the proxy's process)
// with both proxies loaded at once, each at one fixed rate (open loop, bench/servers/paced-load.ts),
// so that whatever else the machine runs weighs on both alike; the ratio is the median of the
// rounds'. Closed-loop runs give a CPU time per request too, but it moves with the rate each run
// reached (how many requests share an event-loop turn), which on a busy machine follows the other
// processes more than the proxy.
import { startChild, type ServerChild } from './children.js'
import { median } from './common.js'
import { benchUsers } from './data.js'
import { LoadGenerator, PacedLoad, type LoadResult } from './load.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { CpuSample } from './servers/ipc.js'
import type { PeersInfo, PeersOptions, SeedArg } from './servers/peers.js'
import type { PacedTargetResult } from './servers/paced-load.js'
import type { ReplyFromInfo, ReplyFromOptions } from './servers/reply-from.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'
import { USERS_ENDPOINT } from '../src/sandbox/fixtures.js'

const BAR = 0.9
/** Bar of ums's CPU time per request over the bare proxy's, at the fixed rate. */
const CPU_BAR = 1.05
/**
 * The fixed rate of each proxy, when BENCH_PROXY_CPU_RATE is unset: this share of the lower
 * closed-loop rate, so that the emulator, answering both, stays below what it can do.
 */
const CPU_RATE_SHARE = 0.3
/** Users seeded in the CRUD emulator (BENCH_PROXY_USERS): its cost per request grows with them. */
const DEFAULT_USERS = 1_000
/** Above this many cores busy in the emulator process the runs are bound by it, not by the proxies. */
const EMULATOR_BOUND_CORES = 0.85

const ROUTES = [
  { check: 'GET /users/', path: '/users/?_l=25' },
  { check: 'GET /users/count', path: '/users/count' },
] as const

type Side = 'baseline' | 'ums'

interface Target {
  side: Side
  url: string
  child: ServerChild<unknown>
}

export interface Run extends LoadResult {
  round: number
  side: Side
  /** CPU time of the proxy process per completed request, microseconds (user + system). */
  proxyCpuUsPerRequest: number
  /** Same for the emulators' process. */
  peersCpuUsPerRequest: number
  /** Average cores busy in the proxy and in the emulators' process during the run. */
  proxyCpuCores: number
  peersCpuCores: number
  proxyRssMB: number
}

/** One fixed-rate run of one proxy. */
export interface CpuRun {
  round: number
  side: Side
  ratePerSec: number
  sent: number
  failed: number
  shed: number
  /** CPU time of the proxy process per request sent, microseconds (user + system). */
  proxyCpuUsPerRequest: number
  peersCpuUsPerRequest: number
}

interface SideSummary {
  requestsPerSec: number
  requests: number
  durationS: number
  proxyCpuUsPerRequest: number
  peersCpuCores: number
  latencyP99Ms: number[]
}

function cpuUs(before: CpuSample, after: CpuSample): number {
  return after.userUs - before.userUs + (after.systemUs - before.systemUs)
}

function summarize(runs: Run[]): SideSummary {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0)
  const durationS = runs.reduce((sum, run) => sum + run.durationS, 0)
  const cpu = runs.reduce((sum, run) => sum + run.proxyCpuUsPerRequest * run.requests, 0)
  const peersCores = runs.reduce((sum, run) => sum + run.peersCpuCores * run.durationS, 0)
  return {
    requestsPerSec: round2(durationS > 0 ? requests / durationS : 0),
    requests,
    durationS: round2(durationS),
    proxyCpuUsPerRequest: round2(requests > 0 ? cpu / requests : 0),
    peersCpuCores: round2(durationS > 0 ? peersCores / durationS : 0),
    latencyP99Ms: runs.map((run) => run.latencyMs.p99),
  }
}

const round2 = (value: number) => Math.round(value * 100) / 100
const round3 = (value: number) => Math.round(value * 1000) / 1000
const perSec = (value: number) => `${Math.round(value).toLocaleString('en-US')} req/s`

/** Both proxies must give the same answer, or the comparison would not be of like with like. */
async function sameAnswer(baseline: string, ums: string, path: string): Promise<number> {
  const [expected, actual] = await Promise.all([fetch(baseline + path), fetch(ums + path)])
  const [expectedBody, actualBody] = await Promise.all([expected.text(), actual.text()])
  if (expected.status !== 200 || actual.status !== 200) {
    throw new Error(`GET ${path}: baseline ${expected.status}, ums ${actual.status}: ${actualBody.slice(0, 300)}`)
  }
  if (expectedBody !== actualBody) throw new Error(`GET ${path}: ums and the baseline answer different bodies`)
  return Buffer.byteLength(actualBody)
}

async function measure(ctx: BenchContext, load: LoadGenerator, target: Target, peers: ServerChild<PeersInfo>, path: string, round: number): Promise<Run> {
  const { connections, durationS } = ctx.settings
  const [proxyBefore, peersBefore] = await Promise.all([target.child.cpu(), peers.cpu()])
  const result = await load.run({ url: target.url + path, connections, durationS })
  const [proxyAfter, peersAfter] = await Promise.all([target.child.cpu(), peers.cpu()])
  const requests = Math.max(result.requests, 1)
  const wallUs = Math.max(result.durationS, 0.001) * 1e6
  const run: Run = {
    ...result,
    requestsPerSec: round2(result.requestsPerSec),
    round,
    side: target.side,
    proxyCpuUsPerRequest: round2(cpuUs(proxyBefore, proxyAfter) / requests),
    peersCpuUsPerRequest: round2(cpuUs(peersBefore, peersAfter) / requests),
    proxyCpuCores: round2(cpuUs(proxyBefore, proxyAfter) / wallUs),
    peersCpuCores: round2(cpuUs(peersBefore, peersAfter) / wallUs),
    proxyRssMB: round2(proxyAfter.rssBytes / 2 ** 20),
  }
  ctx.log(
    `  round ${round} ${target.side.padEnd(8)} ${perSec(run.requestsPerSec).padStart(12)}  p99 ${String(run.latencyMs.p99).padStart(3)} ms  ` +
      `proxy ${Math.round(run.proxyCpuUsPerRequest)} µs/req (${run.proxyCpuCores} core)  ` +
      `emulator ${Math.round(run.peersCpuUsPerRequest)} µs/req (${run.peersCpuCores} core)`,
  )
  return run
}

/** One fixed-rate round: both proxies at once, each at `ratePerSec`, over the same seconds. */
async function measureCpu(ctx: BenchContext, paced: PacedLoad, targets: Record<Side, Target>, peers: ServerChild<PeersInfo>, path: string, ratePerSec: number, round: number): Promise<CpuRun[]> {
  const { connections, durationS } = ctx.settings
  const sides = ['baseline', 'ums'] as const
  const before = await Promise.all([...sides.map((side) => targets[side].child.cpu()), peers.cpu()])
  const result = await paced.run({ urls: sides.map((side) => targets[side].url + path), ratePerSec, durationS, connections })
  const after = await Promise.all([...sides.map((side) => targets[side].child.cpu()), peers.cpu()])
  const peersUs = cpuUs(before[2] as CpuSample, after[2] as CpuSample)
  const sent = result.targets.reduce((sum, target) => sum + target.sent, 0)
  return sides.map((side, index) => {
    const target = result.targets[index] as PacedTargetResult
    const run: CpuRun = {
      round,
      side,
      ratePerSec,
      sent: target.sent,
      failed: target.failed,
      shed: target.shed,
      proxyCpuUsPerRequest: round2(cpuUs(before[index] as CpuSample, after[index] as CpuSample) / Math.max(target.sent, 1)),
      peersCpuUsPerRequest: round2(peersUs / Math.max(sent, 1)),
    }
    ctx.log(
      `  cpu round ${round} ${side.padEnd(8)} ${ratePerSec} req/s: ${target.sent} sent, ${target.failed} failed, ${target.shed} shed  ` +
        `proxy ${Math.round(run.proxyCpuUsPerRequest)} µs/req  emulator ${Math.round(run.peersCpuUsPerRequest)} µs/req`,
    )
    return run
  })
}

/** BENCH_PROXY_CPU_RATE, or a share of the lower closed-loop rate (rounded to 25 req/s). */
function cpuRate(closedLoopRates: number[]): number {
  const raw = process.env.BENCH_PROXY_CPU_RATE
  if (raw !== undefined && raw !== '') {
    const rate = Number(raw)
    if (!Number.isFinite(rate) || rate < 10) throw new Error('BENCH_PROXY_CPU_RATE must be a number ≥ 10')
    return Math.round(rate)
  }
  return Math.max(25, Math.round((Math.min(...closedLoopRates) * CPU_RATE_SHARE) / 25) * 25)
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const { settings } = ctx
  const users = Math.round(Number(process.env.BENCH_PROXY_USERS ?? DEFAULT_USERS))
  if (!Number.isFinite(users) || users < 25) throw new Error('BENCH_PROXY_USERS must be a number ≥ 25')
  const children: Array<{ stop(): Promise<void> }> = []
  // The load generator starts alongside the servers; it is stopped with them whatever happens.
  const loadStarting = LoadGenerator.start().then((load) => {
    children.push(load)
    return load
  })
  loadStarting.catch(() => undefined)
  const pacedStarting = PacedLoad.start().then((paced) => {
    children.push(paced)
    return paced
  })
  pacedStarting.catch(() => undefined)
  try {
    const peers = await startChild<PeersInfo>({
      name: 'peers',
      entry: 'peers.ts',
      options: {} satisfies PeersOptions,
      cpuProfileDir: ctx.cpuProfileDir('peers'),
    })
    children.push(peers)
    await peers.call('seed', { path: USERS_ENDPOINT, docs: benchUsers(users) } satisfies SeedArg)

    const [ums, baseline] = await Promise.all([
      startChild<UmsInfo>({ name: 'ums', entry: 'ums.ts', options: { peers: peers.info } satisfies UmsOptions, cpuProfileDir: ctx.cpuProfileDir('ums') }),
      startChild<ReplyFromInfo>({
        name: 'baseline',
        entry: 'reply-from.ts',
        options: { upstream: peers.info.crud, routes: ['/users/', '/users/count'] } satisfies ReplyFromOptions,
        cpuProfileDir: ctx.cpuProfileDir('baseline'),
      }),
    ])
    children.push(ums, baseline)
    const load = await loadStarting
    const paced = await pacedStarting
    const targets: Record<Side, Target> = {
      baseline: { side: 'baseline', url: baseline.info.url, child: baseline },
      ums: { side: 'ums', url: ums.info.url, child: ums },
    }

    const rows: BarRow[] = []
    const routes = []
    const commands: string[] = []
    const notes: string[] = [
      `ratio = median over ${settings.rounds} rounds of ums/baseline req/s (a round runs both back to back, order alternating); req/s columns pool all rounds`,
    ]
    for (const route of ROUTES) {
      const responseBytes = await sameAnswer(baseline.info.url, ums.info.url, route.path)
      ctx.log(`${route.check} (${route.path}, ${responseBytes} bytes per answer): warm-up ${settings.warmupS} s each`)
      for (const side of ['baseline', 'ums'] as const) {
        await load.run({ url: targets[side].url + route.path, connections: settings.connections, durationS: settings.warmupS })
      }
      const runs: Run[] = []
      for (let round = 1; round <= settings.rounds; round++) {
        const order: Side[] = round % 2 === 1 ? ['baseline', 'ums'] : ['ums', 'baseline']
        for (const side of order) runs.push(await measure(ctx, load, targets[side], peers, route.path, round))
      }
      commands.push(...runs.map((run) => run.command))

      const sides = { baseline: summarize(runs.filter((r) => r.side === 'baseline')), ums: summarize(runs.filter((r) => r.side === 'ums')) }
      const pooledRatio = sides.baseline.requestsPerSec > 0 ? sides.ums.requestsPerSec / sides.baseline.requestsPerSec : 0
      // Each round pairs two adjacent runs; the median of the rounds' ratios shrugs off one disturbed run.
      const roundRatios = Array.from({ length: settings.rounds }, (_, index) => {
        const of = (side: Side) => runs.find((r) => r.round === index + 1 && r.side === side)?.requestsPerSec ?? 0
        return of('baseline') > 0 ? round3(of('ums') / of('baseline')) : 0
      })
      const ratio = median(roundRatios)
      const cpuRatio = sides.baseline.proxyCpuUsPerRequest > 0 ? sides.ums.proxyCpuUsPerRequest / sides.baseline.proxyCpuUsPerRequest : 0
      const closedLoopCpuRatios = Array.from({ length: settings.rounds }, (_, index) => {
        const of = (side: Side) => runs.find((r) => r.round === index + 1 && r.side === side)?.proxyCpuUsPerRequest ?? 0
        return of('baseline') > 0 ? round3(of('ums') / of('baseline')) : 0
      })
      const emulatorCores = Math.max(sides.baseline.peersCpuCores, sides.ums.peersCpuCores)
      notes.push(
        `${route.check}: round ratios ${roundRatios.map((r) => r.toFixed(2)).join(', ')} (pooled ${pooledRatio.toFixed(2)}); ` +
          `proxy CPU per request ums ${Math.round(sides.ums.proxyCpuUsPerRequest)} µs vs baseline ${Math.round(sides.baseline.proxyCpuUsPerRequest)} µs (×${cpuRatio.toFixed(2)}; round ratios ${closedLoopCpuRatios.map((r) => r.toFixed(2)).join(', ')}); ` +
          `CRUD emulator ${emulatorCores.toFixed(2)} core busy` +
          (emulatorCores >= EMULATOR_BOUND_CORES ? ' — emulator-bound: the throughput ratio understates the proxy cost' : ''),
      )
      const failures = runs.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0)

      // Own CPU cost: both proxies at once, at one fixed rate each.
      const ratePerSec = cpuRate([sides.baseline.requestsPerSec, sides.ums.requestsPerSec])
      // A first paced run settles both (connections, caches) after the closed-loop runs; not measured.
      await paced.run({ urls: [targets.baseline.url + route.path, targets.ums.url + route.path], ratePerSec, durationS: 1, connections: settings.connections })
      const cpuRuns: CpuRun[] = []
      for (let round = 1; round <= settings.rounds; round++) cpuRuns.push(...(await measureCpu(ctx, paced, targets, peers, route.path, ratePerSec, round)))
      const cpuOf = (side: Side, round?: number) => {
        const picked = cpuRuns.filter((r) => r.side === side && (round === undefined || r.round === round))
        const sent = picked.reduce((sum, r) => sum + r.sent, 0)
        return sent > 0 ? picked.reduce((sum, r) => sum + r.proxyCpuUsPerRequest * r.sent, 0) / sent : 0
      }
      const cpuRoundRatios = Array.from({ length: settings.rounds }, (_, index) =>
        cpuOf('baseline', index + 1) > 0 ? round3(cpuOf('ums', index + 1) / cpuOf('baseline', index + 1)) : 0,
      )
      const fixedRateCpuRatio = median(cpuRoundRatios)
      const cpuFailures = cpuRuns.reduce((sum, r) => sum + r.failed, 0)
      const cpuShed = cpuRuns.reduce((sum, r) => sum + r.shed, 0)
      notes.push(
        `${route.check}: CPU per request at ${ratePerSec} req/s each (open loop, both proxies at once): ums ${Math.round(cpuOf('ums'))} µs vs baseline ${Math.round(cpuOf('baseline'))} µs; ` +
          `round ratios ${cpuRoundRatios.map((r) => r.toFixed(2)).join(', ')} (median ×${fixedRateCpuRatio.toFixed(2)})` +
          (cpuFailures > 0 ? `; ${cpuFailures} requests failed` : '') +
          (cpuShed > 0 ? `; ${cpuShed} arrivals shed (a proxy had twice the connections in flight: the machine did not keep up with the rate then)` : ''),
      )
      rows.push({
        check: route.check,
        baseline: perSec(sides.baseline.requestsPerSec),
        measured: failures > 0 ? `${perSec(sides.ums.requestsPerSec)} (${failures} failed)` : perSec(sides.ums.requestsPerSec),
        value: round3(ratio),
        bar: `≥ ${BAR.toFixed(2)}`,
        pass: ratio >= BAR && failures === 0,
      })
      rows.push({
        check: `${route.check} CPU per request`,
        baseline: `${Math.round(cpuOf('baseline'))} µs`,
        measured: `${Math.round(cpuOf('ums'))} µs at ${ratePerSec} req/s` + (cpuFailures > 0 ? ` (${cpuFailures} failed)` : ''),
        value: round3(fixedRateCpuRatio),
        bar: `≤ ${CPU_BAR.toFixed(2)}`,
        pass: fixedRateCpuRatio <= CPU_BAR && cpuFailures === 0,
      })
      routes.push({
        route: route.check,
        path: route.path,
        responseBytes,
        ratio: round3(ratio),
        ratioMethod: 'median of the rounds\' ums/baseline req/s',
        pooledRatio: round3(pooledRatio),
        roundRatios,
        proxyCpuPerRequestRatio: round3(cpuRatio),
        proxyCpuPerRequestRoundRatios: closedLoopCpuRatios,
        failedRequests: failures,
        baseline: sides.baseline,
        ums: sides.ums,
        runs,
        fixedRateCpu: {
          ratePerSec,
          ratio: round3(fixedRateCpuRatio),
          ratioMethod: 'median of the rounds\' ums/baseline CPU time per request',
          roundRatios: cpuRoundRatios,
          baselineUsPerRequest: round2(cpuOf('baseline')),
          umsUsPerRequest: round2(cpuOf('ums')),
          failed: cpuFailures,
          shed: cpuShed,
          runs: cpuRuns,
        },
      })
    }
    return {
      rows,
      commands,
      notes,
      details: {
        users,
        baseline: '@fastify/reply-from (defaults), Fastify logger off',
        ums: 'src/app.ts, LOG_LEVEL silent',
        routes,
      },
    }
  } finally {
    await Promise.allSettled([loadStarting, pacedStarting])
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const proxyScenario: Scenario = {
  name: 'proxy',
  description: 'GET /users/ and /users/count throughput and CPU per request vs a bare @fastify/reply-from proxy',
  run,
}
