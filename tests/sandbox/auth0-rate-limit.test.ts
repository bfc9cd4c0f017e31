// Auth0 Client emulator: the token bucket and the 429 answers per API class, relayed or
// converted.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { TokenBucket } from '../../src/sandbox/auth0-emulator.js'
import { importForm, useAuth0Emulator, useMovableClock } from './auth0-helpers.js'

describe('TokenBucket', () => {
  function fakeClock(start = 1_000_000) {
    let now = start
    return { clock: () => now, advance: (ms: number) => (now += ms) }
  }

  it('allows a burst, then refuses until tokens flow back at perSecond', () => {
    const time = fakeClock()
    const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, time.clock)
    expect([bucket.take(), bucket.take(), bucket.take()].map((result) => result.allowed)).toEqual([true, true, true])
    const refused = bucket.take()
    expect(refused).toEqual({ allowed: false, remaining: 0, limit: 3, resetAtMs: 1_000_500, retryAfterMs: 500 })
    time.advance(499)
    expect(bucket.take().allowed).toBe(false)
    time.advance(1)
    expect(bucket.take()).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('never holds more than the burst and reports when it is full again', () => {
    const time = fakeClock()
    const bucket = new TokenBucket({ burst: 2, perSecond: 1 }, time.clock)
    time.advance(60_000)
    expect(bucket.remaining).toBe(2)
    expect(bucket.take()).toEqual({ allowed: true, remaining: 1, limit: 2, resetAtMs: time.clock() + 1000 })
    expect(bucket.take()).toEqual({ allowed: true, remaining: 0, limit: 2, resetAtMs: time.clock() + 2000 })
  })

  it('supports slow rates such as one per minute', () => {
    const time = fakeClock()
    const bucket = new TokenBucket({ burst: 1, perSecond: 1 / 60 }, time.clock)
    bucket.take()
    expect(bucket.take()).toMatchObject({ allowed: false, retryAfterMs: 60_000 })
    time.advance(30_000)
    expect(bucket.take()).toMatchObject({ allowed: false, retryAfterMs: 30_000 })
  })

  it('rejects nonsensical configurations', () => {
    expect(() => new TokenBucket({ burst: 0, perSecond: 1 })).toThrow()
    expect(() => new TokenBucket({ burst: 1, perSecond: 0 })).toThrow()
  })
})

describe('429 answers over HTTP', () => {
  // Buckets refill on the emulator's clock: the tests move it instead of waiting.
  useMovableClock()
  const { emulator, call } = useAuth0Emulator({ importTiming: { mode: 'manual' } })
  const slow = { burst: 1, perSecond: 0.1 }
  const MARIO = { email: 'mario.rossi@example.com', password: 'Secret123', username: 'mario.rossi' }

  // After the reset that useAuth0Emulator registers before each test.
  beforeEach(() => {
    emulator.seedUser(MARIO)
  })

  function expectRateHeaders(headers: Headers, limit: number, retryAfter: number) {
    expect(headers.get('x-ratelimit-limit')).toBe(String(limit))
    expect(headers.get('x-ratelimit-remaining')).toBe('0')
    const reset = Number(headers.get('x-ratelimit-reset'))
    const nowSeconds = Date.now() / 1000
    expect(reset).toBeGreaterThan(nowSeconds)
    expect(reset).toBeLessThanOrEqual(Math.ceil(nowSeconds) + retryAfter + 1)
    expect(headers.get('retry-after')).toBe(String(retryAfter))
  }

  it('is disabled by default', async () => {
    for (let i = 0; i < 20; i += 1) expect((await call('GET', '/users')).status).toBe(200)
  })

  it('relays the management API 429 with the four headers', async () => {
    emulator.configure({ rateLimits: { managementApi: { burst: 2, perSecond: 0.5 } } })
    const first = await call('GET', '/users')
    expect(first.headers.get('x-ratelimit-limit')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1')
    expect((await call('POST', '/users/import', { body: importForm([]) })).status).toBe(201)
    const refused = await call('PATCH', '/users/auth0%7Cnobody', { json: { blocked: true } })
    expect(refused.status).toBe(429)
    expect(refused.json).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' })
    expectRateHeaders(refused.headers, 2, 2)
  })

  it('relays access_denied for /oauth/token and /refreshtoken', async () => {
    emulator.configure({ rateLimits: { authApi: { burst: 2, perSecond: 0.1 } } })
    const login = await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })
    const { accessToken, refreshToken } = login.json as { accessToken: string; refreshToken: string }
    await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })
    const refusedLogin = await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })
    expect(refusedLogin.status).toBe(429)
    expect(refusedLogin.json).toEqual({ error: 'access_denied', error_description: 'Global rate limit exceeded', error_uri: expect.stringContaining('auth0.com') })
    expectRateHeaders(refusedLogin.headers, 2, 10)
    const refusedRefresh = await call('POST', '/refreshtoken', { headers: { authorization: `Bearer ${accessToken}` }, json: { refresh_token: refreshToken } })
    expect(refusedRefresh.status).toBe(429)
    expect(refusedRefresh.json).toMatchObject({ error: 'access_denied' })
  })

  it('relays plain text for /userinfo', async () => {
    emulator.configure({ rateLimits: { authApi: slow } })
    await call('GET', '/userinfo')
    const refused = await call('GET', '/userinfo')
    expect(refused.status).toBe(429)
    expect(refused.text).toBe('Rate limit exceed')
    expect(refused.headers.get('content-type')).toMatch(/^text\/plain/)
    expectRateHeaders(refused.headers, 1, 10)
  })

  it('relays too_many_requests for change-password', async () => {
    emulator.configure({ rateLimits: { authApi: slow } })
    await call('POST', '/change-password', { json: { email: MARIO.email } })
    const refused = await call('POST', '/change-password', { json: { email: MARIO.email } })
    expect(refused.status).toBe(429)
    expect(refused.json).toMatchObject({ error: 'too_many_requests', error_description: 'Global rate limit exceeded' })
    expectRateHeaders(refused.headers, 1, 10)
  })

  it('keeps the classes apart', async () => {
    emulator.configure({ rateLimits: { authApi: slow } })
    await call('GET', '/userinfo')
    expect((await call('GET', '/userinfo')).status).toBe(429)
    expect((await call('GET', '/users')).status).toBe(200)
  })

  it('converts to 503 without rate-limit headers in converted5xx mode', async () => {
    emulator.configure({ rateLimits: { managementApi: slow, authApi: slow }, rateLimitForm: 'converted5xx' })
    await call('GET', '/users')
    await call('GET', '/userinfo')
    for (const [method, path] of [
      ['GET', '/users'],
      ['GET', '/userinfo'],
    ] as const) {
      const answer = await call(method, path)
      expect(answer.status).toBe(503)
      expect(answer.json).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'Auth0 rate limit reached' })
      expect(answer.headers.get('retry-after')).toBeNull()
    }
  })

  it('refills over time', async () => {
    emulator.configure({ rateLimits: { managementApi: { burst: 1, perSecond: 20 } } })
    await call('GET', '/users')
    expect((await call('GET', '/users')).status).toBe(429)
    vi.advanceTimersByTime(70)
    expect((await call('GET', '/users')).status).toBe(200)
  })
})
