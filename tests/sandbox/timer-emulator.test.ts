// Timer Service emulator over real HTTP: schedule validation and storage, abort, firing REST
// callbacks at a local target server, failure counting, kafka, fireDue, polling and control routes.
import Fastify from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { TimerEmulator } from '../../src/sandbox/timer-emulator.js'

interface Callback {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

/** The service the timers call back; `answer` decides its next replies. */
const target = Fastify({ logger: false })
const callbacks: Callback[] = []
let answer: 'json' | 'empty204' | 'text' | 'fail500' = 'json'
target.all('/*', async (request, reply) => {
  callbacks.push({ method: request.method, url: request.url, headers: request.headers, body: request.body })
  if (answer === 'empty204') return reply.code(204).send()
  if (answer === 'text') return reply.code(200).type('text/plain').send('ok, not JSON')
  if (answer === 'fail500') return reply.code(500).send({ message: 'boom' })
  return reply.code(200).send({ ok: true })
})
let targetPort = 0

const timer = new TimerEmulator()

function restOutput(overrides: Record<string, unknown> = {}) {
  return { type: 'rest', method: 'patch', protocol: 'http', hostname: '127.0.0.1', port: targetPort, path: '/users/u1', ...overrides }
}

function scheduleBody(overrides: Record<string, unknown> = {}) {
  return {
    payload: { $set: { blocked: true } },
    startDate: '2024-05-01T10:00:00.000Z',
    expirationIntervalMs: 600_000,
    applicantService: 'user-manager-service',
    outputMode: restOutput(),
    ...overrides,
  }
}

async function post(path: string, body: unknown, emulator = timer) {
  const response = await fetch(emulator.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, text, json: text === '' ? undefined : (JSON.parse(text) as unknown) }
}

async function schedule(overrides: Record<string, unknown> = {}, emulator = timer): Promise<string> {
  const answer = await post('/schedule', scheduleBody(overrides), emulator)
  expect(answer.status).toBe(200)
  return (answer.json as { expirationId: string }).expirationId
}

beforeAll(async () => {
  await target.listen({ host: '127.0.0.1', port: 0 })
  const address = target.server.address()
  if (address === null || typeof address === 'string') throw new Error('target has no port')
  targetPort = address.port
  await timer.start()
})
afterAll(async () => {
  await timer.close()
  await target.close()
})
beforeEach(() => {
  timer.reset()
  callbacks.length = 0
  answer = 'json'
})

describe('status routes', () => {
  it.each(['/-/healthz'])('%s answers 200', async (path) => {
    const response = await fetch(timer.url + path)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ name: 'timer-service', status: 'OK', version: '2.1.2' })
  })
})

