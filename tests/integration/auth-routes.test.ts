import { describe, expect, it } from 'vitest'
import { USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { useStack } from '../helpers/stack.js'

const PASSWORD = 'Secret-Pass1'

function seedMario(stack: ReturnType<typeof useStack>['current'], crudFields: Record<string, unknown> = {}) {
  const authUser = stack.auth0.seedUser({ email: 'mario.rossi@example.com', username: 'mario.rossi', password: PASSWORD })
  const [userId] = stack.crud.seed(USERS_ENDPOINT, [
    { userGroup: 'customer', authUserId: authUser.user_id, email: 'mario.rossi@example.com', username: 'mario.rossi', name: 'Mario', surname: 'Rossi', roles: ['customer-basic', 'customer-premium'], ...crudFields },
  ])
  return { authUserId: authUser.user_id, userId: userId! }
}

describe('POST /oauth/token', () => {
  const stack = useStack({ env: { UPSTREAM_TIMEOUT_MS: '500', ADDITIONAL_HEADERS_TO_PROXY: 'acl_rows,X-Custom' } })

  it('relays the tokens and sends the auth service a password-grant form with the connection', async () => {
    seedMario(stack.current)
    const answer = await stack.call('POST', '/oauth/token', {
      json: { username: 'mario.rossi', password: PASSWORD },
      headers: { 'client-type': 'backoffice', 'x-request-id': 'req-42', miauserid: 'caller', acl_rows: '{"a":1}', 'x-custom': 'yes' },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), idToken: expect.any(String), expireAt: expect.any(String) })
    const [sent] = stack.current.auth0.requestsTo('POST', '/oauth/token')
    expect(sent?.contentType).toBe('application/x-www-form-urlencoded')
    expect(sent?.body).toMatchObject({ grant_type: 'password', username: 'mario.rossi', password: PASSWORD, connection: 'Username-Password-Authentication' })
    expect(sent?.headers).toMatchObject({ 'client-type': 'backoffice', 'x-request-id': 'req-42', miauserid: 'caller', 'x-custom': 'yes' })
    expect(sent?.headers).not.toHaveProperty('acl_rows')
  })

  it('answers website mode with an empty body and the session cookie', async () => {
    seedMario(stack.current)
    const answer = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi@example.com', password: PASSWORD }, headers: { 'client-type': 'website' } })
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('')
    expect(String(answer.headers['set-cookie'])).toMatch(/^sid=[^;]+;.*HttpOnly/i)
  })

  it.each([
    ['a wrong password', { password: 'Wrong-Pass1' }, {}, 'wrong username or password'],
    ['an unknown username', { username: 'nobody' }, {}, 'wrong username or password'],
    ['a blocked user', {}, { blocked: true }, 'the user is blocked'],
  ])('answers 403 for %s saying why, without the upstream body', async (_case, credentials, seed, reason) => {
    stack.current.auth0.seedUser({ email: 'luigi@example.com', username: 'luigi', password: PASSWORD, ...seed })
    const answer = await stack.call('POST', '/oauth/token', { json: { username: 'luigi', password: PASSWORD, ...credentials } })
    expect(answer.status).toBe(403)
    expect(answer.body).toEqual({ statusCode: 403, error: 'Forbidden', message: `Error while logging in user: ${reason}`, code: 'UMS_FORBIDDEN' })
  })

  it('relays 401 for an unknown client type', async () => {
    const answer = await stack.call('POST', '/oauth/token', { json: { username: 'x', password: 'y' }, headers: { 'client-type': 'nope' } })
    expect(answer.status).toBe(401)
  })

  it.each([
    [{ username: 'mario.rossi' }, "body must have required property 'password'"],
    [{ username: { first: 'a' }, password: 'x' }, 'body.username must be string'],
    [{ username: 'a', password: 'b', extra: true }, 'body must NOT have additional properties (property "extra")'],
  ])('rejects %j with 400 and sends nothing upstream', async (body, message) => {
    const answer = await stack.call('POST', '/oauth/token', { json: body })
    expect(answer.status).toBe(400)
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message, code: 'FST_ERR_VALIDATION' })
    expect(stack.current.auth0.requestsTo('POST', '/oauth/token')).toHaveLength(0)
  })

  it('rejects malformed JSON with 400', async () => {
    const answer = await stack.call('POST', '/oauth/token', { raw: '{"username":', headers: { 'content-type': 'application/json' } })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' })
  })

  it.each([
    ['an upstream 500', { status: 500 }, 'responded with a 500 status code'],
    ['a timeout', { hang: true }, 'failed: timeout after 500 ms'],
    ['a reset connection', { reset: true }, 'failed: connection reset'],
  ])('answers 500 naming the call on %s', async (_case, fault, suffix) => {
    stack.current.auth0.injectFault({ method: 'POST', path: '/oauth/token', ...fault })
    const answer = await stack.call('POST', '/oauth/token', { json: { username: 'a', password: 'b' } })
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: `Error while logging in user: AUTH POST /oauth/token ${suffix}`, code: 'UMS_UPSTREAM_FAILED' })
  })
})

