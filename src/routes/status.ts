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
  const routeOptions = (operationId: string, summary: string) => ({
    logLevel: 'error' as const,
    schema: { tags: ['Status'], operationId, summary, response: { 200: statusBody, 503: statusBody } },
  })

  function answer(reply: FastifyReply, problems: string[]) {
    if (problems.length === 0) return reply.code(200).send({ name, status: 'OK', version })
    const message = problems.join('; ')
    app.log.error({ debugInfo: { status: 'KO', name, version, message } }, 'Service status is not ok')
    return reply.code(503).send({ name, status: 'KO', version, message })
  }

  app.get('/-/healthz', routeOptions('healthz', 'Liveness: 200 while the process serves requests'), async (_request, reply) => answer(reply, []))

  // The job store is the one dependency whose absence stops ums from doing its work.
  const readinessProblems = () => [app.jobEngine.unavailableReason()].filter((problem) => problem !== undefined)

  app.get('/-/ready', routeOptions('ready', 'Readiness: 503 naming the job store while it is unreachable or full'), async (_request, reply) => answer(reply, readinessProblems()))

  app.get('/-/check-up', routeOptions('checkUp', 'Health of the peers and of the job store: 503 naming the unhealthy ones'), async (request, reply) => {
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
    const results = await Promise.allSettled(checks.map(([, check]) => withTimeout(check(), timeoutMs)))
    const problems = results.flatMap((result, index) =>
      result.status === 'rejected' ? [`${checks[index]![0]} is not healthy: ${(result.reason as Error).message}`] : [],
    )
    // The job store is a dependency too: the readiness checks report it.
    problems.push(...readinessProblems())
    return answer(reply, problems)
  })
}
