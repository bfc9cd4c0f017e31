// Status routes of the platform: liveness, readiness and the Doctor check-up. Documented in the
// OpenAPI document like every other route, silent in the logs; a check never throws.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { CallContext } from '../clients/http.js'
import { PACKAGE } from '../config/package.js'

const statusBody = {
  type: 'object',
  required: ['name', 'status', 'version'],
  properties: {
    name: { type: 'string' },
    status: { type: 'string', enum: ['OK', 'KO'] },
    version: { type: 'string' },
    message: { type: 'string' },
  },
  additionalProperties: true,
} as const

/** One peer in the check-up: whether it answered its health route, and how fast. */
const peerCheck = {
  type: 'object',
  required: ['name', 'status', 'latencyMs'],
  properties: {
    name: { type: 'string', enum: ['crud', 'auth', 'rond', 'timer'] },
    status: { type: 'string', enum: ['OK', 'KO'] },
    latencyMs: { type: 'number', description: 'time to its answer, or to the failure' },
    message: { type: 'string', description: 'why it is not healthy' },
  },
} as const

const checkUpBody = {
  ...statusBody,
  properties: { ...statusBody.properties, peers: { type: 'array', items: peerCheck, description: 'every peer asked, healthy or not' } },
} as const

type PeerCheck = { name: string; status: 'OK' | 'KO'; latencyMs: number; message?: string }

/** Margin over UPSTREAM_TIMEOUT_MS: the pool's own timeout should fire first and name the cause. */
const CHECK_UP_SAFETY_MARGIN_MS = 1_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export async function statusRoutes(app: FastifyInstance): Promise<void> {
  const { name, version } = PACKAGE
  const routeOptions = (operationId: string, summary: string, body: typeof statusBody | typeof checkUpBody = statusBody) => ({
    logLevel: 'error' as const,
    schema: { tags: ['Status'], operationId, summary, response: { 200: body, 503: body } },
  })

  function answer(reply: FastifyReply, problems: string[], details: { peers?: PeerCheck[] } = {}) {
    if (problems.length === 0) return reply.code(200).send({ name, status: 'OK', version, ...details })
    const message = problems.join('; ')
    app.log.error({ debugInfo: { status: 'KO', name, version, message } }, 'Service status is not ok')
    return reply.code(503).send({ name, status: 'KO', version, message, ...details })
  }

  app.get('/-/healthz', routeOptions('healthz', 'Liveness: 200 while the process serves requests'), async (_request, reply) => answer(reply, []))

  // The job store is the one dependency whose absence stops ums from doing its work.
  const readinessProblems = () => [app.jobEngine.unavailableReason()].filter((problem) => problem !== undefined)

  app.get('/-/ready', routeOptions('ready', 'Readiness: 503 naming the job store while it is unreachable or full'), async (_request, reply) => answer(reply, readinessProblems()))

  const checkUpSummary = 'Health of the peers (each with its status and latency) and of the job store: 503 naming the unhealthy ones'
  app.get('/-/check-up', routeOptions('checkUp', checkUpSummary, checkUpBody), async (request, reply) => {
    const { crud, auth, rond, timer } = app.peers
    // No forwarded headers: a health check speaks for ums, not for the caller; its spans still join the request's.
    const ctx: CallContext = { forwarded: {}, incoming: {}, log: request.log, traceContext: request.callContext.traceContext }
    const checks: Array<[string, () => Promise<void>]> = [
      ['crud', () => crud.checkHealth(ctx)],
      ['auth', () => auth.checkHealth(ctx)],
    ]
    if (app.config.rondEnabled) checks.push(['rond', () => rond.checkHealth(ctx)])
    if (timer) checks.push(['timer', () => timer.checkHealth(ctx)])
    const timeoutMs = app.config.upstreamTimeoutMs + CHECK_UP_SAFETY_MARGIN_MS
    const peers = await Promise.all(
      checks.map(async ([peer, check]): Promise<PeerCheck> => {
        const started = performance.now()
        const latency = () => Math.round((performance.now() - started) * 10) / 10
        try {
          await withTimeout(check(), timeoutMs)
          return { name: peer, status: 'OK', latencyMs: latency() }
        } catch (error) {
          return { name: peer, status: 'KO', latencyMs: latency(), message: (error as Error).message }
        }
      }),
    )
    const problems = peers.flatMap((peer) => (peer.status === 'KO' ? [`${peer.name} is not healthy: ${peer.message}`] : []))
    // The job store is a dependency too: the readiness checks report it.
    problems.push(...readinessProblems())
    return answer(reply, problems, { peers })
  })
}
