// Auth0 Client emulator: configuration, client-type resolution, id encoding, the request log,
// fault injection and reset.
import { describe, expect, it } from 'vitest'
import { Auth0ClientEmulator, HEALTH_BODY, matchTarget } from '../../src/sandbox/auth0-emulator.js'
import { call as callAt, importForm, useAuth0Emulator } from './auth0-helpers.js'

const { emulator, call } = useAuth0Emulator({ importTiming: { mode: 'manual' } })

const USER = { email: 'mario.rossi@example.com', password: 'Secret123', username: 'mario.rossi' }

describe('health and configuration', () => {
  it.each(['/-/healthz'])('serves %s', async (path) => {
    const answer = await call('GET', path, { clientType: null })
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual(HEALTH_BODY)
    expect(HEALTH_BODY).toEqual({ name: 'auth0-client', status: 'OK', version: '3.8.0' })
  })

  it('has the contract defaults', () => {
    const config = emulator.config
    expect(config.clients).toEqual({ backoffice: { website: false }, website: { website: true, sameSite: 'Lax' } })
    expect(config.defaultClient).toBe('backoffice')
    expect(config.defaultConnection).toBe('Username-Password-Authentication')
    expect(config.connections['Username-Password-Authentication']?.requiresUsername).toBe(true)
    expect(emulator.connectionId('Username-Password-Authentication')).toMatch(/^con_[A-Za-z0-9]{16}$/)
    expect(config.tokenLifetimeSeconds).toBe(86400)
    expect(config.sessionDurationSeconds).toBe(86400)
    expect(config.rateLimits).toEqual({ authApi: null, changePasswordPerEmail: null, managementApi: null })
    expect(config.rateLimitForm).toBe('relay429')
    expect(config.searchVisibilityDelayMs).toBe(0)
    expect(config.passwordPolicy('Secret123')).toBe(true)
    expect(['short1A', 'alllower1', 'ALLUPPER1', 'NoDigitsHere'].map(config.passwordPolicy)).toEqual([false, false, false, false])
  })

  it('applies defaults of automatic import timing', () => {
    const automatic = new Auth0ClientEmulator()
    expect(automatic.config.importTiming).toEqual({ mode: 'automatic', pendingMs: 20, processingMs: 50 })
  })

  it('keeps a given connection id and generates stable ids for the others', () => {
    emulator.configure({ connections: { a: { id: 'con_AAAAAAAAAAAAAAAA', requiresUsername: false }, b: { requiresUsername: false } } })
    expect(emulator.connectionId('a')).toBe('con_AAAAAAAAAAAAAAAA')
    const generated = emulator.connectionId('b')
    emulator.configure({ tokenLifetimeSeconds: 5 })
    expect(emulator.connectionId('b')).toBe(generated)
    // Two connections and no explicit default: there is no default connection.
    expect(emulator.config.defaultConnection).toBeNull()
  })

  it('uses the configured password policy', async () => {
    emulator.configure({ passwordPolicy: (password) => password.length >= 3 })
    const answer = await call('POST', '/users', { json: { ...USER, password: 'abc' } })
    expect(answer.status).toBe(201)
  })
})

describe('client type (item 6)', () => {
  it('uses the default client when the header is absent', async () => {
    emulator.seedUser(USER)
    const answer = await call('POST', '/oauth/token', { clientType: null, form: { username: USER.email, password: USER.password } })
    expect(answer.status).toBe(200)
    expect(answer.json).toHaveProperty('accessToken')
  })

  it('answers 401 with the Mia body for an unknown client type, on every family', async () => {
    for (const [method, path] of [
      ['POST', '/oauth/token'],
      ['GET', '/userinfo'],
      ['GET', '/users'],
      ['POST', '/users/import'],
      ['POST', '/change-password'],
    ] as const) {
      const answer = await call(method, path, { clientType: 'intruder', ...(method === 'POST' && { json: {} }) })
      expect(answer.status, path).toBe(401)
      expect(answer.json).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'client type intruder is not configured' })
    }
  })

  it('refuses session endpoints without any usable client but serves management ones', async () => {
    emulator.configure({ defaultClient: null })
    for (const [method, path] of [
      ['POST', '/oauth/token'],
      ['POST', '/refreshtoken'],
      ['GET', '/userinfo'],
      ['GET', '/logout'],
      ['POST', '/change-password'],
    ] as const) {
      const answer = await call(method, path, { clientType: null, ...(method === 'POST' && { json: {} }) })
      expect(answer.status, path).toBe(401)
    }
    expect((await call('GET', '/users', { clientType: null })).status).toBe(200)
  })

  it('treats a default client that is not configured as no client', async () => {
    emulator.configure({ defaultClient: 'ghost' })
    expect((await call('GET', '/userinfo', { clientType: null })).status).toBe(401)
  })
})

