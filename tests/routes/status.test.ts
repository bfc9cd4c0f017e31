// The status routes in the test process (inject, fake peers): which peers the check-up asks, and
// how it reports them. Over HTTP against the emulators: tests/integration/status.test.ts.
import { describe, expect, it } from 'vitest'
import type { CallContext } from '../../src/clients/http.js'
import { UpstreamError } from '../../src/errors/index.js'
import { build, inject } from '../helpers/build.js'

const healthy = async (_ctx: CallContext) => {}

describe('GET /-/check-up', () => {
  it('asks the CRUD and the auth service only, when Rönd is off and no Timer Service is set', async () => {
    const asked: string[] = []
    const app = await build({
      peers: {
        crud: { checkHealth: async () => void asked.push('crud') } as never,
        auth: { checkHealth: async () => void asked.push('auth') } as never,
      },
    })
    const answer = await inject(app, 'GET', '/-/check-up')
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({
      name: 'ums',
      status: 'OK',
      version: '0.1.0',
      peers: [
        { name: 'crud', status: 'OK', latencyMs: expect.any(Number) },
        { name: 'auth', status: 'OK', latencyMs: expect.any(Number) },
      ],
    })
    expect(asked.sort()).toEqual(['auth', 'crud'])
  })

  it('lists each peer with its status and latency, healthy or not', async () => {
    const slow = async () => new Promise<void>((resolve) => setTimeout(resolve, 50))
    const app = await build({
      env: { ROND_ENABLED: 'true', TIMER_SERVICE: 'http://127.0.0.1:9' },
      peers: {
        crud: { checkHealth: slow } as never,
        auth: { checkHealth: healthy } as never,
        rond: { checkHealth: healthy } as never,
        timer: {
          checkHealth: async () => {
            await slow()
            throw new UpstreamError('TIMER', 'GET', '/-/healthz', 503, undefined)
          },
        } as never,
      },
    })
    const answer = await inject(app, 'GET', '/-/check-up')
    expect(answer.status).toBe(503)
    expect(answer.body.peers).toEqual([
      { name: 'crud', status: 'OK', latencyMs: expect.any(Number) },
      { name: 'auth', status: 'OK', latencyMs: expect.any(Number) },
      { name: 'rond', status: 'OK', latencyMs: expect.any(Number) },
      { name: 'timer', status: 'KO', latencyMs: expect.any(Number), message: 'TIMER GET /-/healthz responded with a 503 status code' },
    ])
    const latency = Object.fromEntries(answer.body.peers.map((peer: { name: string; latencyMs: number }) => [peer.name, peer.latencyMs]))
    expect(latency.crud).toBeGreaterThanOrEqual(45)
    expect(latency.timer).toBeGreaterThanOrEqual(45)
    expect(latency.auth).toBeLessThan(45)
  })

  it('asks Rönd and the Timer Service once configured, and names each unhealthy peer', async () => {
    const app = await build({
      env: { ROND_ENABLED: 'true', TIMER_SERVICE: 'http://127.0.0.1:9' },
      peers: {
        crud: { checkHealth: healthy } as never,
        auth: { checkHealth: healthy } as never,
        rond: {
          checkHealth: async () => {
            throw new UpstreamError('ROND', 'GET', '/-/rbac-healthz', 503, undefined)
          },
        } as never,
        timer: {
          checkHealth: async () => {
            throw new UpstreamError('TIMER', 'GET', '/-/healthz', undefined, 'connection refused')
          },
        } as never,
      },
    })
    const answer = await inject(app, 'GET', '/-/check-up')
    expect(answer.status).toBe(503)
    expect(answer.body).toMatchObject({ name: 'ums', status: 'KO', version: '0.1.0' })
    expect(answer.body.message).toBe(
      'rond is not healthy: ROND GET /-/rbac-healthz responded with a 503 status code; timer is not healthy: TIMER GET /-/healthz failed: connection refused',
    )
  })

  it('fails the test on a peer call the test did not expect', async () => {
    const app = await build()
    const answer = await inject(app, 'GET', '/-/check-up')
    expect(answer.status).toBe(503)
    expect(answer.body.message).toContain('crud is not healthy: unexpected peer call crud.checkHealth()')
  })
})

describe('GET /-/ready', () => {
  it('answers 200 with the in-memory job store, calling no peer', async () => {
    const app = await build()
    const answer = await inject(app, 'GET', '/-/ready')
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('{"name":"ums","status":"OK","version":"0.1.0"}')
  })
})
