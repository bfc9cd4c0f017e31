// The `auth0Client` AuthProvider against the real Auth0 Client emulator over HTTP: every call of
// the Auth0 Client's API, asserting what the emulator received (method, raw path with
// percent-encoded ids, content type, body, headers), how answers are mapped, and how every
// failure becomes an UpstreamError naming the route template, never the ids.
import type { IncomingHttpHeaders } from 'node:http'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AUTH_PROVIDERS, createAuthProvider, type AuthProvider } from '../../src/auth-providers/index.js'
import { IMPORT_FILE_MAX_BYTES } from '../../src/auth-providers/auth0-contract.js'
import type { ImportUser } from '../../src/auth-providers/provider.js'
import { platformForwardedHeaders, type HeaderMap } from '../../src/clients/headers.js'
import { PeerClient, type CallContext } from '../../src/clients/http.js'
import { ConfigError, loadConfig, type Config } from '../../src/config/index.js'
import { UpstreamError } from '../../src/errors/index.js'
import { Auth0ClientEmulator } from '../../src/sandbox/auth0-emulator.js'
import type { RecordedRequest } from '../../src/sandbox/emulator-kit.js'

const CONNECTION = 'Username-Password-Authentication'
const PASSWORD = 'Secret-Pass1'
const log = pino({ level: 'silent' })

const emulator = new Auth0ClientEmulator({ importTiming: { mode: 'manual' } })
const peers: PeerClient[] = []
let config: Config
let provider: AuthProvider

async function configFor(authConnection = CONNECTION): Promise<Config> {
  return loadConfig(
    { AUTH_SERVICE: emulator.url, AUTH_CONNECTION: authConnection, USERS_CRUD_ENDPOINT: '/users', UMS_CONFIG_CRUD_ENDPOINT: '/ums-config' },
    { useProcessEnv: false },
  )
}

function providerFor(providerConfig: Config, timeoutMs = 1000): AuthProvider {
  const http = new PeerClient('AUTH', new URL(emulator.url), { timeoutMs })
  peers.push(http)
  return createAuthProvider('auth0Client', { config: providerConfig, http })
}

beforeAll(async () => {
  await emulator.start()
  config = await configFor()
  provider = providerFor(config)
})
afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.close()))
  await emulator.close()
})
beforeEach(() => {
  emulator.reset()
})

/** The platform headers plus the CRUD ACL headers the auth service must never see. */
const FORWARDED: HeaderMap = {
  'client-type': 'backoffice',
  'x-request-id': 'req-42',
  miauserid: 'admin-1',
  miausergroups: 'admin',
  acl_rows: '{"tenant":"t1"}',
  acl_read_columns: 'name,email',
}

function context(incoming: IncomingHttpHeaders = {}, forwarded: HeaderMap = FORWARDED): CallContext {
  return { forwarded: { ...forwarded }, incoming, log }
}

// Whatever a test did, no request reached the emulator with the ACL headers, and each carried
// the client type and the request id of its context.
afterEach(() => {
  for (const request of emulator.requests) {
    expect(request.headers).not.toHaveProperty('acl_rows')
    expect(request.headers).not.toHaveProperty('acl_read_columns')
    expect(request.headers['client-type']).toEqual(expect.any(String))
    expect(request.headers['x-request-id']).toEqual(expect.any(String))
  }
})

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(outcome).toBeInstanceOf(UpstreamError)
  return outcome as UpstreamError
}

function only(method: string, path: string | RegExp): RecordedRequest {
  const matching = emulator.requestsTo(method, path)
  expect(matching).toHaveLength(1)
  return matching[0]!
}

const seed = (i: number, extra: { blocked?: boolean; app_metadata?: Record<string, unknown> } = {}) =>
  emulator.seedUser({ email: `user${i}@example.com`, username: `user${i}`, password: PASSWORD, ...extra })

const hexId = (i: number) => i.toString(16).padStart(24, '0')

const fileUser = (i: number): ImportUser => ({
  user_id: hexId(i),
  email: `imported${i}@example.com`,
  username: `imported${i}`,
  email_verified: false,
})

describe('registry', () => {
  it('builds the auth0Client module', () => {
    expect(provider.name).toBe('auth0Client')
    expect(Object.keys(AUTH_PROVIDERS)).toEqual(['auth0Client'])
  })

  it('refuses an unknown module with a ConfigError listing the known ones', () => {
    const http = new PeerClient('AUTH', new URL(emulator.url), { timeoutMs: 1000 })
    peers.push(http)
    let thrown: unknown
    try {
      createAuthProvider('x', { config, http })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as Error).message).toBe('AUTH_MODULE "x" is unknown; known modules: auth0Client')
  })
})

