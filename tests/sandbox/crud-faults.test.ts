// CRUD emulator on the shared emulator kit: request log and fault injection (status, delay,
// connection reset, hang) in front of the collection routes.
import { describe, expect, it } from 'vitest'
import { USERS, useCrudEmulator } from './crud-helpers.js'

const { emulator, call } = useCrudEmulator([USERS])

describe('request log', () => {
  it('records method, path, query, headers, body and outcome', async () => {
    await call('POST', '/users/', { body: { email: 'a@x.io' }, headers: { miauserid: 'alice' } })
    await call('GET', '/users/', { query: { _st: 'DRAFT', _q: '{"email":"a@x.io"}' } })
    await call('GET', '/users/65f1c2a9e4b0a1b2c3d4e5f6')
    const [insert, list, get] = emulator.requests
    expect(insert).toMatchObject({
      method: 'POST',
      path: '/users/',
      body: { email: 'a@x.io' },
      contentType: 'application/json',
      outcome: 200,
      headers: expect.objectContaining({ miauserid: 'alice' }),
    })
    expect(list).toMatchObject({ method: 'GET', outcome: 200, rawQuery: expect.stringContaining('_st=DRAFT') })
    expect(get?.outcome).toBe(404)
    expect(emulator.requestsTo('GET', /^\/users\/[0-9a-f]{24}$/)).toHaveLength(1)
    expect(emulator.requestsTo('POST', '/users/')).toHaveLength(1)
  })
})

describe('fault injection', () => {
  it('answers an injected status for the next N matching calls, then the real handler', async () => {
    emulator.injectFault({ method: 'POST', path: '/users/', status: 503, times: 2 })
    expect((await call('POST', '/users/', { body: { email: 'a@x.io' } })).status).toBe(503)
    const second = await call('POST', '/users/', { body: { email: 'a@x.io' } })
    expect(second.json).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'injected fault' })
    expect((await call('POST', '/users/', { body: { email: 'a@x.io' } })).status).toBe(200)
    expect(emulator.documents('/users')).toHaveLength(1)
  })

  it('can mimic a CRUD Service error body', async () => {
    const body = { statusCode: 500, code: '11000', error: 'Internal Server Error', message: 'E11000 duplicate key error' }
    emulator.injectFault({ method: 'PATCH', path: /^\/users\//, status: 500, body })
    expect((await call('PATCH', '/users/65f1c2a9e4b0a1b2c3d4e5f6', { body: {} })).json).toEqual(body)
  })

  it('delays a call before the real handler', async () => {
    emulator.injectFault({ path: '/users/count', delayMs: 150 })
    const started = Date.now()
    const answer = await call('GET', '/users/count')
    expect(answer.json).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
  })

  it('resets the connection', async () => {
    emulator.injectFault({ path: '/users/', reset: true })
    await expect(call('GET', '/users/')).rejects.toThrow()
    expect(emulator.requests[0]?.outcome).toBe('reset')
    expect((await call('GET', '/users/')).status).toBe(200)
  })

  it('hangs until the client gives up', async () => {
    emulator.injectFault({ path: '/users/', hang: true })
    await expect(call('GET', '/users/', { signal: AbortSignal.timeout(200) })).rejects.toThrow()
    expect(emulator.requests[0]?.outcome).toBe('hang')
    expect((await call('GET', '/users/')).status).toBe(200)
  })

  it('is cleared by reset()', async () => {
    emulator.injectFault({ status: 500, times: Infinity })
    emulator.reset()
    expect((await call('GET', '/users/')).status).toBe(200)
  })
})