describe('user ids in paths (item 7)', () => {
  it('accepts percent-encoded and raw ids', async () => {
    const user = emulator.seedUser(USER)
    const encoded = await call('PATCH', `/users/${encodeURIComponent(user.user_id)}`, { json: { user_metadata: { a: 1 } } })
    expect(encoded.status).toBe(200)
    const raw = await call('PATCH', `/users/${user.user_id}`, { json: { user_metadata: { b: 2 } } })
    expect(raw.status).toBe(200)
    const lowerHex = await call('PATCH', `/users/${user.user_id.replace('|', '%7c')}`, { json: { user_metadata: { c: 3 } } })
    expect(lowerHex.status).toBe(200)
    expect(emulator.getUser(user.user_id)?.user_metadata).toEqual({ a: 1, b: 2, c: 3 })
    // The log keeps the path as sent; requestsTo() matches the decoded form.
    const id = user.user_id.slice('auth0|'.length)
    expect(emulator.requestsTo('PATCH', `/users/${user.user_id}`).map((record) => record.path)).toEqual([
      `/users/auth0%7C${id}`,
      `/users/auth0|${id}`,
      `/users/auth0%7c${id}`,
    ])
    expect((await call('DELETE', `/users/${encodeURIComponent(user.user_id)}`)).status).toBe(204)
    expect(emulator.getUser(user.user_id)).toBeUndefined()
  })
})

describe('request log (item 8)', () => {
  it('records method, path, query, headers, content type, parsed form body and outcome', async () => {
    emulator.seedUser(USER)
    await call('POST', '/oauth/token', {
      headers: { cookie: 'sid=abc', 'x-request-id': 'r-1' },
      form: { grant_type: 'password', username: USER.email, password: USER.password },
    })
    const [login] = emulator.requestsTo('POST', '/oauth/token')
    expect(login?.headers['client-type']).toBe('backoffice')
    expect(login?.headers.cookie).toBe('sid=abc')
    expect(login?.headers['x-request-id']).toBe('r-1')
    expect(login?.contentType).toBe('application/x-www-form-urlencoded')
    expect(login?.body).toEqual({ grant_type: 'password', username: USER.email, password: USER.password })
    expect(login?.outcome).toBe(200)
    expect(login?.at).toBeInstanceOf(Date)
  })

  it('records JSON bodies, raw queries and whether acl_rows was sent', async () => {
    const query = `_q=${encodeURIComponent(JSON.stringify({ user_id: { $in: ['auth0|x'] } }))}&_l=1`
    await call('GET', `/users?${query}`)
    await call('GET', '/users', { headers: { acl_rows: '{"a":1}' } })
    await call('POST', '/refreshtoken', { json: { refresh_token: 'r' }, headers: { authorization: 'Bearer x' } })
    const [withQuery, withAcl] = emulator.requestsTo('GET', '/users')
    expect(withQuery?.rawQuery).toBe(query)
    expect(withQuery?.headers.acl_rows).toBeUndefined()
    expect(withAcl?.headers.acl_rows).toBe('{"a":1}')
    const [refresh] = emulator.requestsTo('POST', '/refreshtoken')
    expect(refresh?.body).toEqual({ refresh_token: 'r' })
    expect(refresh?.contentType).toBe('application/json')
    expect(refresh?.outcome).toBe(401)
  })

  it('records multipart imports as field values plus a file summary', async () => {
    const users = [{ email: 'a@example.com' }]
    await call('POST', '/users/import', { body: importForm(users, { upsert: 'true', external_id: 'ext-1', connection: 'Username-Password-Authentication' }) })
    const [record] = emulator.requestsTo('POST', '/users/import')
    expect(record?.contentType).toMatch(/^multipart\/form-data; boundary=/)
    const size = Buffer.byteLength(JSON.stringify(users))
    expect(record?.body).toEqual({
      users: { filename: 'users.json', size, contentType: 'application/json', json: users },
      upsert: 'true',
      external_id: 'ext-1',
      connection: 'Username-Password-Authentication',
    })
    expect(record?.outcome).toBe(201)
  })

  it('records requests whose body cannot be parsed and answers with the Mia body', async () => {
    const answer = await call('POST', '/users', { headers: { 'content-type': 'application/json' }, body: '{not json' })
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    const [record] = emulator.requestsTo('POST', '/users')
    expect(record?.outcome).toBe(400)
    expect(record?.contentType).toBe('application/json')
  })

  it('answers unknown routes with a Mia 404', async () => {
    const answer = await call('GET', '/nope')
    expect(answer.status).toBe(404)
    expect(answer.json).toMatchObject({ statusCode: 404, error: 'Not Found' })
  })
})

