import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { createServer, type Server } from 'node:net'
import pino from 'pino'
import { PeerClient, type CallContext } from '../../src/clients/http.js'
import { UpstreamError, upstreamFailure, HttpError } from '../../src/errors/index.js'

const ctx: CallContext = { forwarded: { 'x-request-id': 'r-1', miauserid: 'u1' }, incoming: {}, log: pino({ level: 'silent' }) }

describe('PeerClient', () => {
  let target: FastifyInstance
  let base: string
  let resetServer: Server
  let resetPort: number

  beforeAll(async () => {
    target = Fastify({ forceCloseConnections: true })
    target.all('/prefix/echo', async (request) => ({ method: request.method, url: request.url, headers: request.headers, body: request.body ?? null }))
    target.get('/prefix/status/:code', async (request, reply) => reply.code(Number((request.params as { code: string }).code)).send({ message: 'secret personal data' }))
    target.get('/prefix/slow', () => new Promise(() => undefined))
    target.get('/prefix/text', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('{"bindingId":"b-1"}'))
    target.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))))
    base = await target.listen({ host: '127.0.0.1', port: 0 })
    resetServer = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => resetServer.listen(0, '127.0.0.1', resolve))
    resetPort = (resetServer.address() as { port: number }).port
  })

  afterAll(async () => {
    await target.close()
    await new Promise((resolve) => resetServer.close(resolve))
  })

  const client = (url = `${base}/prefix`, timeoutMs = 2000) => new PeerClient('CRUD', new URL(url), { timeoutMs })

  it('joins the base path, sends JSON and the forwarded headers, per-call headers winning', async () => {
    const response = await client().call<{ method: string; url: string; headers: Record<string, string>; body: unknown }>(
      { method: 'POST', path: '/echo', route: '/echo', query: { _q: '{"a":1}', skip: undefined }, json: { a: 1 }, headers: { miauserid: 'override' } },
      ctx,
    )
    expect(response.status).toBe(200)
    expect(response.body.url).toBe('/prefix/echo?_q=%7B%22a%22%3A1%7D')
    expect(response.body.body).toEqual({ a: 1 })
    expect(response.body.headers).toMatchObject({ 'content-type': 'application/json', 'x-request-id': 'r-1', miauserid: 'override' })
  })

  it('sends forms url-encoded and passes a raw query string unchanged', async () => {
    const response = await client().call<{ url: string; headers: Record<string, string>; body: unknown }>(
      { method: 'POST', path: '/echo', route: '/echo', query: '_l=5&_st=PUBLIC', form: { username: 'a b', password: 'p&q' } },
      ctx,
    )
    expect(response.body.url).toBe('/prefix/echo?_l=5&_st=PUBLIC')
    expect(response.body.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(response.body.body).toEqual({ username: 'a b', password: 'p&q' })
  })

  it('parses JSON even when it is labelled text/plain', async () => {
    const response = await client().call({ method: 'GET', path: '/text', route: '/text' }, ctx)
    expect(response.body).toEqual({ bindingId: 'b-1' })
  })

  it('turns a non-2xx answer into an UpstreamError naming the route template, never the body', async () => {
    const error = await client().call({ method: 'GET', path: '/status/503', route: '/status/:code' }, ctx).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as UpstreamError).status).toBe(503)
    expect((error as Error).message).toBe('CRUD GET /status/:code responded with a 503 status code')
    expect((error as Error).message).not.toContain('secret')
  })

  it('lets the caller accept chosen statuses', async () => {
    const response = await client().call({ method: 'GET', path: '/status/404', route: '/status/:code', acceptStatus: [404] }, ctx)
    expect(response.status).toBe(404)
  })

  it('times out a peer that never answers', async () => {
    const started = Date.now()
    const error = await client(`${base}/prefix`, 200).call({ method: 'GET', path: '/slow', route: '/slow' }, ctx).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('CRUD GET /slow failed: timeout after 200 ms')
    // Exact to the timer, not to undici's coarse internal ticks.
    expect(Date.now() - started).toBeGreaterThanOrEqual(195)
    expect(Date.now() - started).toBeLessThan(500)
  })

  it('reports a refused connection', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
    const error = await client(`http://127.0.0.1:${port}`).call({ method: 'GET', path: '/x', route: '/x' }, ctx).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('CRUD GET /x failed: connection refused')
  })

  it('reports a reset connection', async () => {
    const error = await client(`http://127.0.0.1:${resetPort}`).call({ method: 'GET', path: '/x', route: '/x' }, ctx).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('CRUD GET /x failed: connection reset')
  })
})

describe('upstreamFailure', () => {
  const upstream = (status?: number) => new UpstreamError('CRUD', 'PATCH', '/users/:id', status, status === undefined ? 'connection refused' : undefined)

  it('builds the documented 500 body', () => {
    const error = upstreamFailure(upstream(404), { action: 'deleting', passThrough: [] })
    expect(error.toBody()).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Error while deleting user: CRUD PATCH /users/:id responded with a 404 status code',
      code: 'UMS_UPSTREAM_FAILED',
    })
  })

  it('keeps a client-visible status when the route says so', () => {
    expect(upstreamFailure(upstream(409), { action: 'creating', passThrough: [409] }).toBody()).toMatchObject({ statusCode: 409, code: 'UMS_DUPLICATE_USER' })
    expect(upstreamFailure(upstream(409), { action: 'creating', passThrough: [] }).statusCode).toBe(500)
  })

  it('says failed for transport errors', () => {
    expect(upstreamFailure(upstream(), { action: 'creating', passThrough: [400] }).message).toBe('Error while creating user: CRUD PATCH /users/:id failed: connection refused')
  })

  it('names only the call outside a user operation', () => {
    expect(upstreamFailure(upstream(503), undefined).message).toBe('CRUD PATCH /users/:id responded with a 503 status code')
  })

  it('HttpErrors carry their code', () => {
    expect(new HttpError(400, 'bad', 'UMS_INVALID_UPDATE').toBody()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'bad', code: 'UMS_INVALID_UPDATE' })
  })
})
