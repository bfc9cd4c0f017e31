import { describe, expect, it } from 'vitest'
import { LogCapture, useStack } from '../helpers/stack.js'

const logs = new LogCapture()

describe('status routes', () => {
  const stack = useStack({ env: { LOG_LEVEL: 'info', UPSTREAM_TIMEOUT_MS: '300' }, logStream: logs })

  it.each(['/-/healthz', '/-/ready'])('%s answers 200 with name, status and version', async (path) => {
    const answer = await stack.call('GET', path)
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(answer.text).toBe('{"name":"ums","status":"OK","version":"0.1.0"}')
  })

  it('answers HEAD and 404s a trailing slash or another method', async () => {
    expect((await stack.call('HEAD', '/-/healthz')).status).toBe(200)
    expect((await stack.call('GET', '/-/healthz/')).status).toBe(404)
    expect((await stack.call('POST', '/-/healthz')).status).toBe(404)
  })

  it('check-up answers 200 when every configured peer is healthy', async () => {
    const answer = await stack.call('GET', '/-/check-up')
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({
      name: 'ums',
      status: 'OK',
      version: '0.1.0',
      peers: ['crud', 'auth', 'rond', 'timer'].map((name) => ({ name, status: 'OK', latencyMs: expect.any(Number) })),
    })
    expect(stack.current.crud.requestsTo('GET', '/-/healthz')).toHaveLength(1)
    expect(stack.current.auth0.requestsTo('GET', '/-/healthz')).toHaveLength(1)
    expect(stack.current.rond.requestsTo('GET', '/-/rbac-healthz')).toHaveLength(1)
    expect(stack.current.timer.requestsTo('GET', '/-/healthz')).toHaveLength(1)
  })

  it('check-up answers 503 naming the unhealthy peers, and never crashes', async () => {
    stack.current.crud.injectFault({ path: '/-/healthz', status: 503 })
    stack.current.timer.injectFault({ path: '/-/healthz', hang: true })
    stack.current.rond.injectFault({ path: '/-/rbac-healthz', reset: true })
    const answer = await stack.call('GET', '/-/check-up')
    expect(answer.status).toBe(503)
    expect(answer.body).toMatchObject({ name: 'ums', status: 'KO', version: '0.1.0' })
    expect(answer.body.message).toContain('crud is not healthy: CRUD GET /-/healthz responded with a 503 status code')
    expect(answer.body.message).toContain('timer is not healthy: TIMER GET /-/healthz failed: timeout after 300 ms')
    expect(answer.body.message).toContain('rond is not healthy: ROND GET /-/rbac-healthz failed: connection reset')
    expect(answer.body.message).not.toContain('auth')
    expect((await stack.call('GET', '/-/healthz')).status).toBe(200)
    expect(logs.records.some((record) => record.msg === 'Service status is not ok')).toBe(true)
  })

  it('writes no request line for probes but one for other routes', async () => {
    logs.lines.length = 0
    await stack.call('GET', '/-/healthz')
    await stack.call('GET', '/-/ready')
    expect(logs.records.filter((record) => record.msg === 'request completed')).toHaveLength(0)
    await stack.call('GET', '/documentation/json', { headers: { 'x-request-id': 'trace-me' } })
    const [line] = logs.records.filter((record) => record.msg === 'request completed')
    expect(line).toMatchObject({ level: 30, reqId: 'trace-me', http: { response: { statusCode: 200 } }, url: { path: '/documentation/json' } })
    expect(typeof line?.time).toBe('number')
  })

  it('answers unknown routes with the Fastify 404 body and its code', async () => {
    const answer = await stack.call('GET', '/nope')
    expect(answer.status).toBe(404)
    expect(answer.text).toBe('{"message":"Route GET:/nope not found","error":"Not Found","statusCode":404,"code":"FST_ERR_NOT_FOUND"}')
  })
})

describe('OpenAPI document', () => {
  const stack = useStack()

  it('is OpenAPI 3.0.3 with info from package.json and every route, status routes included', async () => {
    const answer = await stack.call('GET', '/documentation/json')
    expect(answer.status).toBe(200)
    expect(answer.body.openapi).toBe('3.0.3')
    expect(answer.body.info).toMatchObject({ title: 'ums', version: '0.1.0' })
    const paths = Object.keys(answer.body.paths)
    for (const path of ['/oauth/token', '/refreshtoken', '/userinfo', '/users/change-password', '/-/healthz', '/-/ready', '/-/check-up']) expect(paths).toContain(path)
    expect(paths.some((path) => path.startsWith('/documentation'))).toBe(false)
    expect(answer.body.paths['/oauth/token'].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password'])
    expect(answer.body.paths['/-/ready'].get.responses).toHaveProperty('503')
  })

  it('lists /users/ once, not also /users (both still answer)', async () => {
    const answer = await stack.call('GET', '/documentation/json')
    const paths = Object.keys(answer.body.paths)
    expect(paths).toContain('/users/')
    expect(paths).not.toContain('/users')
    expect(Object.keys(answer.body.paths['/users/']).sort()).toEqual(['get', 'post'])
    expect((await stack.call('GET', '/users')).status).toBe(200)
  })

  it('gives every operation a unique operationId', async () => {
    const answer = await stack.call('GET', '/documentation/json')
    const operations = Object.entries(answer.body.paths as Record<string, Record<string, { operationId?: string }>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ at: `${method.toUpperCase()} ${path}`, id: operation.operationId })),
    )
    expect(operations.length).toBeGreaterThanOrEqual(20)
    expect(operations.filter((operation) => typeof operation.id !== 'string' || operation.id === '')).toEqual([])
    expect(new Set(operations.map((operation) => operation.id)).size).toBe(operations.length)
  })

  it('documents the error body with its code', async () => {
    const answer = await stack.call('GET', '/documentation/json')
    expect(answer.body.components.schemas.ErrorBody.required).toEqual(['statusCode', 'error', 'message', 'code'])
  })

  it('is also served as YAML', async () => {
    const answer = await stack.call('GET', '/documentation/yaml')
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toContain('application/x-yaml')
    expect(answer.text).toContain('openapi: 3.0.3')
  })
})