describe('POST /schedule', () => {
  it('answers 200 {expirationId} with a 24-hex id and stores the expiration pending', async () => {
    const answer = await post('/schedule', scheduleBody())
    expect(answer.status).toBe(200)
    expect(Object.keys(answer.json as object)).toEqual(['expirationId'])
    const { expirationId } = answer.json as { expirationId: string }
    expect(expirationId).toMatch(/^[0-9a-f]{24}$/)
    expect(timer.expiration(expirationId)).toEqual({
      expirationId,
      payload: { $set: { blocked: true } },
      startDate: '2024-05-01T10:00:00.000Z',
      expirationIntervalMs: 600_000,
      applicantService: 'user-manager-service',
      outputMode: restOutput(),
      expirationDate: '2024-05-01T10:10:00.000Z',
      expirationStatus: { id: 0, description: 'pending' },
      failureCount: 0,
    })
  })

  it('defaults the payload to {} and computes the date across time zones', async () => {
    const { payload: _omitted, ...withoutPayload } = scheduleBody({ startDate: '2024-05-01T12:00:00+02:00', expirationIntervalMs: 0 })
    const answer = await post('/schedule', withoutPayload)
    const stored = timer.expiration((answer.json as { expirationId: string }).expirationId)
    expect(stored?.payload).toEqual({})
    expect(stored?.expirationDate).toBe('2024-05-01T10:00:00.000Z')
  })

  it('gives distinct ids', async () => {
    const ids = new Set([await schedule(), await schedule(), await schedule()])
    expect(ids.size).toBe(3)
  })

  /** Built lazily: the target's port is only known once it listens. */
  const without = (key: string) => () => {
    const body: Record<string, unknown> = scheduleBody()
    delete body[key]
    return body
  }
  it.each([
    ['missing startDate', without('startDate'), "body must have required property 'startDate'"],
    ['missing expirationIntervalMs', without('expirationIntervalMs'), "body must have required property 'expirationIntervalMs'"],
    ['missing applicantService', without('applicantService'), "body must have required property 'applicantService'"],
    ['missing outputMode', without('outputMode'), "body must have required property 'outputMode'"],
    ['startDate not a date-time', () => scheduleBody({ startDate: '2024-05-01' }), 'body/startDate must match format "date-time"'],
    ['negative interval', () => scheduleBody({ expirationIntervalMs: -1 }), 'body/expirationIntervalMs must be >= 0'],
    ['interval not a number', () => scheduleBody({ expirationIntervalMs: 'soon' }), 'body/expirationIntervalMs must be number'],
    ['payload not an object', () => scheduleBody({ payload: [1] }), 'body/payload must be object'],
    ['unknown output type', () => scheduleBody({ outputMode: { type: 'sms' } }), 'body/outputMode/type must be equal to one of the allowed values'],
    ['output without type', () => scheduleBody({ outputMode: {} }), "body/outputMode must have required property 'type'"],
    ['upper-case method', () => scheduleBody({ outputMode: restOutput({ method: 'PATCH' }) }), 'body/outputMode/method must be equal to one of the allowed values'],
    ['bad protocol', () => scheduleBody({ outputMode: restOutput({ protocol: 'ftp' }) }), 'body/outputMode/protocol must be equal to one of the allowed values'],
    ['missing hostname', () => scheduleBody({ outputMode: restOutput({ hostname: undefined }) }), "body/outputMode must have required property 'hostname'"],
    ['bad port', () => scheduleBody({ outputMode: restOutput({ port: 70000 }) }), 'body/outputMode/port must be <= 65535'],
    ['relative path', () => scheduleBody({ outputMode: restOutput({ path: 'users/u1' }) }), 'body/outputMode/path must match pattern "^/"'],
    ['kafka without topics', () => scheduleBody({ outputMode: { type: 'kafka' } }), "body/outputMode must have required property 'topics'"],
    ['date beyond the JS range', () => scheduleBody({ expirationIntervalMs: 1e300 }), 'body/startDate plus body/expirationIntervalMs is not a valid date'],
  ])('rejects %s with 400', async (_name, build, message) => {
    const answer = await post('/schedule', build())
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual({ statusCode: 400, error: 'Bad Request', message })
    expect(timer.expirations()).toEqual([])
  })

  it('rejects a body that is not JSON with 400', async () => {
    const answer = await post('/schedule', '{"startDate":')
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
  })

  it('honours faults injected through the base class', async () => {
    timer.injectFault({ method: 'POST', path: '/schedule', status: 503 })
    const faulted = await post('/schedule', scheduleBody())
    expect(faulted.status).toBe(503)
    expect(faulted.json).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'injected fault' })
    expect(timer.expirations()).toEqual([])
    await schedule()
    timer.injectFault({ path: '/schedule', reset: true })
    await expect(post('/schedule', scheduleBody())).rejects.toThrow()
    expect(timer.requestsTo('POST', '/schedule').map((r) => r.outcome)).toEqual([503, 200, 'reset'])
  })
})

describe('POST /abort', () => {
  it('answers 204 with no body and marks the timer aborted', async () => {
    const id = await schedule()
    const answer = await post('/abort', { expirationId: id })
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(timer.expiration(id)?.expirationStatus).toEqual({ id: 2, description: 'aborted' })
  })

  it('does not check that the timer is still pending', async () => {
    const id = await schedule()
    await timer.fireNow(id)
    expect(timer.expiration(id)?.expirationStatus.id).toBe(1)
    expect((await post('/abort', { expirationId: id })).status).toBe(204)
    expect(timer.expiration(id)?.expirationStatus.id).toBe(2)
  })

  it('answers 204 for an unknown id by default and 404 when configured', async () => {
    expect((await post('/abort', { expirationId: 'ffffffffffffffffffffffff' })).status).toBe(204)
    timer.configure({ unknownAbort: 404 })
    const answer = await post('/abort', { expirationId: 'ffffffffffffffffffffffff' })
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual({ statusCode: 404, error: 'Not Found', message: 'expiration not found' })
  })

  it('takes the unknown-id behaviour from the constructor too', async () => {
    const strict = new TimerEmulator({ unknownAbort: 404 })
    await strict.start()
    try {
      expect((await post('/abort', { expirationId: 'nope' }, strict)).status).toBe(404)
    } finally {
      await strict.close()
    }
  })

  it('rejects a body without expirationId with 400', async () => {
    const answer = await post('/abort', {})
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual({ statusCode: 400, error: 'Bad Request', message: "body must have required property 'expirationId'" })
  })
})

