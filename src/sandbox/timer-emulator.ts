// In-memory emulator of the Mia-Platform Timer Service 2.1.2: `/schedule`, `/abort`, the status routes, firing of `rest`
// outputs with undici, and control routes/methods so tests and the sandbox decide when timers fire.
import { randomBytes, randomInt } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { request } from 'undici'
import type { FastifyInstance } from 'fastify'
import { Emulator, reasonPhrase } from './emulator-kit.js'
import type { StartedServer } from './emulator-kit.js'

export type ExpirationStatusId = 0 | 1 | 2 | 3
export type ExpirationStatusDescription = 'pending' | 'expired' | 'aborted' | 'error'

export interface Expiration {
  expirationId: string
  payload: unknown
  startDate: string
  expirationIntervalMs: number
  applicantService: string
  outputMode: unknown
  expirationDate: string
  expirationStatus: { id: ExpirationStatusId; description: ExpirationStatusDescription }
  failureCount: number
}

export interface TimerEmulatorOptions {
  /** Fire due timers automatically every this many ms; off when omitted. */
  pollIntervalMs?: number
  /** Answer of `/abort` for an id that was never scheduled (the real one is undocumented). */
  unknownAbort?: 204 | 404
  /** Like MAX_FAILURE_COUNT: after this many failed outputs the timer goes to error. */
  maxFailureCount?: number
}

interface RestOutput {
  type: 'rest'
  method: 'post' | 'put' | 'patch' | 'get' | 'delete'
  protocol: 'http' | 'https'
  hostname: string
  port?: number
  path: string
  headers?: Record<string, string>
}

interface ScheduleBody {
  payload: Record<string, unknown>
  startDate: string
  expirationIntervalMs: number
  applicantService: string
  outputMode: { type: 'rest' | 'kafka' }
}

const STATUS = {
  pending: { id: 0, description: 'pending' },
  expired: { id: 1, description: 'expired' },
  aborted: { id: 2, description: 'aborted' },
  error: { id: 3, description: 'error' },
} as const satisfies Record<ExpirationStatusDescription, Expiration['expirationStatus']>

const STATUS_BODY = { name: 'timer-service', status: 'OK', version: '2.1.2' }

/** A callback target that never answers must not block `fireNow` forever. */
const CALLBACK_TIMEOUT_MS = 10_000

const HTTP_METHOD: Record<RestOutput['method'], Dispatcher.HttpMethod> = {
  post: 'POST',
  put: 'PUT',
  patch: 'PATCH',
  get: 'GET',
  delete: 'DELETE',
}

const restOutputSchema = {
  type: 'object',
  required: ['type', 'method', 'protocol', 'hostname', 'path'],
  properties: {
    type: { type: 'string', const: 'rest' },
    method: { type: 'string', enum: Object.keys(HTTP_METHOD) },
    protocol: { type: 'string', enum: ['http', 'https'] },
    hostname: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    path: { type: 'string', pattern: '^/' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
  },
}

const kafkaOutputSchema = {
  type: 'object',
  required: ['type', 'topics'],
  properties: {
    type: { type: 'string', const: 'kafka' },
    topics: { type: 'array', minItems: 1, items: { type: 'string' } },
    key: { type: 'string' },
    headers: { type: 'object' },
  },
}

const scheduleSchema = {
  body: {
    type: 'object',
    required: ['startDate', 'expirationIntervalMs', 'applicantService', 'outputMode'],
    properties: {
      payload: { type: 'object', default: {} },
      startDate: { type: 'string', format: 'date-time' },
      expirationIntervalMs: { type: 'number', minimum: 0 },
      applicantService: { type: 'string' },
      outputMode: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string', enum: ['rest', 'kafka'] } },
        // Nested so that an unknown `type` fails on the enum rather than on a branch.
        if: { properties: { type: { const: 'rest' } } },
        then: restOutputSchema,
        else: { if: { properties: { type: { const: 'kafka' } } }, then: kafkaOutputSchema },
      },
    },
  },
}

const abortSchema = {
  body: {
    type: 'object',
    required: ['expirationId'],
    properties: { expirationId: { type: 'string' } },
  },
}

