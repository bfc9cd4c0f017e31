// Auth0 Client emulator: login, refresh, userinfo and the change-password email.
import { describe, expect, it, vi } from 'vitest'
import { useAuth0Emulator, useMovableClock } from './auth0-helpers.js'

// Tokens and sessions expire on the emulator's clock: the tests move it instead of waiting.
useMovableClock()
const { emulator, call } = useAuth0Emulator({
  clients: {
    backoffice: { website: false },
    website: { website: true, sameSite: 'Lax' },
    portal: { website: true, sameSite: 'None' },
    plain: { website: true },
  },
})

const MARIO = { email: 'mario.rossi@example.com', password: 'Secret123', username: 'mario.rossi' }

interface Tokens {
  accessToken: string
  refreshToken: string
  idToken: string
  expireAt: string
}

async function login(clientType = 'backoffice', username = MARIO.email, password = MARIO.password) {
  return call('POST', '/oauth/token', { clientType, form: { grant_type: 'password', username, password, connection: 'Username-Password-Authentication' } })
}

async function tokens(): Promise<Tokens> {
  const answer = await login()
  expect(answer.status).toBe(200)
  return answer.json as Tokens
}

async function sid(clientType = 'website'): Promise<string> {
  const answer = await login(clientType)
  const cookie = answer.headers.get('set-cookie') ?? ''
  return /^sid=([^;]+)/.exec(cookie)?.[1] ?? ''
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const refresh = (accessToken: string, refreshToken: string) =>
  call('POST', '/refreshtoken', { headers: bearer(accessToken), json: { refresh_token: refreshToken } })

describe('POST /oauth/token (item 15)', () => {
  it('answers token mode JSON with opaque tokens and a nanosecond RFC 3339 expireAt', async () => {
    emulator.seedUser(MARIO)
    const before = Date.now()
    const answer = await login()
    expect(answer.status).toBe(200)
    const body = answer.json as Tokens
    expect(Object.keys(body)).toEqual(['accessToken', 'refreshToken', 'idToken', 'expireAt'])
    expect(new Set([body.accessToken, body.refreshToken, body.idToken]).size).toBe(3)
    expect(body.expireAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
    const expiresIn = Date.parse(body.expireAt) - before
    expect(expiresIn).toBeGreaterThanOrEqual(86_400_000 - 5)
    expect(expiresIn).toBeLessThan(86_400_000 + 5_000)
    expect(answer.headers.get('set-cookie')).toBeNull()
  })

  it('accepts the username instead of the email, and JSON bodies', async () => {
    emulator.seedUser(MARIO)
    expect((await login('backoffice', MARIO.username)).status).toBe(200)
    const json = await call('POST', '/oauth/token', { json: { username: MARIO.email, password: MARIO.password } })
    expect(json.status).toBe(200)
    expect(emulator.requestsTo('POST', '/oauth/token')[1]?.contentType).toBe('application/json')
  })

  it('sets the sid cookie with an empty body in website mode', async () => {
    emulator.seedUser(MARIO)
    const answer = await login('website')
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('')
    expect(answer.headers.get('set-cookie')).toMatch(/^sid=[A-Za-z0-9_-]+; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)
    expect((await login('portal')).headers.get('set-cookie')).toMatch(/; SameSite=None$/)
    expect((await login('plain')).headers.get('set-cookie')).toMatch(/; HttpOnly; Secure$/)
  })

  it('uses the configured session duration for Max-Age', async () => {
    emulator.configure({ sessionDurationSeconds: 600 })
    emulator.seedUser(MARIO)
    expect((await login('website')).headers.get('set-cookie')).toContain('; Max-Age=600;')
  })

  it('answers 403 for a wrong password, an unknown user and a blocked user', async () => {
    emulator.seedUser(MARIO)
    emulator.seedUser({ email: 'blocked@example.com', password: 'Secret123', blocked: true })
    const wrong = await login('backoffice', MARIO.email, 'Nope12345')
    expect(wrong.status).toBe(403)
    expect(wrong.json).toEqual({ error: 'invalid_grant', error_description: 'Wrong email or password.' })
    expect((await login('backoffice', 'ghost@example.com')).status).toBe(403)
    const blocked = await login('backoffice', 'blocked@example.com', 'Secret123')
    expect(blocked.status).toBe(403)
    expect(blocked.json).toEqual({ error: 'unauthorized', error_description: 'user is blocked' })
  })

  it('refuses users without a known password (imported) and users of another connection', async () => {
    emulator.configure({ connections: { 'Username-Password-Authentication': { requiresUsername: true }, other: { requiresUsername: false } } })
    emulator.seedUser({ email: 'nopass@example.com', connection: 'Username-Password-Authentication' })
    emulator.seedUser({ email: 'elsewhere@example.com', password: 'Secret123', connection: 'other' })
    expect((await login('backoffice', 'nopass@example.com', '')).status).toBe(400)
    expect((await login('backoffice', 'nopass@example.com', 'Anything1')).status).toBe(403)
    expect((await login('backoffice', 'elsewhere@example.com', 'Secret123')).status).toBe(403)
  })

  it('refuses other grants, missing fields and unknown connections', async () => {
    const grant = await call('POST', '/oauth/token', { form: { grant_type: 'client_credentials', username: 'a', password: 'b' } })
    expect(grant.status).toBe(400)
    expect(grant.json).toMatchObject({ error: 'unsupported_grant_type' })
    const missing = await call('POST', '/oauth/token', { form: { username: 'a' } })
    expect(missing.json).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: password' })
    const connection = await call('POST', '/oauth/token', { form: { username: 'a', password: 'b', connection: 'nope' } })
    expect(connection.status).toBe(400)
  })

  it('counts logins on the user', async () => {
    const user = emulator.seedUser(MARIO)
    await tokens()
    await tokens()
    expect(emulator.getUser(user.user_id)).toMatchObject({ logins_count: 2, last_login: expect.any(String) })
  })
})

describe('POST /refreshtoken (item 16)', () => {
  it('rotates both tokens and invalidates the old refresh token', async () => {
    emulator.seedUser(MARIO)
    const first = await tokens()
    const answer = await refresh(first.accessToken, first.refreshToken)
    expect(answer.status).toBe(200)
    const second = answer.json as Tokens
    expect(second.accessToken).not.toBe(first.accessToken)
    expect(second.refreshToken).not.toBe(first.refreshToken)
    expect(second.expireAt).toMatch(/\.\d{9}Z$/)
    expect((await refresh(second.accessToken, first.refreshToken)).status).toBe(401)
    expect((await refresh(first.accessToken, first.refreshToken)).status).toBe(401)
    expect((await call('GET', '/userinfo', { headers: bearer(first.accessToken) })).status).toBe(401)
    expect((await call('GET', '/userinfo', { headers: bearer(second.accessToken) })).status).toBe(200)
  })

  it('accepts an expired access token as the bearer', async () => {
    emulator.configure({ tokenLifetimeSeconds: 0.05 })
    emulator.seedUser(MARIO)
    const first = await tokens()
    vi.advanceTimersByTime(80)
    expect((await call('GET', '/userinfo', { headers: bearer(first.accessToken) })).status).toBe(401)
    expect((await refresh(first.accessToken, first.refreshToken)).status).toBe(200)
  })

  it('answers 401 without a bearer, with an unknown one, or an unknown refresh token', async () => {
    emulator.seedUser(MARIO)
    const first = await tokens()
    const noBearer = await call('POST', '/refreshtoken', { json: { refresh_token: first.refreshToken } })
    expect(noBearer.status).toBe(401)
    expect((await refresh('unknown', first.refreshToken)).status).toBe(401)
    expect((await refresh(first.accessToken, 'unknown')).status).toBe(401)
    expect((await call('POST', '/refreshtoken', { headers: bearer(first.accessToken), json: {} })).status).toBe(400)
  })

  it('answers 403 for a blocked user and for a deleted one', async () => {
    const user = emulator.seedUser(MARIO)
    const first = await tokens()
    await call('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { json: { blocked: true } })
    const blocked = await refresh(first.accessToken, first.refreshToken)
    expect(blocked.status).toBe(403)
    expect(blocked.json).toEqual({ error: 'invalid_grant', error_description: 'user is blocked' })
    await call('DELETE', `/users/${encodeURIComponent(user.user_id)}`)
    const deleted = await refresh(first.accessToken, first.refreshToken)
    expect(deleted.status).toBe(403)
    expect(deleted.json).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('GET /userinfo (item 17)', () => {
  it('answers the userinfo object through a bearer token', async () => {
    const user = emulator.seedUser({ ...MARIO, app_metadata: { groups: ['admin', 'ops'] }, user_metadata: { lang: 'it' } })
    const { accessToken } = await tokens()
    const answer = await call('GET', '/userinfo', { headers: bearer(accessToken) })
    expect(answer.status).toBe(200)
    const stored = emulator.getUser(user.user_id)
    expect(answer.json).toEqual({
      sub: user.user_id,
      email: MARIO.email,
      email_verified: false,
      name: MARIO.email,
      nickname: 'mario.rossi',
      picture: user.picture,
      updated_at: stored?.updated_at,
      groups: ['admin', 'ops'],
      app_metadata: { groups: ['admin', 'ops'] },
      user_metadata: { lang: 'it' },
    })
  })

  it('answers through the sid cookie, with empty groups when app_metadata has none', async () => {
    emulator.seedUser(MARIO)
    const cookie = await sid()
    const answer = await call('GET', '/userinfo', { clientType: 'website', headers: { cookie: `other=1; sid=${cookie}` } })
    expect(answer.status).toBe(200)
    expect(answer.json).toMatchObject({ email: MARIO.email, groups: [], app_metadata: {}, user_metadata: {} })
    expect((await call('GET', '/users/me', { clientType: 'website', headers: { cookie: `sid=${cookie}` } })).status).toBe(200)
  })

  it('refreshes website sessions transparently but ends them after the session duration', async () => {
    emulator.configure({ tokenLifetimeSeconds: 0.03, sessionDurationSeconds: 0.3 })
    emulator.seedUser(MARIO)
    const cookie = await sid()
    vi.advanceTimersByTime(60)
    expect((await call('GET', '/userinfo', { headers: { cookie: `sid=${cookie}` } })).status).toBe(200)
    vi.advanceTimersByTime(300)
    expect((await call('GET', '/userinfo', { headers: { cookie: `sid=${cookie}` } })).status).toBe(401)
  })

  it('answers 401 without credentials, with unknown ones, and for blocked or deleted users', async () => {
    const user = emulator.seedUser(MARIO)
    const { accessToken } = await tokens()
    const cookie = await sid()
    expect((await call('GET', '/userinfo')).status).toBe(401)
    expect((await call('GET', '/userinfo', { headers: bearer('nope') })).status).toBe(401)
    expect((await call('GET', '/userinfo', { headers: { cookie: 'sid=nope' } })).status).toBe(401)
    // The Authorization header decides the mode, even when a valid cookie is present too.
    expect((await call('GET', '/userinfo', { headers: { ...bearer('nope'), cookie: `sid=${cookie}` } })).status).toBe(401)
    await call('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { json: { blocked: true } })
    const blocked = await call('GET', '/userinfo', { headers: bearer(accessToken) })
    expect(blocked.status).toBe(401)
    expect(blocked.json).toMatchObject({ statusCode: 401, error: 'Unauthorized' })
    await call('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { json: { blocked: false } })
    expect((await call('GET', '/userinfo', { headers: { cookie: `sid=${cookie}` } })).status).toBe(200)
    await call('DELETE', `/users/${encodeURIComponent(user.user_id)}`)
    expect((await call('GET', '/userinfo', { headers: { cookie: `sid=${cookie}` } })).status).toBe(401)
  })
})

describe('change-password (item 19)', () => {
  it('appends to the outbox and answers 200', async () => {
    emulator.seedUser(MARIO)
    const before = Date.now()
    const answer = await call('POST', '/change-password', { clientType: 'website', json: { email: 'MARIO.rossi@example.com', connection: 'Username-Password-Authentication' } })
    expect(answer.status).toBe(200)
    expect(emulator.outbox).toEqual([{ kind: 'change-password', email: MARIO.email, connection: 'Username-Password-Authentication', clientType: 'website', at: expect.any(Date) }])
    expect(emulator.outbox[0]?.at.getTime()).toBeGreaterThanOrEqual(before)
    const defaulted = await call('POST', '/change-password', { json: { email: MARIO.email } })
    expect(defaulted.status).toBe(200)
    expect(emulator.outbox[1]?.clientType).toBe('backoffice')
    emulator.clearOutbox()
    expect(emulator.outbox).toEqual([])
  })

  it('lists the outbox at GET /__emulator/outbox', async () => {
    emulator.seedUser(MARIO)
    expect((await call('POST', '/change-password', { json: { email: MARIO.email } })).status).toBe(200)
    const answer = await call('GET', '/__emulator/outbox')
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual([{ kind: 'change-password', email: MARIO.email, connection: 'Username-Password-Authentication', clientType: 'backoffice', at: expect.any(String) }])
  })

  it('mails a verification link for a user created or given a new email with verify_email', async () => {
    const created: { status: number; json: any } = await call('POST', '/users', { json: { email: 'new@example.com', username: 'newcomer', password: 'Secret-Pass1', connection: 'Username-Password-Authentication', verify_email: true } })
    expect(created.json).toMatchObject({ email: 'new@example.com' })
    expect(created.status).toBe(201)
    await call('PATCH', `/users/${encodeURIComponent(created.json.user_id)}`, { json: { email: 'newer@example.com', verify_email: true } })
    await call('PATCH', `/users/${encodeURIComponent(created.json.user_id)}`, { json: { email: 'newest@example.com' } })
    expect(emulator.outbox.map((entry) => [entry.kind, entry.email])).toEqual([
      ['verify-email', 'new@example.com'],
      ['verify-email', 'newer@example.com'],
    ])
  })

  it('answers 404 for an unknown email, 400 without email or with an unknown connection', async () => {
    emulator.seedUser(MARIO)
    const unknown = await call('POST', '/change-password', { json: { email: 'ghost@example.com' } })
    expect(unknown.status).toBe(404)
    expect(unknown.json).toMatchObject({ statusCode: 404, error: 'Not Found' })
    expect((await call('POST', '/change-password', { json: {} })).status).toBe(400)
    expect((await call('POST', '/change-password', { json: { email: MARIO.email, connection: 'nope' } })).status).toBe(400)
    expect(emulator.outbox).toEqual([])
  })

  it('applies the per-email bucket to each email separately', async () => {
    emulator.configure({ rateLimits: { changePasswordPerEmail: { burst: 2, perSecond: 1 / 60 } } })
    emulator.seedUser(MARIO)
    emulator.seedUser({ email: 'luigi@example.com', password: 'Secret123', username: 'luigi' })
    const statuses = []
    for (let i = 0; i < 3; i += 1) statuses.push((await call('POST', '/change-password', { json: { email: MARIO.email } })).status)
    expect(statuses).toEqual([200, 200, 429])
    const limited = await call('POST', '/change-password', { json: { email: MARIO.email } })
    expect(limited.json).toMatchObject({ error: 'too_many_requests' })
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59)
    expect((await call('POST', '/change-password', { json: { email: 'luigi@example.com' } })).status).toBe(200)
    expect(emulator.outbox.map((entry) => entry.email)).toEqual([MARIO.email, MARIO.email, 'luigi@example.com'])
  })

  it('spends the authApi bucket shared with logins', async () => {
    emulator.configure({ rateLimits: { authApi: { burst: 2, perSecond: 0.01 } } })
    emulator.seedUser(MARIO)
    expect((await login()).status).toBe(200)
    expect((await call('POST', '/change-password', { json: { email: MARIO.email } })).status).toBe(200)
    expect((await call('POST', '/change-password', { json: { email: MARIO.email } })).status).toBe(429)
    expect(emulator.outbox).toHaveLength(1)
  })
})
