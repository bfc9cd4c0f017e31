// With tracing off (the default), a caller's W3C trace context still travels: every peer call of
// the request, the Timer Service's expiry callback (and the calls ums makes for it) and the calls
// of a job the request submitted carry the caller's `traceparent` and `tracestate` unchanged, and
// no SDK records anything.
import { trace } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import type { RecordedRequest } from '../../src/sandbox/emulator-kit.js'
import { useStack } from '../helpers/stack.js'
import { waitForJob } from '../helpers/wait.js'

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'vendor=opaque,other=1'
const TRACE_HEADERS = { traceparent: TRACEPARENT, tracestate: TRACESTATE }
const ANNA = { userGroup: 'customer', name: 'Anna', surname: 'Bianchi', email: 'anna@example.com', username: 'anna', roles: ['customer-basic'] }

const traceOf = (request: RecordedRequest) => ({ traceparent: request.headers.traceparent, tracestate: request.headers.tracestate })

describe('W3C trace context with ENABLE_TRACING=false', () => {
  const stack = useStack()
  const peerRequests = () => {
    const { crud, auth0, rond, timer } = stack.current
    return [...crud.requests, ...auth0.requests, ...rond.requests, ...timer.requests]
  }

  it('reaches every peer call of the request and the Timer Service callback, then every call the callback makes', async () => {
    const created = await stack.call('POST', '/users/', { json: { ...ANNA, expirationDate: '2031-01-01T00:00:00.000Z' }, headers: TRACE_HEADERS })
    expect(created.status).toBe(200)
    const { crud, auth0, rond, timer } = stack.current
    for (const peer of [crud, auth0, rond, timer]) expect(peer.requests.length).toBeGreaterThan(0)
    for (const request of peerRequests()) expect(traceOf(request), `${request.method} ${request.path}`).toEqual(TRACE_HEADERS)

    const [expiration] = timer.expirations()
    expect(expiration?.outputMode).toMatchObject({ headers: TRACE_HEADERS })
    const before = crud.requests.length
    expect((await timer.fireNow(expiration!.expirationId)).expirationStatus.description).toBe('expired')
    const callbackCalls = crud.requests.slice(before)
    expect(callbackCalls.map((request) => request.method)).toEqual(expect.arrayContaining(['GET', 'PATCH']))
    for (const request of callbackCalls) expect(traceOf(request), `${request.method} ${request.path}`).toEqual(TRACE_HEADERS)
    expect(crud.documents(USERS_ENDPOINT)[0]).toMatchObject({ blocked: true })
  })

  it('reaches the calls of a job the request submitted', async () => {
    const { auth0, crud } = stack.current
    const authUser = auth0.seedUser({ email: 'job@example.com', username: 'job', password: 'Secret-Pass1' })
    crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'J', surname: 'S', email: 'job@example.com', authUserId: authUser.user_id }])
    const submitted = await stack.call('POST', '/jobs/change-password/bulk', { json: { authUsersIds: [authUser.user_id] }, headers: TRACE_HEADERS })
    expect(submitted.status).toBe(202)
    await waitForJob(stack.current.url, `/jobs/change-password/bulk/${submitted.body.jobId}`, { timeoutMs: 10_000 })
    const [send] = auth0.requestsTo('POST', '/change-password')
    expect(send && traceOf(send)).toEqual(TRACE_HEADERS)
  })

  it('invents nothing when the caller sends no trace context', async () => {
    expect((await stack.call('POST', '/users/', { json: ANNA })).status).toBe(200)
    for (const request of peerRequests()) expect(traceOf(request)).toEqual({ traceparent: undefined, tracestate: undefined })
  })

  it('records no span: no SDK runs', () => {
    const span = trace.getTracer('probe').startSpan('probe')
    expect(span.isRecording()).toBe(false)
    span.end()
  })
})
