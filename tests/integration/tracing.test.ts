// ENABLE_TRACING=true with an in-memory span exporter: one server span per request (child of the
// caller's context), one client span per peer call (child of the request's span), each peer
// receiving its own span's `traceparent`; the Timer Service callback and a job's calls continue
// the trace; route templates only, never ids or query strings.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { beforeEach, describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { RecordedRequest } from '../../src/sandbox/emulator-kit.js'
import { useStack } from '../helpers/stack.js'
import { waitUntil } from '../helpers/wait.js'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN_ID = '00f067aa0ba902b7'
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`
const ANNA = { userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', username: 'anna', roles: ['customer-basic'] }

const exporter = new InMemorySpanExporter()

const servers = () => exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER)
const clients = () => exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT)
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId
const spanIdIn = (request: RecordedRequest) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(request.headers.traceparent))?.slice(1)

describe('ENABLE_TRACING=true', () => {
  const stack = useStack({ env: { ENABLE_TRACING: 'true' }, spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const peerRequests = () => {
    const { crud, auth0, rond, timer } = stack.current
    return [...crud.requests, ...auth0.requests, ...rond.requests, ...timer.requests]
  }

  beforeEach(() => exporter.reset())

  it('makes one server span per request and one child client span per peer call, whose context each peer receives', async () => {
    const created = await stack.call('POST', '/users/', { json: { ...ANNA, expirationDate: '2031-01-01T00:00:00.000Z' }, headers: { traceparent: TRACEPARENT } })
    expect(created.status).toBe(200)
    const requests = peerRequests()
    await waitUntil(() => servers().length === 1 && clients().length === requests.length, 'the spans')

    const [server] = servers()
    expect(server!.name).toBe('POST /users/')
    expect(server!.spanContext().traceId).toBe(TRACE_ID)
    expect(parentOf(server!)).toBe(CALLER_SPAN_ID)
    expect(server!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/users/', 'url.path': '/users/', 'http.response.status_code': 200 })

    const spans = clients()
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(TRACE_ID)
      expect(parentOf(span)).toBe(server!.spanContext().spanId)
    }
    // Each peer call carries its own span's context: one call, one span.
    const received = requests.map(spanIdIn)
    for (const ids of received) expect(ids?.[0]).toBe(TRACE_ID)
    expect(received.map((ids) => ids?.[1]).sort()).toEqual(spans.map((span) => span.spanContext().spanId).sort())
    expect(new Set(spans.map((span) => span.attributes['peer.service']))).toEqual(new Set(['CRUD', 'AUTH', 'ROND', 'TIMER']))
    const insert = spans.find((span) => span.attributes['peer.service'] === 'CRUD' && span.name === 'POST /users/')
    expect(insert?.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.template': '/users/', 'http.response.status_code': 200 })
    const linkUser = spans.find((span) => span.attributes['peer.service'] === 'CRUD' && span.attributes['http.request.method'] === 'PATCH')
    expect(linkUser?.name).toBe('PATCH /users/:id')
  })

  it('starts a new trace for a caller without one, and marks a failed peer call', async () => {
    const [id] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Bo', surname: 'S' }])
    stack.current.crud.injectFault({ method: 'GET', path: `/users/${id}`, reset: true })
    expect((await stack.call('GET', `/users/${id}?_p=name`)).status).toBe(500)
    await waitUntil(() => servers().length === 1 && clients().length === 1, 'the spans')
    const [server] = servers()
    const [client] = clients()
    expect(parentOf(server!)).toBeUndefined()
    expect(server!.name).toBe('GET /users/:id')
    expect(server!.attributes).toMatchObject({ 'http.route': '/users/:id', 'url.path': `/users/${id}`, 'http.response.status_code': 500 })
    expect(server!.status.code).toBe(SpanStatusCode.ERROR)
    expect(client!.spanContext().traceId).toBe(server!.spanContext().traceId)
    expect(parentOf(client!)).toBe(server!.spanContext().spanId)
    expect(client!.name).toBe('GET /users/:id')
    expect(client!.attributes).toMatchObject({ 'url.template': '/users/:id', 'error.type': 'reset' })
    expect(client!.status.code).toBe(SpanStatusCode.ERROR)
    for (const span of exporter.getFinishedSpans()) expect(JSON.stringify(span.attributes)).not.toContain('_p=')
  })

  it('continues the trace on the Timer Service callback, as a child of the request that scheduled it', async () => {
    const created = await stack.call('POST', '/users/', { json: { ...ANNA, expirationDate: '2031-01-01T00:00:00.000Z' }, headers: { traceparent: TRACEPARENT } })
    expect(created.status).toBe(200)
    await waitUntil(() => servers().length === 1, 'the creation span')
    const creation = servers()[0]!
    const [expiration] = stack.current.timer.expirations()
    expect(expiration?.outputMode).toMatchObject({ headers: { traceparent: `00-${TRACE_ID}-${creation.spanContext().spanId}-01` } })

    exporter.reset()
    expect((await stack.current.timer.fireNow(expiration!.expirationId)).expirationStatus.description).toBe('expired')
    await waitUntil(() => servers().length === 1 && clients().length > 0, 'the callback spans')
    const [callback] = servers()
    expect(callback!.name).toBe('PATCH /users/:id')
    expect(callback!.spanContext().traceId).toBe(TRACE_ID)
    expect(parentOf(callback!)).toBe(creation.spanContext().spanId)
    for (const span of clients()) expect(parentOf(span)).toBe(callback!.spanContext().spanId)
  })

  it("continues the caller's trace in the calls of a job it submitted", async () => {
    const { auth0, crud } = stack.current
    const authUser = auth0.seedUser({ email: 'job@example.com', username: 'job', password: 'Secret-Pass1' })
    crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'J', surname: 'S', email: 'job@example.com', authUserId: authUser.user_id }])
    const submitted = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [authUser.user_id] }, headers: { traceparent: TRACEPARENT } })
    expect(submitted.status).toBe(202)
    await waitUntil(() => clients().some((span) => span.name === 'POST /change-password'), 'the job call')
    const send = clients().find((span) => span.name === 'POST /change-password')!
    expect(send.spanContext().traceId).toBe(TRACE_ID)
    expect(parentOf(send)).toBe(CALLER_SPAN_ID)
    const [request] = auth0.requestsTo('POST', '/change-password')
    expect(spanIdIn(request!)).toEqual([TRACE_ID, send.spanContext().spanId])
  })
})
