// What every peer emulator shares: a real Fastify server on 127.0.0.1, a request log and
// fault injection for the next N matching calls. Emulators are test doubles, not production peers.
import type { Socket } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { sleep } from '../lib/sleep.js'

export interface RecordedRequest {
  method: string
  /** Path without the query string, as received (percent-encoding kept). */
  path: string
  /** Raw query string without the leading `?` ('' when absent). */
  rawQuery: string
  headers: Record<string, string | string[] | undefined>
  contentType: string | undefined
  /** Parsed body (JSON object, form fields, multipart summary) or undefined. */
  body: unknown
  at: Date
  /** Status code sent, or 'reset' / 'hang' for injected transport faults. */
  outcome?: number | 'reset' | 'hang'
  /** True when the request was carried out before its answer was lost (`lostAfterApplying`). */
  applied?: boolean
}

export interface Fault {
  /** Answer with this status (and body/headers) instead of the real handler. */
  status?: number
  body?: unknown
  headers?: Record<string, string>
  /** Wait this long before answering (with the fault or, without status, with the real handler). */
  delayMs?: number
  /** Never answer; the connection stays open until the client gives up or the server closes. */
  hang?: boolean
  /** Destroy the TCP connection without answering. */
  reset?: boolean
  /**
   * Carry the request out (the real handler runs and writes), then lose its answer: never send it
   * (`hang`) or destroy the connection (`reset`), as a peer that answers after the caller gave up.
   */
  lostAfterApplying?: 'hang' | 'reset'
  /**
   * Answer this request (closing its connection), then go down: every connection is closed and
   * new ones are refused until `up()`, as a peer that stopped after that call.
   */
  downAfterAnswer?: boolean
}

export interface FaultRule extends Fault {
  /** Upper-case HTTP method; any when omitted. */
  method?: string
  /** Exact path, or a RegExp tested against the decoded path; any when omitted. */
  path?: string | RegExp
  /** Extra predicate on the request (e.g. a target user id in the body). */
  match?: (request: FastifyRequest) => boolean
  /** How many matching calls get the fault (default 1). Infinity for all. */
  times?: number
  /** Probability in [0,1] that a matching call gets the fault (default 1). */
  probability?: number
}

type LoggedRequest = FastifyRequest & { emulatorRecord?: RecordedRequest; loseAnswer?: 'hang' | 'reset'; goDown?: boolean }

interface ActiveRule extends FaultRule {
  remaining: number
}

export interface StartedServer {
  url: string
  port: number
}