describe('login', () => {
  it('posts the password grant as a form with AUTH_CONNECTION and forwards the credential headers', async () => {
    seed(1)
    const incoming = { cookie: 'theme=dark', authorization: 'Bearer previous-token', 'client-key': 'key-123', acl_rows: '{"x":1}' }
    const answer = await provider.login({ username: 'user1@example.com', password: PASSWORD }, context(incoming))

    expect(answer.status).toBe(200)
    expect(answer.setCookie).toEqual([])
    expect(answer.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      idToken: expect.any(String),
      expireAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/),
    })
    const request = only('POST', '/oauth/token')
    expect(request.path).toBe('/oauth/token')
    expect(request.rawQuery).toBe('')
    expect(request.contentType).toBe('application/x-www-form-urlencoded')
    expect(request.body).toEqual({ grant_type: 'password', username: 'user1@example.com', password: PASSWORD, connection: CONNECTION })
    expect(request.headers).toMatchObject({
      'client-type': 'backoffice',
      'x-request-id': 'req-42',
      miauserid: 'admin-1',
      cookie: 'theme=dark',
      authorization: 'Bearer previous-token',
      'client-key': 'key-123',
    })
    expect(request.outcome).toBe(200)
  })

  it('accepts a username as login name', async () => {
    seed(2)
    const answer = await provider.login({ username: 'user2', password: PASSWORD }, context())
    expect(answer.status).toBe(200)
    expect(only('POST', '/oauth/token').body).toMatchObject({ username: 'user2' })
  })

  it('returns the set-cookie headers and an empty body in website mode', async () => {
    seed(3)
    const answer = await provider.login(
      { username: 'user3@example.com', password: PASSWORD },
      context({}, { ...FORWARDED, 'client-type': 'website' }),
    )
    expect(answer.status).toBe(200)
    expect(answer.body).toBeUndefined()
    expect(answer.setCookie).toEqual([expect.stringMatching(/^sid=[^;]+; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)])
    expect(only('POST', '/oauth/token').headers['client-type']).toBe('website')
  })

  it('fails with the relayed 403 on a wrong password and on a blocked user', async () => {
    seed(4)
    seed(5, { blocked: true })
    const wrong = await failure(provider.login({ username: 'user4@example.com', password: 'Wrong-Pass1' }, context()))
    expect(wrong.status).toBe(403)
    expect(wrong.message).toBe('AUTH POST /oauth/token responded with a 403 status code')
    expect(wrong.upstreamBody).toEqual({ error: 'invalid_grant', error_description: 'Wrong email or password.' })
    const blocked = await failure(provider.login({ username: 'user5@example.com', password: PASSWORD }, context()))
    expect(blocked.status).toBe(403)
  })

  it('fails with 401 for a client type the Auth0 Client does not know', async () => {
    seed(6)
    const error = await failure(
      provider.login({ username: 'user6@example.com', password: PASSWORD }, context({}, { ...FORWARDED, 'client-type': 'nope' })),
    )
    expect(error.status).toBe(401)
  })
})

describe('refresh', () => {
  it('posts refresh_token as JSON with the bearer (and cookie) received and returns new tokens', async () => {
    seed(1)
    const first = (await provider.login({ username: 'user1@example.com', password: PASSWORD }, context())).body as {
      accessToken: string
      refreshToken: string
    }
    emulator.clearRequests()

    const incoming = { authorization: `Bearer ${first.accessToken}`, cookie: 'theme=dark' }
    const answer = await provider.refresh(first.refreshToken, context(incoming))

    expect(answer.status).toBe(200)
    expect(answer.setCookie).toEqual([])
    const body = answer.body as { accessToken: string; refreshToken: string }
    expect(body).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), idToken: expect.any(String), expireAt: expect.any(String) })
    expect(body.accessToken).not.toBe(first.accessToken)
    expect(body.refreshToken).not.toBe(first.refreshToken)

    const request = only('POST', '/refreshtoken')
    expect(request.contentType).toBe('application/json')
    expect(request.body).toEqual({ refresh_token: first.refreshToken })
    expect(request.headers).toMatchObject({ authorization: `Bearer ${first.accessToken}`, cookie: 'theme=dark', 'client-type': 'backoffice' })
  })

  it('fails with the relayed status for an unknown refresh token', async () => {
    seed(2)
    const first = (await provider.login({ username: 'user2@example.com', password: PASSWORD }, context())).body as { accessToken: string }
    const error = await failure(provider.refresh('not-a-refresh-token', context({ authorization: `Bearer ${first.accessToken}` })))
    expect(error.status).toBe(401)
    expect(error.message).toBe('AUTH POST /refreshtoken responded with a 401 status code')
  })
})

describe('userinfo', () => {
  it('reads the profile with the bearer token, passing every property through', async () => {
    const user = seed(1, { app_metadata: { groups: ['admin', 'editor'] } })
    const tokens = (await provider.login({ username: 'user1@example.com', password: PASSWORD }, context())).body as { accessToken: string }
    emulator.clearRequests()

    const profile = await provider.userinfo(context({ authorization: `Bearer ${tokens.accessToken}` }))

    expect(profile).toMatchObject({ sub: user.user_id, email: 'user1@example.com', groups: ['admin', 'editor'], app_metadata: { groups: ['admin', 'editor'] } })
    const request = only('GET', '/userinfo')
    expect(request.body).toBeUndefined()
    expect(request.headers).toMatchObject({ authorization: `Bearer ${tokens.accessToken}`, 'client-type': 'backoffice' })
    expect(request.headers).not.toHaveProperty('cookie')
  })

  it('reads the profile with the website session cookie', async () => {
    const user = seed(2)
    const website = { ...FORWARDED, 'client-type': 'website' }
    const login = await provider.login({ username: 'user2@example.com', password: PASSWORD }, context({}, website))
    const sid = login.setCookie[0]!.split(';')[0]!
    emulator.clearRequests()

    const profile = await provider.userinfo(context({ cookie: `theme=dark; ${sid}` }, website))

    expect(profile.sub).toBe(user.user_id)
    expect(profile.groups).toEqual([])
    const request = only('GET', '/userinfo')
    expect(request.headers).toMatchObject({ cookie: `theme=dark; ${sid}`, 'client-type': 'website' })
    expect(request.headers).not.toHaveProperty('authorization')
  })

  it('fails with 401 without credentials', async () => {
    const error = await failure(provider.userinfo(context()))
    expect(error.status).toBe(401)
    expect(error.message).toBe('AUTH GET /userinfo responded with a 401 status code')
  })
})