// Mongo ObjectId layout (seconds, process-unique bytes, counter) so ids look like the CRUD's `_id`.
const PROCESS_UNIQUE = randomBytes(5).toString('hex')
let objectIdCounter = randomInt(0x1000000)
function newObjectId(): string {
  objectIdCounter = (objectIdCounter + 1) % 0x1000000
  const seconds = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')
  return seconds + PROCESS_UNIQUE + objectIdCounter.toString(16).padStart(6, '0')
}

function httpError(statusCode: number, message: string) {
  return { statusCode, error: reasonPhrase(statusCode), message }
}

export class TimerEmulator extends Emulator {
  private store = new Map<string, Expiration>()
  /** Outputs being performed, so a timer is never fired twice concurrently. */
  private inFlight = new Map<string, Promise<boolean>>()
  private settings: { unknownAbort: 204 | 404; maxFailureCount: number | undefined }
  /** The constructor's settings, restored by reset() after configure() changed them. */
  private readonly initialSettings: { unknownAbort: 204 | 404; maxFailureCount: number | undefined }
  private readonly pollIntervalMs: number | undefined
  private poller: NodeJS.Timeout | undefined
  private polling = false

  constructor(options: TimerEmulatorOptions = {}) {
    super()
    this.initialSettings = { unknownAbort: options.unknownAbort ?? 204, maxFailureCount: options.maxFailureCount }
    this.settings = { ...this.initialSettings }
    this.pollIntervalMs = options.pollIntervalMs
  }