describe('fault injection (item 25)', () => {
  it('answers the next N calls of a route with the injected status, body and headers', async () => {
    emulator.injectFault({ method: 'GET', path: '/users', status: 503, body: { boom: true }, headers: { 'x-fault': '1' }, times: 2 })
    const first = await call('GET', '/users')
    const second = await call('GET', '/users')
    const third = await call('GET', '/users')
    expect([first.status, second.status, third.status]).toEqual([503, 503, 200])
    expect(first.json).toEqual({ boom: true })
    expect(first.headers.get('x-fault')).toBe('1')
    expect(emulator.requestsTo('GET', '/users').map((record) => record.outcome)).toEqual([503, 503, 200])
  })

  it('targets one user by decoded path pattern and by matchTarget', async () => {
    const mario = emulator.seedUser(USER)
    const luigi = emulator.seedUser({ email: 'luigi@example.com', password: 'Secret123', username: 'luigi' })
    emulator.injectFault({ method: 'PATCH', path: /^\/users\/.+$/, match: matchTarget(mario.user_id), status: 500, times: Infinity })
    expect((await call('PATCH', `/users/${encodeURIComponent(luigi.user_id)}`, { json: { blocked: true } })).status).toBe(200)
    expect((await call('PATCH', `/users/${encodeURIComponent(mario.user_id)}`, { json: { blocked: true } })).status).toBe(500)
    expect((await call('PATCH', `/users/${encodeURIComponent(mario.user_id)}`, { json: { blocked: true } })).status).toBe(500)
  })

  it('targets an email in the change-password body or in a _q filter', async () => {
    emulator.seedUser(USER)
    emulator.seedUser({ email: 'luigi@example.com', password: 'Secret123', username: 'luigi' })
    emulator.injectFault({ match: matchTarget('MARIO.ROSSI@example.com'), status: 429, times: Infinity })
    expect((await call('POST', '/change-password', { json: { email: 'luigi@example.com' } })).status).toBe(200)
    expect((await call('POST', '/change-password', { json: { email: USER.email } })).status).toBe(429)
    const filter = encodeURIComponent(JSON.stringify({ email: { $in: [USER.email] } }))
    expect((await call('GET', `/users?_q=${filter}`)).status).toBe(429)
    expect(emulator.outbox.map((entry) => entry.email)).toEqual(['luigi@example.com'])
  })

  it('adds latency and then runs the real handler', async () => {
    emulator.injectFault({ path: '/users', delayMs: 80 })
    const started = Date.now()
    const answer = await call('GET', '/users')
    expect(answer.status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(75)
  })

  it('hangs until the client gives up, and resets connections', async () => {
    emulator.injectFault({ path: '/users', hang: true })
    await expect(fetch(`${emulator.url}/users`, { signal: AbortSignal.timeout(100) })).rejects.toThrow()
    emulator.injectFault({ path: '/users', reset: true })
    await expect(fetch(`${emulator.url}/users`)).rejects.toThrow()
    expect(emulator.requestsTo('GET', '/users').map((record) => record.outcome)).toEqual(['hang', 'reset'])
    expect((await call('GET', '/users')).status).toBe(200)
  })
})

describe('reset (item 26)', () => {
  it('clears users, sessions, jobs, outbox, buckets, faults, the log, and restores options', async () => {
    const user = emulator.seedUser(USER)
    const login = await call('POST', '/oauth/token', { form: { username: USER.email, password: USER.password } })
    const { accessToken } = login.json as { accessToken: string }
    await call('POST', '/change-password', { json: { email: USER.email } })
    const created = await call('POST', '/users/import', { body: importForm([{ email: 'b@example.com' }]) })
    const { id } = created.json as { id: string }
    emulator.configure({ rateLimits: { managementApi: { burst: 1, perSecond: 0.001 } }, tokenLifetimeSeconds: 1 })
    await call('GET', '/users')
    expect((await call('GET', '/users')).status).toBe(429)
    emulator.injectFault({ path: '/userinfo', status: 500, times: Infinity })

    emulator.reset()

    expect(emulator.requests).toEqual([])
    expect(emulator.listUsers()).toEqual([])
    expect(emulator.getUser(user.user_id)).toBeUndefined()
    expect(emulator.outbox).toEqual([])
    expect(emulator.importJob(id)).toBeUndefined()
    expect(emulator.config.tokenLifetimeSeconds).toBe(86400)
    expect(emulator.config.importTiming).toEqual({ mode: 'manual' })
    expect((await call('GET', '/users')).status).toBe(200)
    const userinfo = await call('GET', '/userinfo', { headers: { authorization: `Bearer ${accessToken}` } })
    expect(userinfo.status).toBe(401)
  })

  it('clears rate-limit buckets even when the configuration stays the same', async () => {
    const limited = new Auth0ClientEmulator({ rateLimits: { managementApi: { burst: 1, perSecond: 0.001 } } })
    const url = (await limited.start()).url
    try {
      expect((await callAt(url, 'GET', '/users')).status).toBe(200)
      expect((await callAt(url, 'GET', '/users')).status).toBe(429)
      limited.reset()
      expect((await callAt(url, 'GET', '/users')).status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})