describe('createUser', () => {
  it('posts exactly the given fields plus the connection and returns the auth0| id', async () => {
    const created = await provider.createUser({ email: 'New.User@Example.com', username: 'new.user', password: PASSWORD, blocked: false }, context())

    expect(created.authUserId).toMatch(/^auth0\|[0-9a-f]{24}$/)
    const request = only('POST', '/users')
    expect(request.contentType).toBe('application/json')
    expect(request.body).toEqual({ connection: CONNECTION, password: PASSWORD, email: 'New.User@Example.com', username: 'new.user', blocked: false })
    expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42' })
    expect(request.outcome).toBe(201)
    expect(emulator.getUser(created.authUserId)).toMatchObject({ email: 'new.user@example.com', username: 'new.user', blocked: false })
  })

  it('leaves out the fields it was not given', async () => {
    const created = await provider.createUser({ email: 'plain@example.com', username: 'plain', password: PASSWORD }, context())
    expect(only('POST', '/users').body).toEqual({ connection: CONNECTION, password: PASSWORD, email: 'plain@example.com', username: 'plain' })
    expect(emulator.getUser(created.authUserId)).not.toHaveProperty('blocked')
  })

  it('fails with the relayed 409 for a duplicate email', async () => {
    seed(1)
    const error = await failure(provider.createUser({ email: 'USER1@example.com', username: 'someone-else', password: PASSWORD }, context()))
    expect(error.status).toBe(409)
    expect(error.message).toBe('AUTH POST /users responded with a 409 status code')
    expect(error.upstreamBody).toMatchObject({ statusCode: 409, errorCode: 'auth0_idp_error' })
    expect(emulator.listUsers()).toHaveLength(1)
  })

  it('fails with the relayed 400 for a weak password', async () => {
    const error = await failure(provider.createUser({ email: 'weak@example.com', username: 'weak', password: 'short' }, context()))
    expect(error.status).toBe(400)
    expect(emulator.listUsers()).toHaveLength(0)
  })
})

describe('updateUser', () => {
  it('patches only the given fields at the percent-encoded id', async () => {
    const user = seed(1)
    await provider.updateUser(user.user_id, { blocked: true }, context())

    const request = only('PATCH', `/users/${user.user_id}`)
    expect(request.path).toBe(`/users/auth0%7C${user.user_id.slice('auth0|'.length)}`)
    expect(request.contentType).toBe('application/json')
    expect(request.body).toEqual({ blocked: true })
    expect(emulator.getUser(user.user_id)?.blocked).toBe(true)
  })

  it('sends email and username changes as they are', async () => {
    const user = seed(2)
    await provider.updateUser(user.user_id, { email: 'renamed@example.com', username: 'renamed' }, context())
    expect(only('PATCH', `/users/${user.user_id}`).body).toEqual({ email: 'renamed@example.com', username: 'renamed' })
    expect(emulator.getUser(user.user_id)).toMatchObject({ email: 'renamed@example.com', username: 'renamed' })
  })

  it('encodes every reserved character of the id, so the path is never split', async () => {
    const user = emulator.seedUser({ email: 'odd@example.com', username: 'odd', user_id: 'auth0|a/b?c#d e' })
    await provider.updateUser(user.user_id, { blocked: true }, context())
    const request = only('PATCH', `/users/${user.user_id}`)
    expect(request.path).toBe('/users/auth0%7Ca%2Fb%3Fc%23d%20e')
    expect(request.rawQuery).toBe('')
    expect(emulator.getUser('auth0|a/b?c#d e')?.blocked).toBe(true)
  })

  it('fails with the relayed 404 for an unknown id, naming the route template only', async () => {
    const error = await failure(provider.updateUser(`auth0|${hexId(7)}`, { blocked: true }, context()))
    expect(error.status).toBe(404)
    expect(error.message).toBe('AUTH PATCH /users/:userID responded with a 404 status code')
    expect(error.upstreamBody).toMatchObject({ errorCode: 'inexistent_user' })
  })
})