  protected registerRoutes(app: FastifyInstance): void {
    // Mia plugins answer errors with {statusCode, error, message} and no `code`.
    app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
      const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
      return reply.code(statusCode).send(httpError(statusCode, error.message))
    })

    app.post('/schedule', { schema: scheduleSchema }, async (request, reply) => {
      const body = request.body as ScheduleBody
      const expiresAt = Date.parse(body.startDate) + body.expirationIntervalMs
      // ajv accepts leap seconds and huge intervals that a JS Date cannot represent.
      if (!Number.isFinite(expiresAt) || Number.isNaN(new Date(expiresAt).getTime())) {
        return reply.code(400).send(httpError(400, 'body/startDate plus body/expirationIntervalMs is not a valid date'))
      }
      const expiration: Expiration = {
        expirationId: newObjectId(),
        payload: body.payload,
        startDate: body.startDate,
        expirationIntervalMs: body.expirationIntervalMs,
        applicantService: body.applicantService,
        outputMode: body.outputMode,
        expirationDate: new Date(expiresAt).toISOString(),
        expirationStatus: { ...STATUS.pending },
        failureCount: 0,
      }
      this.store.set(expiration.expirationId, expiration)
      return reply.code(200).send({ expirationId: expiration.expirationId })
    })

    app.post('/abort', { schema: abortSchema }, async (request, reply) => {
      const { expirationId } = request.body as { expirationId: string }
      const expiration = this.store.get(expirationId)
      if (!expiration && this.settings.unknownAbort === 404) {
        return reply.code(404).send(httpError(404, 'expiration not found'))
      }
      // The real service does not check that the timer is still pending.
      if (expiration) expiration.expirationStatus = { ...STATUS.aborted }
      return reply.code(204).send()
    })

    for (const url of ['/-/healthz', '/-/ready', '/-/check-up']) {
      app.get(url, async () => STATUS_BODY)
    }

    app.get('/__emulator/timers', async () => this.expirations())

    app.post('/__emulator/timers/:id/fire', async (request, reply) => {
      const { id } = request.params as { id: string }
      if (!this.store.has(id)) return reply.code(404).send(httpError(404, 'expiration not found'))
      return reply.code(200).send(await this.fireNow(id))
    })
  }

  protected clearState(): void {
    this.store.clear()
    this.inFlight.clear()
    this.settings = { ...this.initialSettings }
  }

  override async start(port = 0): Promise<StartedServer> {
    const started = await super.start(port)
    if (this.pollIntervalMs !== undefined && this.poller === undefined) {
      this.poller = setInterval(() => void this.poll(), this.pollIntervalMs)
      this.poller.unref()
    }
    return started
  }

  override async close(): Promise<void> {
    clearInterval(this.poller)
    this.poller = undefined
    await super.close()
  }

  configure(partial: { unknownAbort?: 204 | 404; maxFailureCount?: number }): void {
    if (partial.unknownAbort !== undefined) this.settings.unknownAbort = partial.unknownAbort
    // `in` so that `{ maxFailureCount: undefined }` switches the limit off again.
    if ('maxFailureCount' in partial) this.settings.maxFailureCount = partial.maxFailureCount
  }

  /** Copies of every stored expiration, in scheduling order. */
  expirations(): Expiration[] {
    return [...this.store.values()].map((expiration) => structuredClone(expiration))
  }

  expiration(id: string): Expiration | undefined {
    const expiration = this.store.get(id)
    return expiration && structuredClone(expiration)
  }

  /** Performs the output of a pending timer now, whatever its date; resolves with the updated copy. */
  async fireNow(id: string): Promise<Expiration> {
    const expiration = this.store.get(id)
    if (!expiration) throw new Error(`expiration ${id} not found`)
    await this.fire(expiration)
    return structuredClone(expiration)
  }

  /** Fires, in `expirationDate` order, every pending timer due at `now`; returns how many succeeded. */
  async fireDue(now: Date = new Date()): Promise<number> {
    const due = [...this.store.values()]
      .filter((e) => e.expirationStatus.id === STATUS.pending.id && Date.parse(e.expirationDate) <= now.getTime())
      .sort((a, b) => Date.parse(a.expirationDate) - Date.parse(b.expirationDate))
    let succeeded = 0
    // One at a time, as the real service walks its sorted list of pending timers.
    for (const expiration of due) {
      if (await this.fire(expiration)) succeeded += 1
    }
    return succeeded
  }

  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      await this.fireDue()
    } catch {
      // A failed poll is simply retried on the next tick, like the real service's loop.
    } finally {
      this.polling = false
    }
  }

  private fire(expiration: Expiration): Promise<boolean> {
    const running = this.inFlight.get(expiration.expirationId)
    if (running) return running
    if (expiration.expirationStatus.id !== STATUS.pending.id) return Promise.resolve(false)
    const run = this.perform(expiration).finally(() => this.inFlight.delete(expiration.expirationId))
    this.inFlight.set(expiration.expirationId, run)
    return run
  }

  private async perform(expiration: Expiration): Promise<boolean> {
    const output = expiration.outputMode as { type: string }
    if (output.type !== 'rest') {
      // No Kafka brokers are configured, which the real service turns into the error state.
      expiration.expirationStatus = { ...STATUS.error }
      return false
    }
    const delivered = await this.callRest(expiration.payload, output as RestOutput)
    // An abort that arrived during the call wins over the outcome.
    if (expiration.expirationStatus.id !== STATUS.pending.id) return false
    if (delivered) {
      expiration.expirationStatus = { ...STATUS.expired }
      return true
    }
    expiration.failureCount += 1
    const max = this.settings.maxFailureCount
    if (max !== undefined && expiration.failureCount >= max) expiration.expirationStatus = { ...STATUS.error }
    return false
  }

  private async callRest(payload: unknown, output: RestOutput): Promise<boolean> {
    const url = `${output.protocol}://${output.hostname}${output.port !== undefined ? `:${output.port}` : ''}${output.path}`
    const method = HTTP_METHOD[output.method]
    const withBody = method !== 'GET'
    const headers: Record<string, string> = { ...output.headers }
    if (withBody && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json'
    }
    try {
      const response = await request(url, {
        method,
        headers,
        body: withBody ? JSON.stringify(payload) : undefined,
        headersTimeout: CALLBACK_TIMEOUT_MS,
        bodyTimeout: CALLBACK_TIMEOUT_MS,
      })
      // 204 and non-JSON answers count as delivered too; the body is only drained.
      await response.body.dump()
      return response.statusCode >= 200 && response.statusCode < 300
    } catch {
      return false
    }
  }
}
