// The latency scenario: what the multi-step routes cost when every peer is a network hop away.
// Every emulator answers every call BENCH_PEER_LATENCY_MS late (default 20; the emulators'
// `latencyMs`), so an operation costs about its number of sequential peer round trips. For each
// route of CASES (below) it prepares its inputs (not measured), then sends the measured requests
// one after the other and reports the median time, the peer calls per request (counted at the
// emulators, per peer) and the median time divided by the latency: the round trips. The bars on
// the round trips decide the exit code.
//
// A route is added by adding a case to CASES: how to prepare one input, and the request it makes.
import { startChild, type ServerChild } from './children.js'
import { callJson, median, round1 } from './common.js'
import { startPeers, type Peers } from './peers.js'
import type { BarRow, BenchContext, Scenario, ScenarioResult } from './scenario.js'
import type { PeerStats, SeedAuthArg, StatsAnswer } from './servers/peers.js'
import type { UmsInfo, UmsOptions } from './servers/ums.js'

const DEFAULT_LATENCY_MS = 20
/** Measured requests per route (BENCH_LATENCY_RUNS). */
const DEFAULT_RUNS = 15
/** Requests per route sent before the measured ones (JIT, connection pools, the Auth0 token). */
const WARMUP = 2
/** Inputs prepared at once (each preparation makes its own sequential peer calls). */
const PREPARE_CONCURRENCY = 8

/** The peers in the order they are reported. */
const PEERS = ['crud', 'auth', 'rond', 'timer'] as const
type Peer = (typeof PEERS)[number]
const PEER_LABEL: Record<Peer, string> = { crud: 'CRUD', auth: 'AUTH', rond: 'ROND', timer: 'TIMER' }

interface CaseEnv {
  umsUrl: string
  peers: Peers
  /** Unique per input of the run: emails and usernames must not collide. */
  unique(): string
}

interface MeasuredRequest {
  method: 'POST' | 'PATCH' | 'DELETE'
  path: string
  json?: unknown
}

interface LatencyCase<Input> {
  /** The route as the table shows it. */
  route: string
  /** The bar on its round trips, where one is set. */
  maxRoundTrips?: number
  /** One input of a measured request; it may call ums (with the latency) and seed the emulators. */
  prepare(env: CaseEnv): Promise<Input>
  request(input: Input): MeasuredRequest
  /** The status every measured request must get. */
  status: number
}

/** A date far enough ahead that no expiry timer fires during the run. */
const inAYear = (days = 0) => new Date(Date.now() + (365 + days) * 86_400_000).toISOString()

function customer(env: CaseEnv, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const id = env.unique()
  return { userGroup: 'customer', name: 'Lat', surname: `Ency${id}`, email: `latency-${id}@example.com`, username: `latency-${id}`, ...extra }
}

/** A user created through ums with roles and an expiration date: an auth user, a Rönd binding and an expiry timer. */
async function createdUser(env: CaseEnv): Promise<string> {
  const answer = await callJson<{ _id: string }>('POST', `${env.umsUrl}/users/`, {
    json: customer(env, { roles: ['customer-basic'], expirationDate: inAYear() }),
  })
  if (answer.status !== 200) throw new Error(`preparing a user: POST /users/ answered ${answer.status}: ${answer.text.slice(0, 300)}`)
  return answer.body._id
}

/** Each input type is checked where the case is written; the list holds them side by side. */
function latencyCase<Input>(definition: LatencyCase<Input>): LatencyCase<unknown> {
  return definition as LatencyCase<unknown>
}