describe('deleteUser', () => {
  it('deletes at the percent-encoded id without a body', async () => {
    const user = seed(1)
    await expect(provider.deleteUser(user.user_id, context())).resolves.toBeUndefined()
    const request = only('DELETE', `/users/${user.user_id}`)
    expect(request.path).toBe(`/users/auth0%7C${user.user_id.slice('auth0|'.length)}`)
    expect(request.body).toBeUndefined()
    expect(request.contentType).toBeUndefined()
    expect(request.outcome).toBe(204)
    expect(emulator.getUser(user.user_id)).toBeUndefined()
  })

  it('resolves for an id that is already gone (204)', async () => {
    await expect(provider.deleteUser(`auth0|${hexId(9)}`, context())).resolves.toBeUndefined()
    expect(only('DELETE', `/users/auth0|${hexId(9)}`).outcome).toBe(204)
  })

  it('resolves when the Auth0 Client answers 404 (idempotent delete)', async () => {
    emulator.injectFault({ method: 'DELETE', path: /^\/users\//, status: 404, body: { statusCode: 404, error: 'Not Found', message: 'The user does not exist.' } })
    await expect(provider.deleteUser(`auth0|${hexId(9)}`, context())).resolves.toBeUndefined()
    expect(only('DELETE', `/users/auth0|${hexId(9)}`).outcome).toBe(404)
  })

  it('fails on any other non-2xx status', async () => {
    emulator.injectFault({ method: 'DELETE', path: /^\/users\//, status: 400 })
    const error = await failure(provider.deleteUser(`auth0|${hexId(9)}`, context()))
    expect(error.status).toBe(400)
    expect(error.message).toBe('AUTH DELETE /users/:userID responded with a 400 status code')
  })
})

describe('listUsersByIds', () => {
  const lookups = () => emulator.requestsTo('GET', '/users')
  const lookupIds = (request: RecordedRequest): string[] => {
    const query = new URLSearchParams(request.rawQuery)
    expect([...query.keys()].sort()).toEqual(['_l', '_q'])
    const filter = JSON.parse(query.get('_q') ?? 'null') as { user_id: { $in: string[] } }
    expect(Object.keys(filter)).toEqual(['user_id'])
    expect(Object.keys(filter.user_id)).toEqual(['$in'])
    expect(query.get('_l')).toBe(String(filter.user_id.$in.length))
    return filter.user_id.$in
  }
  const seedMany = (count: number) => Array.from({ length: count }, (_, i) => seed(i).user_id)

  it('makes no call for no ids', async () => {
    await expect(provider.listUsersByIds([], context())).resolves.toEqual([])
    expect(emulator.requests).toHaveLength(0)
  })

  it('looks one id up with _q {"user_id":{"$in":[…]}} and _l 1', async () => {
    const [id] = seedMany(2)
    const users = await provider.listUsersByIds([id!], context())
    expect(users).toEqual([emulator.getUser(id!)])
    const request = only('GET', '/users')
    expect(lookupIds(request)).toEqual([id])
    expect(request.rawQuery).toBe(`_q=${encodeURIComponent(JSON.stringify({ user_id: { $in: [id] } })).replace(/%20/g, '+')}&_l=1`)
    expect(request.body).toBeUndefined()
    expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42', miauserid: 'admin-1' })
  })

  it('looks 100 ids up in a single call with _l 100 (above the default page size)', async () => {
    const ids = seedMany(100)
    const users = await provider.listUsersByIds(ids, context())
    expect(users.map((user) => user.user_id).sort()).toEqual([...ids].sort())
    expect(lookups()).toHaveLength(1)
    expect(lookupIds(lookups()[0]!)).toEqual(ids)
  })

  it.each([
    [101, [100, 1]],
    [250, [100, 100, 50]],
  ])('splits %i ids into calls of at most 100', async (count, sizes) => {
    const ids = seedMany(count)
    const users = await provider.listUsersByIds(ids, context())
    expect(users).toHaveLength(count)
    expect(new Set(users.map((user) => user.user_id))).toEqual(new Set(ids))
    const chunks = lookups().map(lookupIds)
    expect(chunks.map((chunk) => chunk.length).sort((a, b) => b - a)).toEqual(sizes)
    expect(chunks.flat().sort()).toEqual([...ids].sort())
  })

  it('leaves missing ids out of the result', async () => {
    const [first, second] = seedMany(2)
    const missing = `auth0|${hexId(999)}`
    const users = await provider.listUsersByIds([first!, missing, second!], context())
    expect(users.map((user) => user.user_id).sort()).toEqual([first, second].sort())
    expect(lookupIds(only('GET', '/users'))).toEqual([first, missing, second])
  })

  it('fails when one of the chunks fails', async () => {
    const ids = seedMany(150)
    emulator.injectFault({ method: 'GET', path: '/users', status: 503 })
    const error = await failure(provider.listUsersByIds(ids, context()))
    expect(error.status).toBe(503)
    expect(error.message).toBe('AUTH GET /users responded with a 503 status code')
  })
})

describe('listUsersByEmails', () => {
  const lookups = () => emulator.requestsTo('GET', '/users')
  const lookupEmails = (request: RecordedRequest): string[] => {
    const query = new URLSearchParams(request.rawQuery)
    expect([...query.keys()].sort()).toEqual(['_l', '_q'])
    const filter = JSON.parse(query.get('_q') ?? 'null') as { email: { $in: string[] } }
    expect(Object.keys(filter)).toEqual(['email'])
    expect(Object.keys(filter.email)).toEqual(['$in'])
    expect(query.get('_l')).toBe(String(filter.email.$in.length))
    return filter.email.$in
  }
  const seedMany = (count: number) => Array.from({ length: count }, (_, i) => seed(i))

  it('makes no call for no emails', async () => {
    await expect(provider.listUsersByEmails([], context())).resolves.toEqual([])
    expect(emulator.requests).toHaveLength(0)
  })

  it('looks emails up with _q {"email":{"$in":[…]}}, case-insensitively, missing ones absent', async () => {
    const [first, second] = seedMany(3)
    const users = await provider.listUsersByEmails(['USER0@example.com', 'nobody@example.com', 'user1@example.com'], context())
    expect(users.map((user) => user.user_id).sort()).toEqual([first!.user_id, second!.user_id].sort())
    const request = only('GET', '/users')
    expect(lookupEmails(request)).toEqual(['USER0@example.com', 'nobody@example.com', 'user1@example.com'])
    expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42' })
  })

  it('splits 250 emails into calls of 100, 100 and 50, one after the other', async () => {
    const seeded = seedMany(250)
    emulator.injectFault({ method: 'GET', path: '/users', delayMs: 100 })
    const users = await provider.listUsersByEmails(seeded.map((user) => user.email), context())
    expect(new Set(users.map((user) => user.user_id))).toEqual(new Set(seeded.map((user) => user.user_id)))
    const requests = lookups()
    expect(requests.map((request) => lookupEmails(request).length)).toEqual([100, 100, 50])
    expect(requests.flatMap(lookupEmails)).toEqual(seeded.map((user) => user.email))
    // The first answer was held 100 ms: the second call only left once it had arrived.
    expect(requests[1]!.at.getTime() - requests[0]!.at.getTime()).toBeGreaterThanOrEqual(95)
  })

  it('stops at the first failing chunk', async () => {
    const seeded = seedMany(150)
    emulator.injectFault({ method: 'GET', path: '/users', status: 503 })
    const error = await failure(provider.listUsersByEmails(seeded.map((user) => user.email), context()))
    expect(error.status).toBe(503)
    expect(error.message).toBe('AUTH GET /users responded with a 503 status code')
    expect(lookups()).toHaveLength(1)
  })
})

describe('listUsersByUsernames', () => {
  it('looks usernames up with _q {"username":{"$in":[…]}}, missing ones absent', async () => {
    const taken = emulator.seedUser({ email: 'taken@example.com', username: 'taken', password: PASSWORD })
    const users = await provider.listUsersByUsernames(['taken', 'free'], context())
    expect(users.map((user) => user.user_id)).toEqual([taken.user_id])
    const query = new URLSearchParams(only('GET', '/users').rawQuery)
    expect(JSON.parse(query.get('_q') ?? 'null')).toEqual({ username: { $in: ['taken', 'free'] } })
    expect(query.get('_l')).toBe('2')
  })
})

describe('sendChangePasswordEmail', () => {
  it('posts {email, connection} as JSON and the email lands in the outbox', async () => {
    seed(1)
    await expect(provider.sendChangePasswordEmail('user1@example.com', context())).resolves.toBeUndefined()
    const request = only('POST', '/change-password')
    expect(request.contentType).toBe('application/json')
    expect(request.body).toEqual({ email: 'user1@example.com', connection: CONNECTION })
    expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42' })
    expect(emulator.outbox).toEqual([{ kind: 'change-password', email: 'user1@example.com', connection: CONNECTION, clientType: 'backoffice', at: expect.any(Date) }])
  })

  it('fails with 404 for an unknown email and sends nothing', async () => {
    const error = await failure(provider.sendChangePasswordEmail('nobody@example.com', context()))
    expect(error.status).toBe(404)
    expect(error.message).toBe('AUTH POST /change-password responded with a 404 status code')
    expect(emulator.outbox).toEqual([])
  })

  it.each(['authApi', 'changePasswordPerEmail'] as const)('fails with the relayed 429 when the %s bucket is empty', async (bucket) => {
    seed(2)
    emulator.configure({ rateLimits: { [bucket]: { burst: 1, perSecond: 1 / 60 } } })
    await provider.sendChangePasswordEmail('user2@example.com', context())
    const error = await failure(provider.sendChangePasswordEmail('user2@example.com', context()))
    expect(error.status).toBe(429)
    expect(error.message).toBe('AUTH POST /change-password responded with a 429 status code')
    expect(error.upstreamBody).toMatchObject({ error: 'too_many_requests' })
    expect(emulator.outbox).toHaveLength(1)
  })

  it('fails with the 5xx when the Auth0 Client converts rate limits', async () => {
    seed(3)
    emulator.configure({ rateLimits: { authApi: { burst: 1, perSecond: 1 / 60 } }, rateLimitForm: 'converted5xx' })
    await provider.sendChangePasswordEmail('user3@example.com', context())
    const error = await failure(provider.sendChangePasswordEmail('user3@example.com', context()))
    expect(error.status).toBe(503)
  })
})

describe('startImport', () => {
  it('posts multipart with the users file, upsert, external_id, send_completion_email=false and connection', async () => {
    const users = [fileUser(1), { ...fileUser(2), blocked: true }]
    const job = await provider.startImport({ users, upsert: true, externalId: 'ums-job-1' }, context())

    expect(job).toMatchObject({ id: expect.stringMatching(/^job_[A-Za-z0-9]{16}$/), status: 'pending', type: 'users_import' })
    const request = only('POST', '/users/import')
    expect(request.contentType).toMatch(/^multipart\/form-data; boundary=\S+$/)
    expect(request.body).toEqual({
      users: { filename: 'users.json', size: Buffer.byteLength(JSON.stringify(users)), contentType: 'application/json', json: users },
      upsert: 'true',
      external_id: 'ums-job-1',
      send_completion_email: 'false',
      connection: CONNECTION,
    })
    expect(request.body).not.toHaveProperty('connection_id')
    expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42' })
    expect(emulator.importJob(job.id)).toMatchObject({
      status: 'pending',
      connection: CONNECTION,
      connection_id: emulator.connectionId(CONNECTION),
      upsert: true,
      external_id: 'ums-job-1',
      send_completion_email: false,
    })
  })

  it('sends upsert=false when asked', async () => {
    const job = await provider.startImport({ users: [fileUser(1)], upsert: false, externalId: 'ums-job-2' }, context())
    expect(only('POST', '/users/import').body).toMatchObject({ upsert: 'false' })
    expect(emulator.importJob(job.id)?.upsert).toBe(false)
  })

  it('accepts a file of exactly 500 KB and fails with 413 one byte above', async () => {
    const sized = (bytes: number): ImportUser[] => {
      const base = JSON.stringify([{ ...fileUser(1), username: '' }]).length
      return [{ ...fileUser(1), username: 'u'.repeat(bytes - base) }]
    }
    expect(JSON.stringify(sized(IMPORT_FILE_MAX_BYTES)).length).toBe(IMPORT_FILE_MAX_BYTES)

    const accepted = await provider.startImport({ users: sized(IMPORT_FILE_MAX_BYTES), upsert: true, externalId: 'fits' }, context())
    expect(accepted.status).toBe('pending')

    const error = await failure(provider.startImport({ users: sized(IMPORT_FILE_MAX_BYTES + 1), upsert: true, externalId: 'too-big' }, context()))
    expect(error.status).toBe(413)
    expect(error.message).toBe('AUTH POST /users/import responded with a 413 status code')
    const requests = emulator.requestsTo('POST', '/users/import')
    expect(requests.map((request) => request.outcome)).toEqual([201, 413])
  })

  it('fails with 429 while two jobs are active, and succeeds again once one finishes', async () => {
    const first = await provider.startImport({ users: [fileUser(1)], upsert: true, externalId: 'a' }, context())
    await provider.startImport({ users: [fileUser(2)], upsert: true, externalId: 'b' }, context())

    const error = await failure(provider.startImport({ users: [fileUser(3)], upsert: true, externalId: 'c' }, context()))
    expect(error.status).toBe(429)
    expect(error.message).toBe('AUTH POST /users/import responded with a 429 status code')
    expect(error.upstreamBody).toMatchObject({ message: expect.stringContaining('There are 2 active import users jobs') })

    emulator.advanceImportJob(first.id, 'completed')
    const third = await provider.startImport({ users: [fileUser(3)], upsert: true, externalId: 'c' }, context())
    expect(third.status).toBe('pending')
  })
})

describe('getImportJob', () => {
  it('reads the job through pending, processing and completed with its summary', async () => {
    const { id } = await provider.startImport({ users: [fileUser(1), fileUser(2)], upsert: true, externalId: 'e-1' }, context())
    emulator.clearRequests()

    expect(await provider.getImportJob(id, context())).toMatchObject({ id, status: 'pending' })
    const request = only('GET', `/users/import/status/${id}`)
    expect(request.path).toBe(`/users/import/status/${id}`)
    expect(request.body).toBeUndefined()

    emulator.advanceImportJob(id, 'processing')
    const processing = await provider.getImportJob(id, context())
    expect(processing).toMatchObject({ id, status: 'processing', percentage_done: expect.any(Number) })

    emulator.advanceImportJob(id, 'completed')
    const completed = await provider.getImportJob(id, context())
    expect(completed).toEqual(emulator.importJob(id))
    expect(completed).toMatchObject({ id, status: 'completed', summary: { failed: 0, updated: 0, inserted: 2, total: 2 } })
    expect(emulator.getUser(`auth0|${hexId(1)}`)).toBeDefined()
  })

  it('reads a failed job', async () => {
    const { id } = await provider.startImport({ users: [fileUser(1)], upsert: true, externalId: 'e-2' }, context())
    emulator.advanceImportJob(id, 'failed')
    expect((await provider.getImportJob(id, context())).status).toBe('failed')
  })

  it('fails with 404 for an unknown job, naming the route template only', async () => {
    const error = await failure(provider.getImportJob('job_0000000000000000', context()))
    expect(error.status).toBe(404)
    expect(error.message).toBe('AUTH GET /users/import/status/:jobID responded with a 404 status code')
  })
})

describe('getImportErrors', () => {
  it('returns the 200 array as it is', async () => {
    seed(1)
    const users: ImportUser[] = [
      { user_id: hexId(1), email: 'user1@example.com', username: 'taken-by-email', email_verified: false },
      fileUser(2),
      { ...fileUser(3), email: 'imported2@example.com' },
    ]
    const { id } = await provider.startImport({ users, upsert: false, externalId: 'e-3' }, context())
    emulator.advanceImportJob(id, 'completed')
    emulator.clearRequests()

    const errors = await provider.getImportErrors(id, context())

    const request = only('GET', `/users/import/status/${id}/errors`)
    expect(request.path).toBe(`/users/import/status/${id}/errors`)
    expect(request.outcome).toBe(200)
    const direct = await fetch(`${emulator.url}/users/import/status/${id}/errors`, { headers: { 'client-type': 'backoffice', 'x-request-id': 'direct' } })
    expect(errors).toEqual(await direct.json())
    expect(errors).toHaveLength(2)
    expect(errors.flatMap((entry) => entry.errors.map((error) => error.code))).toEqual(['DUPLICATED_USER', 'DUPLICATED_USER'])
    expect(errors.map((entry) => entry.user.email).sort()).toEqual(['imported2@example.com', 'user1@example.com'])
  })

  it('returns [] for 204 (a job without errors)', async () => {
    const { id } = await provider.startImport({ users: [fileUser(1)], upsert: true, externalId: 'e-4' }, context())
    emulator.advanceImportJob(id, 'completed')
    emulator.clearRequests()
    await expect(provider.getImportErrors(id, context())).resolves.toEqual([])
    expect(only('GET', `/users/import/status/${id}/errors`).outcome).toBe(204)
  })

  it('returns [] for 200 with the job object (a job still running)', async () => {
    const { id } = await provider.startImport({ users: [fileUser(1)], upsert: true, externalId: 'e-5' }, context())
    emulator.clearRequests()
    await expect(provider.getImportErrors(id, context())).resolves.toEqual([])
    expect(only('GET', `/users/import/status/${id}/errors`).outcome).toBe(200)
  })

  it('fails with 404 for an unknown job, naming the route template only', async () => {
    const error = await failure(provider.getImportErrors('job_0000000000000000', context()))
    expect(error.status).toBe(404)
    expect(error.message).toBe('AUTH GET /users/import/status/:jobID/errors responded with a 404 status code')
  })
})

describe('checkHealth', () => {
  it('resolves when the Auth0 Client is healthy', async () => {
    await expect(provider.checkHealth(context())).resolves.toBeUndefined()
    expect(only('GET', '/-/healthz').outcome).toBe(200)
  })

  it('fails when the Auth0 Client is not', async () => {
    emulator.injectFault({ method: 'GET', path: '/-/healthz', status: 503 })
    const error = await failure(provider.checkHealth(context()))
    expect(error.message).toBe('AUTH GET /-/healthz responded with a 503 status code')
  })
})

describe('AUTH_CONNECTION', () => {
  it('is the connection of every call that names one', async () => {
    emulator.configure({ connections: { [CONNECTION]: { requiresUsername: true }, 'Corporate-DB': { requiresUsername: false } }, defaultConnection: CONNECTION })
    const corporate = providerFor(await configFor('Corporate-DB'))

    const { authUserId } = await corporate.createUser({ email: 'corp@example.com', password: PASSWORD }, context())
    await corporate.login({ username: 'corp@example.com', password: PASSWORD }, context())
    await corporate.sendChangePasswordEmail('corp@example.com', context())
    await corporate.startImport({ users: [{ user_id: hexId(5), email: 'corp2@example.com', email_verified: false }], upsert: true, externalId: 'x' }, context())

    expect(only('POST', '/users').body).toEqual({ connection: 'Corporate-DB', password: PASSWORD, email: 'corp@example.com' })
    expect(only('POST', '/oauth/token').body).toMatchObject({ connection: 'Corporate-DB' })
    expect(only('POST', '/change-password').body).toEqual({ email: 'corp@example.com', connection: 'Corporate-DB' })
    expect(only('POST', '/users/import').body).toMatchObject({ connection: 'Corporate-DB' })
    expect(emulator.getUser(authUserId)?.identities[0]?.connection).toBe('Corporate-DB')
    expect(emulator.outbox[0]?.connection).toBe('Corporate-DB')
  })
})

describe('ACL headers', () => {
  it('never reach the auth service on any call, with Mia recommended ADDITIONAL_HEADERS_TO_PROXY', async () => {
    seed(1)
    const login = await provider.login({ username: 'user1@example.com', password: PASSWORD }, context())
    const tokens = login.body as { accessToken: string; refreshToken: string }
    const incoming: IncomingHttpHeaders = {
      'client-type': 'backoffice',
      'x-request-id': 'req-acl',
      miauserid: 'admin-1',
      authorization: `Bearer ${tokens.accessToken}`,
      cookie: 'theme=dark',
      acl_rows: '{"tenant":"t1"}',
      acl_read_columns: 'name,email',
    }
    const forwarded = platformForwardedHeaders(incoming, config.headerKeys, [
      'acl_rows',
      'acl_read_columns',
      'x-request-id',
      'request-id',
      'cookie',
      'authorization',
      'client-type',
      'host',
      'x-forwarded-host',
    ])
    expect(forwarded).toMatchObject({ acl_rows: '{"tenant":"t1"}', acl_read_columns: 'name,email' })
    const ctx = context(incoming, forwarded)
    emulator.clearRequests()

    await provider.login({ username: 'user1@example.com', password: PASSWORD }, ctx)
    const refreshed = await provider.refresh(tokens.refreshToken, ctx)
    const next = refreshed.body as { accessToken: string }
    const nextCtx = context({ ...incoming, authorization: `Bearer ${next.accessToken}` }, { ...forwarded, authorization: `Bearer ${next.accessToken}` })
    await provider.userinfo(nextCtx)
    const { authUserId } = await provider.createUser({ email: 'acl@example.com', username: 'acl', password: PASSWORD }, nextCtx)
    await provider.updateUser(authUserId, { blocked: false }, nextCtx)
    await provider.listUsersByIds([authUserId], nextCtx)
    await provider.listUsersByEmails(['acl@example.com'], nextCtx)
    await provider.sendChangePasswordEmail('acl@example.com', nextCtx)
    const job = await provider.startImport({ users: [fileUser(1)], upsert: true, externalId: 'acl' }, nextCtx)
    await provider.getImportJob(job.id, nextCtx)
    await provider.getImportErrors(job.id, nextCtx)
    await provider.checkHealth(nextCtx)
    await provider.deleteUser(authUserId, nextCtx)

    expect(emulator.requests.map((request) => `${request.method} ${request.outcome}`)).toEqual([
      'POST 200',
      'POST 200',
      'GET 200',
      'POST 201',
      'PATCH 200',
      'GET 200',
      'GET 200',
      'POST 200',
      'POST 201',
      'GET 200',
      'GET 200',
      'GET 200',
      'DELETE 204',
    ])
    for (const request of emulator.requests) {
      expect(request.headers).not.toHaveProperty('acl_rows')
      expect(request.headers).not.toHaveProperty('acl_read_columns')
      expect(request.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-acl' })
    }
  })
})

/** Every method, with the route template its errors must name and the path the emulator sees. */
const USER_ID = `auth0|${hexId(42)}`
const JOB_ID = 'job_AbCdEfGhIjKlMnOp'
type Invoke = (target: AuthProvider, ctx: CallContext) => Promise<unknown>
const CALLS: Array<{ name: string; method: string; path: string | RegExp; route: string; invoke: Invoke }> = [
  { name: 'login', method: 'POST', path: '/oauth/token', route: '/oauth/token', invoke: (p, c) => p.login({ username: 'a@example.com', password: PASSWORD }, c) },
  { name: 'refresh', method: 'POST', path: '/refreshtoken', route: '/refreshtoken', invoke: (p, c) => p.refresh('rt', c) },
  { name: 'userinfo', method: 'GET', path: '/userinfo', route: '/userinfo', invoke: (p, c) => p.userinfo(c) },
  { name: 'createUser', method: 'POST', path: '/users', route: '/users', invoke: (p, c) => p.createUser({ email: 'a@example.com', username: 'a', password: PASSWORD }, c) },
  { name: 'updateUser', method: 'PATCH', path: /^\/users\//, route: '/users/:userID', invoke: (p, c) => p.updateUser(USER_ID, { blocked: true }, c) },
  { name: 'deleteUser', method: 'DELETE', path: /^\/users\//, route: '/users/:userID', invoke: (p, c) => p.deleteUser(USER_ID, c) },
  { name: 'listUsersByIds', method: 'GET', path: '/users', route: '/users', invoke: (p, c) => p.listUsersByIds([USER_ID], c) },
  { name: 'listUsersByEmails', method: 'GET', path: '/users', route: '/users', invoke: (p, c) => p.listUsersByEmails(['a@example.com'], c) },
  { name: 'listUsersByUsernames', method: 'GET', path: '/users', route: '/users', invoke: (p, c) => p.listUsersByUsernames(['a'], c) },
  { name: 'sendChangePasswordEmail', method: 'POST', path: '/change-password', route: '/change-password', invoke: (p, c) => p.sendChangePasswordEmail('a@example.com', c) },
  { name: 'startImport', method: 'POST', path: '/users/import', route: '/users/import', invoke: (p, c) => p.startImport({ users: [fileUser(1)], upsert: true, externalId: 'x' }, c) },
  { name: 'getImportJob', method: 'GET', path: /^\/users\/import\/status\/[^/]+$/, route: '/users/import/status/:jobID', invoke: (p, c) => p.getImportJob(JOB_ID, c) },
  { name: 'getImportErrors', method: 'GET', path: /^\/users\/import\/status\/[^/]+\/errors$/, route: '/users/import/status/:jobID/errors', invoke: (p, c) => p.getImportErrors(JOB_ID, c) },
  { name: 'checkHealth', method: 'GET', path: '/-/healthz', route: '/-/healthz', invoke: (p, c) => p.checkHealth(c) },
]

function expectNoIds(error: UpstreamError): void {
  expect(error.message).not.toContain(hexId(42))
  expect(error.message).not.toContain('AbCdEfGhIjKlMnOp')
  expect(error.message).not.toContain('a@example.com')
}

describe('upstream failures', () => {
  let fast: AuthProvider
  beforeAll(() => {
    fast = providerFor(config, 300)
  })

  it.each(CALLS)('$name: a 500 gives "AUTH <METHOD> <route> responded with a 500 status code"', async ({ method, path, route, invoke }) => {
    emulator.injectFault({ method, path, status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'boom' } })
    const error = await failure(invoke(provider, context()))
    expect(error.status).toBe(500)
    expect(error.service).toBe('AUTH')
    expect(error.route).toBe(route)
    expect(error.message).toBe(`AUTH ${method} ${route} responded with a 500 status code`)
    expect(error.upstreamBody).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'boom' })
    expectNoIds(error)
    expect(emulator.requestsTo(method, path).map((request) => request.outcome)).toEqual([500])
  })

  it.each(CALLS)('$name: a reset connection gives "… failed: connection reset"', async ({ method, path, route, invoke }) => {
    emulator.injectFault({ method, path, reset: true })
    const error = await failure(invoke(provider, context()))
    expect(error.status).toBeUndefined()
    expect(error.message).toBe(`AUTH ${method} ${route} failed: connection reset`)
    expectNoIds(error)
    expect(emulator.requestsTo(method, path).map((request) => request.outcome)).toEqual(['reset'])
  })

  it.each(CALLS)('$name: a hanging Auth0 Client gives "… failed: timeout after 300 ms"', async ({ method, path, route, invoke }) => {
    emulator.injectFault({ method, path, hang: true })
    const started = Date.now()
    const error = await failure(invoke(fast, context()))
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(error.status).toBeUndefined()
    expect(error.message).toBe(`AUTH ${method} ${route} failed: timeout after 300 ms`)
    expectNoIds(error)
    expect(emulator.requestsTo(method, path).map((request) => request.outcome)).toEqual(['hang'])
  })

  it('gives "failed: connection refused" when nothing listens', async () => {
    const closed = new Auth0ClientEmulator()
    const { url } = await closed.start()
    await closed.close()
    const http = new PeerClient('AUTH', new URL(url), { timeoutMs: 1000 })
    peers.push(http)
    const orphan = createAuthProvider('auth0Client', { config, http })
    const error = await failure(orphan.deleteUser(USER_ID, context()))
    expect(error.message).toBe('AUTH DELETE /users/:userID failed: connection refused')
  })
})