describe('with the auth service refusing connections', () => {
  const stack = useStack({ unreachable: ['auth'] })

  it('answers 500 with "connection refused"', async () => {
    const answer = await stack.call('POST', '/oauth/token', { json: { username: 'a', password: 'b' } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while logging in user: AUTH POST /oauth/token failed: connection refused')
  })
})

describe('POST /refreshtoken', () => {
  const stack = useStack()

  it('sends refresh_token with the expired access token and relays the new tokens', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('POST', '/refreshtoken', {
      json: { refreshToken: login.body.refreshToken },
      headers: { authorization: `Bearer ${login.body.accessToken}` },
    })
    expect(answer.status).toBe(200)
    expect(answer.body.refreshToken).not.toBe(login.body.refreshToken)
    const [sent] = stack.current.auth0.requestsTo('POST', '/refreshtoken')
    expect(sent?.body).toEqual({ refresh_token: login.body.refreshToken })
    expect(sent?.headers.authorization).toBe(`Bearer ${login.body.accessToken}`)
  })

  it('relays 401 for an unknown refresh token', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('POST', '/refreshtoken', { json: { refreshToken: 'nope' }, headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toBe('Error while refreshing the token of user: AUTH POST /refreshtoken responded with a 401 status code')
  })

  it('rejects a body without refreshToken', async () => {
    const answer = await stack.call('POST', '/refreshtoken', { json: {} })
    expect(answer.status).toBe(400)
  })
})

describe('GET /userinfo with USERINFO_ADDITIONAL_PROPERTIES unset', () => {
  const stack = useStack()

  it('merges every CRUD property into the auth profile (bearer), forwarding the platform headers', async () => {
    const { authUserId, userId } = seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}`, miauserid: 'caller-1', 'client-type': 'backoffice' } })
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ sub: authUserId, email: 'mario.rossi@example.com', groups: [], _id: userId, name: 'Mario', surname: 'Rossi', userGroup: 'customer' })
    expect(answer.body).not.toHaveProperty('permissions')
    const [sent] = stack.current.auth0.requestsTo('GET', '/userinfo')
    expect(sent?.headers).toMatchObject({ authorization: `Bearer ${login.body.accessToken}`, 'client-type': 'backoffice', miauserid: 'caller-1' })
    const [crudRead] = stack.current.crud.requestsTo('GET', '/users/')
    expect(crudRead?.headers).toMatchObject({ miauserid: 'caller-1' })
  })

  it('works with the website session cookie', async () => {
    const { authUserId } = seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD }, headers: { 'client-type': 'website' } })
    const cookie = String(login.headers['set-cookie']).split(';')[0]!
    const answer = await stack.call('GET', '/userinfo', { headers: { cookie, 'client-type': 'website', 'client-key': 'k-1' } })
    expect(answer.status).toBe(200)
    expect(answer.body.sub).toBe(authUserId)
    const [sent] = stack.current.auth0.requestsTo('GET', '/userinfo')
    expect(sent?.headers).toMatchObject({ cookie, 'client-type': 'website', 'client-key': 'k-1' })
  })

  it('answers 401 "Missing authUserId, user not logged" when the CRUD has no such user', async () => {
    stack.current.auth0.seedUser({ email: 'ghost@example.com', username: 'ghost', password: PASSWORD })
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'ghost', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(401)
    expect(answer.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing authUserId, user not logged', code: 'UMS_NOT_AUTHENTICATED' })
  })

  it('answers 401 naming the missing credentials without calling the auth service', async () => {
    const answer = await stack.call('GET', '/userinfo', { headers: { cookie: 'theme=dark', miauserid: 'forged' } })
    expect(answer.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'no credentials: send Authorization: Bearer <token> or the sid cookie',
      code: 'UMS_NOT_AUTHENTICATED',
    })
    expect(stack.current.auth0.requestsTo('GET', '/userinfo')).toHaveLength(0)
  })

  it('answers 401 for credentials the auth service refuses, saying to log in again', async () => {
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: 'Bearer expired-or-forged' } })
    expect(answer.body).toMatchObject({ statusCode: 401, message: 'the credentials are not valid or have expired: log in again', code: 'UMS_NOT_AUTHENTICATED' })
    expect(stack.current.auth0.requestsTo('GET', '/userinfo')).toHaveLength(1)
  })

  it('answers 500 when the CRUD fails', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    stack.current.crud.injectFault({ method: 'GET', path: '/users/', status: 503 })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while retrieving logged user: CRUD GET /users/ responded with a 503 status code')
  })
})

describe('GET /userinfo with USERINFO_ADDITIONAL_PROPERTIES empty', () => {
  const stack = useStack({ env: { USERINFO_ADDITIONAL_PROPERTIES: '' } })

  it('returns only the auth properties', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(200)
    const [profile] = stack.current.auth0.requestsTo('GET', '/userinfo')
    expect(profile).toBeDefined()
    expect(answer.body).not.toHaveProperty('surname')
    expect(answer.body).not.toHaveProperty('_id')
    expect(answer.body.name).toBe('mario.rossi@example.com')
    expect(answer.body).toHaveProperty('sub')
  })
})

describe('GET /userinfo with a USERINFO_ADDITIONAL_PROPERTIES list', () => {
  const stack = useStack({ env: { USERINFO_ADDITIONAL_PROPERTIES: 'name,permissions' } })

  it('returns the listed properties and the deduplicated permissions of the roles', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(200)
    expect(answer.body.name).toBe('Mario')
    expect(answer.body).not.toHaveProperty('surname')
    expect([...answer.body.permissions].sort()).toEqual(['orders.create', 'orders.priority', 'orders.read', 'profile.update', 'support.chat'])
  })

  it('returns an empty permissions list for a user without roles', async () => {
    seedMario(stack.current, { roles: [] })
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.body.permissions).toEqual([])
  })
})

describe('GET /userinfo listing permissions without ROLES_CRUD_ENDPOINT', () => {
  const stack = useStack({ env: { USERINFO_ADDITIONAL_PROPERTIES: 'name,permissions', ROLES_CRUD_ENDPOINT: undefined } })

  it('returns no permissions', async () => {
    seedMario(stack.current)
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })
    const answer = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(answer.status).toBe(200)
    expect(answer.body).not.toHaveProperty('permissions')
  })
})

describe('POST /users/change-password', () => {
  const stack = useStack()

  it('sends the email of the CRUD user and answers 204 with no body', async () => {
    const { authUserId } = seedMario(stack.current)
    const answer = await stack.call('POST', '/users/change-password', { json: { authUserId } })
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(stack.current.auth0.outbox.map((mail) => mail.email)).toEqual(['mario.rossi@example.com'])
  })

  it('falls back to the auth profile when the CRUD user has no email', async () => {
    const authUser = stack.current.auth0.seedUser({ email: 'anna@example.com', username: 'anna', password: PASSWORD })
    stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', authUserId: authUser.user_id, name: 'Anna', surname: 'B' }])
    const answer = await stack.call('POST', '/users/change-password', { json: { authUserId: authUser.user_id } })
    expect(answer.status).toBe(204)
    expect(stack.current.auth0.outbox.map((mail) => mail.email)).toEqual(['anna@example.com'])
    const [lookup] = stack.current.auth0.requestsTo('GET', '/users')
    expect(decodeURIComponent(lookup!.rawQuery)).toContain(`{"user_id":{"$in":["${authUser.user_id}"]}}`)
  })

  it('answers 404 for an unknown user', async () => {
    const answer = await stack.call('POST', '/users/change-password', { json: { authUserId: 'auth0|000000000000000000000000' } })
    expect(answer.status).toBe(404)
  })

  it('answers 500 when the auth service fails', async () => {
    const { authUserId } = seedMario(stack.current)
    stack.current.auth0.injectFault({ method: 'POST', path: '/change-password', status: 502 })
    const answer = await stack.call('POST', '/users/change-password', { json: { authUserId } })
    expect(answer.status).toBe(500)
    expect(answer.body.message).toBe('Error while sending the change-password email to user: AUTH POST /change-password responded with a 502 status code')
  })

  it('rejects a missing authUserId', async () => {
    const answer = await stack.call('POST', '/users/change-password', { json: {} })
    expect(answer.status).toBe(400)
    expect(answer.body.message).toBe("body must have required property 'authUserId'")
  })
})