function decodedPath(url: string): string {
  const path = url.split('?')[0] ?? ''
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

function ruleMatches(rule: ActiveRule, request: FastifyRequest): boolean {
  if (rule.remaining <= 0) return false
  if (rule.method && rule.method.toUpperCase() !== request.method) return false
  if (rule.path !== undefined) {
    const path = decodedPath(request.url)
    if (typeof rule.path === 'string' ? rule.path !== path : !rule.path.test(path)) return false
  }
  if (rule.match && !rule.match(request)) return false
  if (rule.probability !== undefined && Math.random() >= rule.probability) return false
  return true
}

/**
 * Base class of the four emulators. Subclasses register their routes in `registerRoutes`.
 * Control surface: `start()`, `close()`, `requests`, `injectFault()`, `clearFaults()`, `reset()`,
 * `latencyMs`.
 */
export abstract class Emulator {
  readonly app: FastifyInstance
  readonly requests: RecordedRequest[] = []
  /**
   * Every request waits this long before it is handled (0: none), as a peer a network hop away
   * answers late; faults and their own `delayMs` come on top. Kept by `reset()`.
   */
  latencyMs = 0
  private faults: ActiveRule[] = []
  private started: StartedServer | undefined
  /** Open connections, including ones a client opened without sending a request on them yet. */
  private readonly sockets = new Set<Socket>()

  constructor() {
    this.app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 * 1024 })
    this.app.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    // A callback hook, so that a request without latency costs no promise.
    this.app.addHook('onRequest', (_request, _reply, done) => {
      if (this.latencyMs > 0) setTimeout(done, this.latencyMs)
      else done()
    })
    this.app.addHook('preHandler', async (request, reply) => {
      const record = this.record(request, request.body)
      const rule = this.faults.find((candidate) => ruleMatches(candidate, request))
      if (!rule) return
      rule.remaining -= 1
      if (rule.delayMs) await sleep(rule.delayMs)
      if (rule.downAfterAnswer) (request as LoggedRequest).goDown = true
      if (rule.lostAfterApplying) {
        ;(request as LoggedRequest).loseAnswer = rule.lostAfterApplying
        return
      }
      if (rule.reset) {
        record.outcome = 'reset'
        request.raw.socket.destroy()
        return reply.hijack()
      }
      if (rule.hang) {
        record.outcome = 'hang'
        return reply.hijack()
      }
      if (rule.status !== undefined) {
        if (rule.headers) reply.headers(rule.headers)
        return reply.code(rule.status).send(rule.body ?? defaultFaultBody(rule.status))
      }
    })
    // The answer of a request carried out under `lostAfterApplying` is never sent.
    this.app.addHook('onSend', async (request, reply) => {
      if ((request as LoggedRequest).goDown) {
        // Stops listening before the answer leaves, so the caller's next connection is refused.
        reply.header('connection', 'close')
        this.down({ keep: request.raw.socket })
      }
      const lose = (request as LoggedRequest).loseAnswer
      if (lose === undefined) return
      const record = (request as LoggedRequest).emulatorRecord
      if (record) {
        record.outcome = lose
        record.applied = true
      }
      if (lose === 'reset') request.raw.socket.destroy()
      await new Promise<never>(() => {})
    })
    // Requests refused before preHandler (unparsable body, unknown route) are logged here.
    this.app.addHook('onResponse', async (request, reply) => {
      const record = (request as LoggedRequest).emulatorRecord ?? this.record(request, undefined)
      if (record.outcome === undefined) record.outcome = reply.statusCode
    })
    this.registerRoutes(this.app)
  }

  private record(request: FastifyRequest, body: unknown): RecordedRequest {
    const queryStart = request.url.indexOf('?')
    const record: RecordedRequest = {
      method: request.method,
      path: queryStart === -1 ? request.url : request.url.slice(0, queryStart),
      rawQuery: queryStart === -1 ? '' : request.url.slice(queryStart + 1),
      headers: { ...request.headers },
      contentType: request.headers['content-type'],
      body,
      at: new Date(),
    }
    this.requests.push(record)
    ;(request as LoggedRequest).emulatorRecord = record
    return record
  }

  /**
   * Registers the emulator's routes. It runs inside this constructor, before the subclass's own
   * fields are initialised: handlers must read subclass state lazily (at request time).
   */
  protected abstract registerRoutes(app: FastifyInstance): void

  /** Clears the emulator's own state (data); called by `reset()`. */
  protected abstract clearState(): void

  get url(): string {
    if (!this.started) throw new Error('emulator not started')
    return this.started.url
  }

  async start(port = 0): Promise<StartedServer> {
    if (this.started) return this.started
    await this.app.listen({ host: '127.0.0.1', port })
    const address = this.app.server.address()
    if (address === null || typeof address === 'string') throw new Error('emulator has no TCP address')
    this.started = { url: `http://127.0.0.1:${address.port}`, port: address.port }
    return this.started
  }

  async close(): Promise<void> {
    // Fastify's close expects a listening server.
    await this.up()
    await this.app.close()
    this.started = undefined
  }

  /**
   * Stops accepting connections (they are refused) and closes the open ones, keeping the port for
   * `up()`. Within an answer (`downAfterAnswer`), all but that answer's own (`keep`), which closes
   * once the answer is out: connections a client opened ahead of need are closed too, as a peer
   * that stopped would leave none.
   */
  down(options: { keep?: Socket } = {}): void {
    if (!this.started || !this.app.server.listening) return
    this.app.server.close()
    if (options.keep === undefined) {
      this.app.server.closeAllConnections()
      return
    }
    for (const socket of this.sockets) if (socket !== options.keep) socket.destroy()
  }

  /** Listens again on the same port after `down()`. */
  async up(): Promise<void> {
    if (!this.started || this.app.server.listening) return
    const { port } = this.started
    await new Promise<void>((resolve, reject) => {
      this.app.server.once('error', reject)
      this.app.server.listen(port, '127.0.0.1', () => {
        this.app.server.off('error', reject)
        resolve()
      })
    })
  }

  injectFault(rule: FaultRule): void {
    this.faults.push({ ...rule, remaining: rule.times ?? 1 })
  }

  clearFaults(): void {
    this.faults = []
  }

  /** Requests whose method and path (decoded) match, in arrival order. */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => {
      if (r.method !== method.toUpperCase()) return false
      const decoded = decodedPath(r.path)
      return typeof path === 'string' ? decoded === path : path.test(decoded)
    })
  }

  clearRequests(): void {
    this.requests.length = 0
  }

  reset(): void {
    this.clearFaults()
    this.clearRequests()
    this.clearState()
  }
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export function reasonPhrase(status: number): string {
  return REASON[status] ?? 'Error'
}

function defaultFaultBody(status: number) {
  return { statusCode: status, error: reasonPhrase(status), message: 'injected fault' }
}