describe('firing REST outputs', () => {
  it.each(['patch'])('%s sends the payload as JSON with the output headers', async (method) => {
    const id = await schedule({
      payload: { $set: { blocked: true } },
      outputMode: restOutput({ method, headers: { 'client-type': 'backoffice', miauserid: 'admin' } }),
    })
    const fired = await timer.fireNow(id)
    expect(fired.expirationStatus).toEqual({ id: 1, description: 'expired' })
    expect(callbacks).toHaveLength(1)
    const [callback] = callbacks
    expect(callback?.method).toBe(method.toUpperCase())
    expect(callback?.url).toBe('/users/u1')
    expect(callback?.headers).toMatchObject({ 'client-type': 'backoffice', miauserid: 'admin', 'content-type': 'application/json' })
    expect(callback?.body).toEqual({ $set: { blocked: true } })
  })

  it('omits the port from the URL when the output has none', async () => {
    const id = await schedule({ outputMode: restOutput({ hostname: `127.0.0.1:${targetPort}`, port: undefined }) })
    expect((await timer.fireNow(id)).expirationStatus.id).toBe(1)
    expect(callbacks).toHaveLength(1)
  })

  it.each([
    ['204 with no body', 'empty204'],
    ['200 with a non-JSON body', 'text'],
  ] as const)('counts a %s as delivered', async (_name, mode) => {
    answer = mode
    const id = await schedule()
    expect((await timer.fireNow(id)).expirationStatus.id).toBe(1)
  })

  it('leaves a failed output pending and counts the failures', async () => {
    answer = 'fail500'
    const id = await schedule()
    expect(await timer.fireNow(id)).toMatchObject({ expirationStatus: { id: 0, description: 'pending' }, failureCount: 1 })
    expect(await timer.fireNow(id)).toMatchObject({ expirationStatus: { id: 0 }, failureCount: 2 })
    answer = 'json'
    expect(await timer.fireNow(id)).toMatchObject({ expirationStatus: { id: 1 }, failureCount: 2 })
    expect(callbacks).toHaveLength(3)
  })

  it('counts an unreachable target as a failure', async () => {
    const id = await schedule({ outputMode: restOutput({ port: 1 }) })
    expect(await timer.fireNow(id)).toMatchObject({ expirationStatus: { id: 0 }, failureCount: 1 })
  })

  it('moves to error once maxFailureCount failures are reached', async () => {
    timer.configure({ maxFailureCount: 2 })
    answer = 'fail500'
    const id = await schedule()
    expect((await timer.fireNow(id)).expirationStatus.id).toBe(0)
    expect(await timer.fireNow(id)).toMatchObject({ expirationStatus: { id: 3, description: 'error' }, failureCount: 2 })
    // An errored timer is not fired again.
    await timer.fireNow(id)
    expect(callbacks).toHaveLength(2)
  })

  it('takes maxFailureCount from the constructor', async () => {
    const strict = new TimerEmulator({ maxFailureCount: 1 })
    await strict.start()
    try {
      answer = 'fail500'
      const id = await schedule({}, strict)
      expect((await strict.fireNow(id)).expirationStatus.id).toBe(3)
    } finally {
      await strict.close()
    }
  })

  it('does not fire aborted or expired timers again', async () => {
    const aborted = await schedule()
    await post('/abort', { expirationId: aborted })
    expect((await timer.fireNow(aborted)).expirationStatus.id).toBe(2)
    const expired = await schedule()
    await timer.fireNow(expired)
    await timer.fireNow(expired)
    expect(callbacks).toHaveLength(1)
  })

  it('fires a timer once when asked twice concurrently', async () => {
    const id = await schedule()
    const [first, second] = await Promise.all([timer.fireNow(id), timer.fireNow(id)])
    expect(first.expirationStatus.id).toBe(1)
    expect(second.expirationStatus.id).toBe(1)
    expect(callbacks).toHaveLength(1)
  })

  it('rejects fireNow for an unknown id', async () => {
    await expect(timer.fireNow('ffffffffffffffffffffffff')).rejects.toThrow('not found')
  })
})