/** The multi-step routes measured, in order. */
const CASES: Array<LatencyCase<unknown>> = [
  latencyCase({
    route: 'POST /users/ (roles, expirationDate)',
    maxRoundTrips: 4,
    prepare: async (env) => customer(env, { roles: ['customer-basic'], expirationDate: inAYear() }),
    request: (body) => ({ method: 'POST', path: '/users/', json: body }),
    status: 200,
  }),
  latencyCase({
    route: 'POST /users/with-id (roles, expirationDate)',
    prepare: async (env) => {
      const body = customer(env, { roles: ['customer-basic'], expirationDate: inAYear() })
      const authUserId = `auth0|${env.unique().padStart(24, '0')}`
      await env.peers.auth.call('seedAuth', { users: [{ user_id: authUserId, email: String(body.email), username: String(body.username) }] } satisfies SeedAuthArg)
      return { ...body, authUserId }
    },
    request: (body) => ({ method: 'POST', path: '/users/with-id', json: body }),
    status: 200,
  }),
  latencyCase({
    route: 'POST /users/register (roles)',
    prepare: async (env) => {
      const answer = await callJson<{ _id: string }>('POST', `${env.umsUrl}/users/?postponeAuthUserCreation=true`, { json: customer(env, { roles: ['customer-basic'] }) })
      if (answer.status !== 200) throw new Error(`preparing a user to register: ${answer.status}: ${answer.text.slice(0, 300)}`)
      return answer.body._id
    },
    request: (id) => ({ method: 'POST', path: '/users/register', json: { _id: id } }),
    status: 204,
  }),
  latencyCase({
    route: 'PATCH /users/:id (roles, expirationDate)',
    maxRoundTrips: 4,
    prepare: createdUser,
    request: (id) => ({ method: 'PATCH', path: `/users/${id}`, json: { $set: { roles: ['customer-premium'], expirationDate: inAYear(30) } } }),
    status: 200,
  }),
  latencyCase({
    route: 'DELETE /users/:id',
    maxRoundTrips: 3,
    prepare: createdUser,
    request: (id) => ({ method: 'DELETE', path: `/users/${id}` }),
    status: 204,
  }),
  latencyCase({
    route: 'POST /users/state (one user to DRAFT)',
    prepare: createdUser,
    request: (id) => ({ method: 'POST', path: '/users/state', json: [{ filter: { _id: id }, stateTo: 'DRAFT' }] }),
    status: 200,
  }),
  latencyCase({
    route: 'POST /users/self-register (no password)',
    prepare: async (env) => {
      const body = customer(env)
      return { userGroup: body.userGroup, email: body.email, username: body.username, name: body.name, surname: body.surname }
    },
    request: (body) => ({ method: 'POST', path: '/users/self-register', json: body }),
    status: 202,
  }),
  latencyCase({
    route: 'POST /users/:id/soft-delete',
    prepare: createdUser,
    request: (id) => ({ method: 'POST', path: `/users/${id}/soft-delete` }),
    status: 204,
  }),
]

function numberFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, got ${raw}`)
  return value
}

/** `limit` preparations at a time, results in order. */
async function prepareAll(env: CaseEnv, testCase: LatencyCase<unknown>, count: number): Promise<unknown[]> {
  const inputs: unknown[] = new Array(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const index = next++
      inputs[index] = await testCase.prepare(env)
    }
  }
  await Promise.all(Array.from({ length: Math.min(PREPARE_CONCURRENCY, count) }, worker))
  return inputs
}

async function send(env: CaseEnv, testCase: LatencyCase<unknown>, input: unknown): Promise<number> {
  const request = testCase.request(input)
  const started = performance.now()
  const answer = await callJson(request.method, env.umsUrl + request.path, request.json === undefined ? {} : { json: request.json })
  const ms = performance.now() - started
  if (answer.status !== testCase.status) {
    throw new Error(`${testCase.route}: ${request.method} ${request.path} answered ${answer.status}, expected ${testCase.status}: ${answer.text.slice(0, 300)}`)
  }
  return ms
}

/** Calls answered per peer, and per peer route, in a stats answer. */
function callsOf(stats: StatsAnswer): { total: number; byPeer: Record<Peer, number>; byRoute: Record<string, number> } {
  const byPeer = { crud: 0, auth: 0, rond: 0, timer: 0 }
  const byRoute: Record<string, number> = {}
  for (const peer of PEERS) {
    const routes: PeerStats['routes'] = stats[peer].routes
    for (const [route, tally] of Object.entries(routes)) {
      const calls = Object.values(tally.outcomes).reduce((sum, count) => sum + count, 0)
      byPeer[peer] += calls
      byRoute[`${PEER_LABEL[peer]} ${route}`] = calls
    }
  }
  return { total: PEERS.reduce((sum, peer) => sum + byPeer[peer], 0), byPeer, byRoute }
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const latencyMs = numberFromEnv('BENCH_PEER_LATENCY_MS', DEFAULT_LATENCY_MS, 1)
  const runs = Math.round(numberFromEnv('BENCH_LATENCY_RUNS', DEFAULT_RUNS, 1))
  const children: Array<{ stop(): Promise<void> }> = []
  try {
    const peers = await startPeers(ctx, { latencyMs }, children)
    const ums: ServerChild<UmsInfo> = await startChild<UmsInfo>({
      name: 'ums',
      entry: 'ums.ts',
      // Sign-ups answer no sooner than SELF_REGISTRATION_MIN_DURATION_MS and are rate limited per
      // address: both off, so that the table shows the peer round trips.
      options: { peers: peers.info, env: { SELF_REGISTRATION_MIN_DURATION_MS: '0', SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '100000' } } satisfies UmsOptions,
      cpuProfileDir: ctx.cpuProfileDir('ums'),
    })
    children.push(ums)
    let counter = 0
    const tag = Date.now().toString(36)
    const env: CaseEnv = { umsUrl: ums.info.url, peers, unique: () => `${tag}${(counter++).toString(36)}` }

    const rows: BarRow[] = []
    const tableRows: string[][] = []
    const details = []
    for (const testCase of CASES) {
      ctx.log(`${testCase.route}: preparing ${WARMUP + runs} inputs`)
      const inputs = await prepareAll(env, testCase, WARMUP + runs)
      for (const input of inputs.slice(0, WARMUP)) await send(env, testCase, input)
      await peers.resetStats()
      const times: number[] = []
      for (const input of inputs.slice(WARMUP)) times.push(await send(env, testCase, input))
      const calls = callsOf(await peers.stats())
      const medianMs = median(times)
      const roundTrips = medianMs / latencyMs
      const perRequest = (count: number) => round1(count / runs)
      const byPeer = PEERS.filter((peer) => calls.byPeer[peer] > 0).map((peer) => `${PEER_LABEL[peer]} ${perRequest(calls.byPeer[peer])}`)
      ctx.log(`  median ${medianMs.toFixed(1)} ms, ${perRequest(calls.total)} peer calls (${byPeer.join(', ')}), ${roundTrips.toFixed(1)} round trips`)
      tableRows.push([
        testCase.route,
        `${medianMs.toFixed(0)} ms`,
        `${Math.round(Math.min(...times))}–${Math.round(Math.max(...times))} ms`,
        String(perRequest(calls.total)),
        byPeer.join(' · '),
        roundTrips.toFixed(1),
      ])
      if (testCase.maxRoundTrips !== undefined) {
        rows.push({
          check: `${testCase.route}: round trips at ${latencyMs} ms a call`,
          baseline: '',
          measured: `${medianMs.toFixed(0)} ms, ${perRequest(calls.total)} peer calls`,
          value: Math.round(roundTrips * 100) / 100,
          bar: `≤ ${testCase.maxRoundTrips}`,
          pass: roundTrips <= testCase.maxRoundTrips,
        })
      }
      details.push({
        route: testCase.route,
        runs,
        medianMs: round1(medianMs),
        timesMs: times.map(round1),
        roundTrips: Math.round(roundTrips * 100) / 100,
        peerCallsPerRequest: perRequest(calls.total),
        peerCallsByRoute: Object.fromEntries(Object.entries(calls.byRoute).map(([route, count]) => [route, perRequest(count)])),
      })
    }
    return {
      rows,
      tables: [
        {
          title: `multi-step routes with every peer answering ${latencyMs} ms late (median of ${runs} sequential requests each; round trips = median / ${latencyMs} ms)`,
          header: ['route', 'median', 'min–max', 'peer calls', 'by peer', 'round trips'],
          rows: tableRows,
        },
      ],
      commands: [`BENCH_PEER_LATENCY_MS=${latencyMs} BENCH_LATENCY_RUNS=${runs} npm run bench -- latency`],
      notes: [
        `peer calls are counted at the emulators and divided by the ${runs} measured requests; the round trips include ums's own time and the loopback hops (a few ms a request)`,
      ],
      details: { latencyMs, runs, warmup: WARMUP, routes: details },
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
  }
}

export const latencyScenario: Scenario = {
  name: 'latency',
  description: 'multi-step routes with every peer answering BENCH_PEER_LATENCY_MS (20) late: time, peer calls, round trips',
  run,
}