describe('fireDue', () => {
  it('fires only pending timers that are due, in expirationDate order', async () => {
    const now = new Date('2024-05-01T12:00:00.000Z')
    await schedule({ startDate: '2024-05-01T11:00:00.000Z', expirationIntervalMs: 30 * 60_000, outputMode: restOutput({ path: '/second' }) })
    await schedule({ startDate: '2024-05-01T13:00:00.000Z', expirationIntervalMs: 0, outputMode: restOutput({ path: '/future' }) })
    await schedule({ startDate: '2024-05-01T10:00:00.000Z', expirationIntervalMs: 0, outputMode: restOutput({ path: '/first' }) })
    await schedule({ startDate: '2024-05-01T12:00:00.000Z', expirationIntervalMs: 0, outputMode: restOutput({ path: '/third' }) })
    const aborted = await schedule({ startDate: '2024-05-01T09:00:00.000Z', outputMode: restOutput({ path: '/aborted' }) })
    await post('/abort', { expirationId: aborted })
    await schedule({ startDate: '2024-05-01T09:00:00.000Z', outputMode: { type: 'kafka', topics: ['t'] } })

    expect(await timer.fireDue(now)).toBe(3)
    expect(callbacks.map((c) => c.url)).toEqual(['/first', '/second', '/third'])
    expect(timer.expirations().map((e) => e.expirationStatus.id)).toEqual([1, 0, 1, 1, 2, 3])
    expect(await timer.fireDue(now)).toBe(0)
  })

  it('uses the current time by default and counts only successes', async () => {
    await schedule({ startDate: new Date(Date.now() - 1000).toISOString(), expirationIntervalMs: 0 })
    await schedule({ startDate: new Date().toISOString(), expirationIntervalMs: 3_600_000 })
    answer = 'fail500'
    expect(await timer.fireDue()).toBe(0)
    answer = 'json'
    expect(await timer.fireDue()).toBe(1)
    expect(callbacks).toHaveLength(2)
  })
})

describe('automatic polling', () => {
  it('fires a due timer on its own, leaves later ones, and stops polling on close', async () => {
    // The poller and the due dates run on fake time: the test moves it instead of waiting.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    const polled = new TimerEmulator({ pollIntervalMs: 20 })
    await polled.start()
    let closed = false
    try {
      const later = await schedule({ startDate: new Date().toISOString(), expirationIntervalMs: 3_600_000 }, polled)
      const soon = await schedule({ startDate: new Date().toISOString(), expirationIntervalMs: 50 }, polled)
      await vi.advanceTimersByTimeAsync(60)
      await vi.waitFor(() => expect(polled.expiration(soon)?.expirationStatus.id).toBe(1), { timeout: 2000, interval: 10 })
      expect(polled.expiration(later)?.expirationStatus.id).toBe(0)
      expect(callbacks).toHaveLength(1)
      await polled.close()
      closed = true
      const fireDue = vi.spyOn(polled, 'fireDue')
      await vi.advanceTimersByTimeAsync(100)
      expect(fireDue).not.toHaveBeenCalled()
    } finally {
      if (!closed) await polled.close()
    }
  })
})

describe('control routes', () => {
  it('GET /__emulator/timers lists the expirations', async () => {
    const id = await schedule()
    const response = await fetch(`${timer.url}/__emulator/timers`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual(timer.expirations())
    expect(timer.expirations().map((e) => e.expirationId)).toEqual([id])
  })

  it('POST /__emulator/timers/:id/fire fires now and answers the expiration', async () => {
    const id = await schedule({ startDate: '2999-01-01T00:00:00.000Z' })
    const response = await fetch(`${timer.url}/__emulator/timers/${id}/fire`, { method: 'POST' })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ expirationId: id, expirationStatus: { id: 1, description: 'expired' } })
    expect(callbacks).toHaveLength(1)
  })

  it('POST /__emulator/timers/:id/fire answers 404 for an unknown id', async () => {
    const response = await fetch(`${timer.url}/__emulator/timers/ffffffffffffffffffffffff/fire`, { method: 'POST' })
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'expiration not found' })
  })

  it('reset() clears expirations, faults and the request log; copies are detached', async () => {
    const id = await schedule()
    const copy = timer.expiration(id)
    if (copy) copy.expirationStatus = { id: 2, description: 'aborted' }
    expect(timer.expiration(id)?.expirationStatus.id).toBe(0)
    timer.injectFault({ path: '/schedule', status: 500, times: Infinity })
    timer.reset()
    expect(timer.expirations()).toEqual([])
    expect(timer.requests).toEqual([])
    await schedule()
  })

  it('reset() restores the settings configure() changed', async () => {
    timer.configure({ unknownAbort: 404 })
    timer.reset()
    const response = await fetch(`${timer.url}/abort`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ expirationId: 'aaaaaaaaaaaaaaaaaaaaaaaa' }) })
    expect(response.status).toBe(204)
  })
})
