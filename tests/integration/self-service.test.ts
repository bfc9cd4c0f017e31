// The end user's routes over HTTP against the emulators: logout, the logged user's own document,
// self-edits within the group's editableFields, changing one's own password, consents, and the
// administrator's forced password reset.
import { describe, expect, it } from 'vitest'
import { UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { LogCapture, useStack, type StackHandle } from '../helpers/stack.js'

const PASSWORD = 'Secret-Pass1'

/** Mario: a customer with an auth user, roles and groups, consistent in every peer. */
function seedMario(stack: StackHandle, crudFields: Record<string, unknown> = {}) {
  const authUser = stack.current.auth0.seedUser({
    email: 'mario.rossi@example.com',
    username: 'mario.rossi',
    password: PASSWORD,
    app_metadata: { groups: ['customers'] },
  })
  const [userId] = stack.current.crud.seed(USERS_ENDPOINT, [
    {
      userGroup: 'customer',
      authUserId: authUser.user_id,
      email: 'mario.rossi@example.com',
      username: 'mario.rossi',
      name: 'Mario',
      surname: 'Rossi',
      roles: ['customer-basic'],
      groups: ['customers'],
      ...crudFields,
    },
  ])
  return { authUserId: authUser.user_id, userId: userId! }
}

async function bearer(stack: StackHandle, username = 'mario.rossi', password = PASSWORD): Promise<Record<string, string>> {
  const login = await stack.call('POST', '/oauth/token', { json: { username, password } })
  expect(login.status).toBe(200)
  return { authorization: `Bearer ${login.body.accessToken}` }
}

async function sessionCookie(stack: StackHandle): Promise<Record<string, string>> {
  const login = await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD }, headers: { 'client-type': 'website' } })
  expect(login.status).toBe(200)
  const sid = /sid=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!
  return { cookie: `theme=dark; sid=${sid}`, 'client-type': 'website' }
}

const NO_CREDENTIALS = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'no credentials: send Authorization: Bearer <token> or the sid cookie',
  code: 'UMS_NOT_AUTHENTICATED',
}

function crudUser(stack: StackHandle, userId: string): Record<string, unknown> {
  return stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc._id === userId)!
}

describe('logout', () => {
  const stack = useStack()

  it('ends a token session: 204, the sid cookie cleared, the old token refused afterwards', async () => {
    seedMario(stack)
    const credentials = await bearer(stack)
    const answer = await stack.call('POST', '/logout', { headers: credentials })
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(String(answer.headers['set-cookie'])).toMatch(/^sid=;.*Max-Age=0/)
    expect((await stack.call('GET', '/userinfo', { headers: credentials })).status).toBe(401)
    expect((await stack.call('GET', '/users/me', { headers: credentials })).status).toBe(401)
  })

  it('ends a cookie session, sending the auth service the cookie and the client type', async () => {
    seedMario(stack)
    const credentials = await sessionCookie(stack)
    expect((await stack.call('GET', '/userinfo', { headers: credentials })).status).toBe(200)
    const answer = await stack.call('POST', '/logout', { headers: credentials })
    expect(answer.status).toBe(204)
    const [sent] = stack.current.auth0.requestsTo('GET', '/logout')
    expect(sent?.headers).toMatchObject({ cookie: credentials.cookie, 'client-type': 'website' })
    expect((await stack.call('GET', '/userinfo', { headers: credentials })).status).toBe(401)
  })

  it('relays the redirect of GET /logout?redirect= for browsers, with the cleared cookie', async () => {
    seedMario(stack)
    const credentials = await sessionCookie(stack)
    const answer = await stack.call('GET', '/logout?redirect=/goodbye', { headers: { ...credentials, 'x-forwarded-host': 'shop.example.com', 'x-forwarded-proto': 'https' } })
    expect(answer.status).toBe(302)
    expect(answer.headers.location).toBe(`https://emulated-tenant.auth0.com/v2/logout?returnTo=${encodeURIComponent('https://shop.example.com/goodbye')}`)
    expect(String(answer.headers['set-cookie'])).toMatch(/^sid=;/)
    expect((await stack.call('GET', '/userinfo', { headers: credentials })).status).toBe(401)
  })

  it('answers 401 without credentials, without calling the auth service', async () => {
    for (const method of ['POST', 'GET'] as const) {
      const answer = await stack.call(method, '/logout', { headers: { miauserid: 'mario' } })
      expect(answer.body).toEqual(NO_CREDENTIALS)
    }
    expect(stack.current.auth0.requestsTo('GET', '/logout')).toHaveLength(0)
  })
})

describe('GET /users/me', () => {
  const stack = useStack()

  it("answers the logged user's CRUD document, as GET /users/:id does, with email_verified from the auth service", async () => {
    const { userId } = seedMario(stack)
    for (const credentials of [await bearer(stack), await sessionCookie(stack)]) {
      const me = await stack.call('GET', '/users/me', { headers: credentials })
      expect(me.status).toBe(200)
      const byId = await stack.call('GET', `/users/${userId}`)
      expect(me.body).toEqual({ ...byId.body, email_verified: false })
    }
  })

  it('never takes the caller from the platform headers: 401 with a forged miauserid and no credentials', async () => {
    const { userId } = seedMario(stack)
    const answer = await stack.call('GET', '/users/me', { headers: { miauserid: userId, miausergroups: 'admin', 'client-type': 'backoffice' } })
    expect(answer.body).toEqual(NO_CREDENTIALS)
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it.each([
    ['blocked', { blocked: true }],
    ['in TRASH', { __STATE__: 'TRASH' }],
  ])('answers 401 to a user who is %s in the CRUD', async (_case, fields) => {
    seedMario(stack)
    const credentials = await bearer(stack)
    stack.current.crud.setMatching(USERS_ENDPOINT, { username: 'mario.rossi' }, fields)
    const answer = await stack.call('GET', '/users/me', { headers: credentials })
    expect(answer.status).toBe(401)
    expect(answer.body.code).toBe('UMS_NOT_AUTHENTICATED')
  })

  it('answers 401 for a token the auth service does not know', async () => {
    const answer = await stack.call('GET', '/users/me', { headers: { authorization: 'Bearer forged' } })
    expect(answer.status).toBe(401)
    expect(answer.body.message).toBe('the credentials are not valid or have expired: log in again')
  })
})

describe('PATCH /users/me', () => {
  const stack = useStack({ env: { GROUP_CONFIG_CACHE_TTL_MS: '0' } })

  it('sets and unsets the fields the group lets its users edit, keeping the auth user as it was', async () => {
    const { userId, authUserId } = seedMario(stack, { age: 40, tags: ['old'] })
    const credentials = await bearer(stack)
    stack.current.crud.clearRequests()
    const answer = await stack.call('PATCH', '/users/me', { headers: credentials, json: { $set: { name: 'Super Mario', tags: ['plumber'] }, $unset: { age: true } } })
    expect(answer.status).toBe(200)
    // The user found for the caller is the one patched: it is not read a second time.
    expect(stack.current.crud.requests.filter((request) => request.method === 'GET' && request.path.startsWith('/users/')).map((request) => request.path)).toEqual(['/users/'])
    expect(answer.body).toMatchObject({ _id: userId, name: 'Super Mario', tags: ['plumber'] })
    expect(answer.body).not.toHaveProperty('age')
    expect(crudUser(stack, userId)).toMatchObject({ name: 'Super Mario', tags: ['plumber'] })
    expect(stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`)).toHaveLength(0)
  })

  it.each([
    ['roles', { $set: { roles: ['admin'] } }],
    ['groups', { $set: { groups: ['admins'] } }],
    ['blocked', { $set: { blocked: false } }],
    ['userGroup', { $set: { userGroup: 'staff' } }],
    ['expirationDate', { $unset: { expirationDate: true } }],
    ['consents', { $set: { 'consents.marketing': { granted: true, version: 1 } } }],
    ['authUserId', { $set: { authUserId: 'auth0|someone-else' } }],
  ])('refuses a self-edit of %s with 403 even when editableFields lists it, and writes nothing', async (field, patch) => {
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, {
      selfService: { editableFields: ['name', 'roles', 'groups', 'blocked', 'userGroup', 'expirationDate', 'consents', 'authUserId'] },
    })
    const { userId } = seedMario(stack)
    const before = crudUser(stack, userId)
    const answer = await stack.call('PATCH', '/users/me', { headers: await bearer(stack), json: patch })
    expect(answer.status).toBe(403)
    expect(answer.body).toEqual({ statusCode: 403, error: 'Forbidden', message: `${field} is not a field users of group customer can edit themselves`, code: 'UMS_FIELD_NOT_SELF_EDITABLE' })
    expect(crudUser(stack, userId)).toEqual(before)
    expect(stack.current.crud.requestsTo('PATCH', /^\/users\//)).toHaveLength(0)
    expect(stack.current.rond.requests.filter((request) => request.method !== 'GET')).toHaveLength(0)
  })

  it('refuses a field outside editableFields, naming it, and every field when the group has no selfService', async () => {
    const { userId } = seedMario(stack)
    const credentials = await bearer(stack)
    const outside = await stack.call('PATCH', '/users/me', { headers: credentials, json: { $set: { name: 'Luigi', 'email': 'luigi@example.com' } } })
    expect(outside.status).toBe(403)
    expect(outside.body.message).toBe('email is not a field users of group customer can edit themselves')
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, { selfService: {} })
    const none = await stack.call('PATCH', '/users/me', { headers: credentials, json: { $set: { name: 'Luigi' } } })
    expect(none.status).toBe(403)
    expect(crudUser(stack, userId).name).toBe('Mario')
  })

  it('accepts $set and $unset only', async () => {
    seedMario(stack)
    const answer = await stack.call('PATCH', '/users/me', { headers: await bearer(stack), json: { $push: { tags: 'x' } } })
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('FST_ERR_VALIDATION')
  })

  it("validates the result against the group's schema like PATCH /users/:id", async () => {
    const { userId } = seedMario(stack)
    const answer = await stack.call('PATCH', '/users/me', { headers: await bearer(stack), json: { $set: { age: -3 } } })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ message: 'body.age must be >= 0', code: 'UMS_GROUP_SCHEMA_MISMATCH' })
    expect(crudUser(stack, userId)).not.toHaveProperty('age')
  })

  it('sends a new email to the auth service unverified, so that it sends the verification email', async () => {
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, { selfService: { editableFields: ['email'] } })
    const { userId, authUserId } = seedMario(stack)
    const answer = await stack.call('PATCH', '/users/me', { headers: await bearer(stack), json: { $set: { email: 'super.mario@example.com' } } })
    expect(answer.status).toBe(200)
    const [sent] = stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`)
    expect(sent?.body).toEqual({ email: 'super.mario@example.com', email_verified: false, verify_email: true })
    expect(stack.current.auth0.getUser(authUserId)).toMatchObject({ email: 'super.mario@example.com', email_verified: false })
    expect(crudUser(stack, userId).email).toBe('super.mario@example.com')
  })

  it('rolls the CRUD back when the auth service refuses the new email', async () => {
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, { selfService: { editableFields: ['email'] } })
    const { userId } = seedMario(stack)
    stack.current.auth0.seedUser({ email: 'taken@example.com', username: 'taken', password: PASSWORD })
    const answer = await stack.call('PATCH', '/users/me', { headers: await bearer(stack), json: { $set: { email: 'taken@example.com' } } })
    expect(answer.status).toBe(409)
    expect(answer.body.code).toBe('UMS_DUPLICATE_USER')
    expect(crudUser(stack, userId).email).toBe('mario.rossi@example.com')
  })
})

describe('POST /users/me/change-password', () => {
  const logs = new LogCapture()
  const stack = useStack({ env: { LOG_LEVEL: 'debug' }, logStream: logs })
  const NEW_PASSWORD = 'Brand-New-Pass2'

  it('checks the current password with a login, sets the new one, and the old one stops working', async () => {
    const { authUserId } = seedMario(stack)
    const credentials = await bearer(stack)
    const answer = await stack.call('POST', '/users/me/change-password', { headers: credentials, json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })
    expect(answer.status).toBe(204)
    const check = stack.current.auth0.requestsTo('POST', '/oauth/token').at(-1)
    expect(check?.body).toMatchObject({ grant_type: 'password', username: 'mario.rossi', password: PASSWORD })
    expect(check?.headers).not.toHaveProperty('authorization')
    expect(stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`).map((request) => request.body)).toEqual([{ password: NEW_PASSWORD }])
    expect((await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })).status).toBe(403)
    expect((await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: NEW_PASSWORD } })).status).toBe(200)
  })

  it('logs in with the email when the user has no username', async () => {
    seedMario(stack, { username: undefined })
    const answer = await stack.call('POST', '/users/me/change-password', { headers: await bearer(stack), json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })
    expect(answer.status).toBe(204)
    expect(stack.current.auth0.requestsTo('POST', '/oauth/token').at(-1)?.body).toMatchObject({ username: 'mario.rossi@example.com' })
  })

  it('answers 403 UMS_WRONG_PASSWORD to a wrong current password and changes nothing', async () => {
    const { authUserId } = seedMario(stack)
    const answer = await stack.call('POST', '/users/me/change-password', { headers: await bearer(stack), json: { currentPassword: 'Not-The-Pass1', newPassword: NEW_PASSWORD } })
    expect(answer.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'the current password is wrong: nothing changed', code: 'UMS_WRONG_PASSWORD' })
    expect(stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`)).toHaveLength(0)
    expect((await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })).status).toBe(200)
  })

  it('answers 400 UMS_PEER_REFUSED when the connection refuses the new password as too weak', async () => {
    seedMario(stack)
    const answer = await stack.call('POST', '/users/me/change-password', { headers: await bearer(stack), json: { currentPassword: PASSWORD, newPassword: 'weak' } })
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'password is too weak for the auth connection', code: 'UMS_PEER_REFUSED' })
    expect((await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })).status).toBe(200)
  })

  it('never writes a password to a log line, an error or a metric', async () => {
    seedMario(stack)
    const credentials = await bearer(stack)
    await stack.call('POST', '/users/me/change-password', { headers: credentials, json: { currentPassword: 'Wrong-Secret-9', newPassword: NEW_PASSWORD } })
    await stack.call('POST', '/users/me/change-password', { headers: credentials, json: { currentPassword: PASSWORD, newPassword: 'weak-secret' } })
    await stack.call('POST', '/users/me/change-password', { headers: credentials, json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })
    const metrics = await stack.call('GET', '/-/metrics')
    const everything = `${logs.lines.join('\n')}\n${metrics.text}`
    for (const secret of [PASSWORD, NEW_PASSWORD, 'Wrong-Secret-9', 'weak-secret']) expect(everything).not.toContain(secret)
  })
})

describe('consents', () => {
  const stack = useStack({ env: { GROUP_CONFIG_CACHE_TTL_MS: '0' } })

  it("lists the group's consents unanswered, stores an answer on the CRUD user, and shows it to administrators", async () => {
    const { userId } = seedMario(stack)
    const credentials = await bearer(stack)
    const initial = await stack.call('GET', '/users/me/consents', { headers: credentials })
    expect(initial.body).toEqual([{ key: 'marketing', version: 1, required: false, granted: null, at: null }])
    stack.current.crud.clearRequests()
    const answered = await stack.call('PUT', '/users/me/consents/marketing', { headers: credentials, json: { granted: true } })
    expect(answered.status).toBe(200)
    expect(stack.current.crud.requests.filter((request) => request.method === 'GET' && request.path.startsWith('/users/')).map((request) => request.path)).toEqual(['/users/'])
    expect(answered.body).toEqual([{ key: 'marketing', version: 1, required: false, granted: true, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }])
    const admin = await stack.call('GET', `/users/${userId}`)
    expect(admin.body.consents).toEqual({ marketing: { granted: true, version: 1, at: answered.body[0].at } })
    expect((await stack.call('GET', '/users/me/consents', { headers: credentials })).body).toEqual(answered.body)
  })

  it('asks again when the group raises the version: earlier answers read as unanswered', async () => {
    seedMario(stack, { consents: { marketing: { granted: false, version: 1, at: '2026-01-01T00:00:00.000Z' } } })
    const credentials = await bearer(stack)
    expect((await stack.call('GET', '/users/me/consents', { headers: credentials })).body[0]).toMatchObject({ granted: false, at: '2026-01-01T00:00:00.000Z' })
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, {
      selfService: { editableFields: [], consents: [{ key: 'marketing', version: 2 }, { key: 'terms', version: '2026-12', required: true }] },
    })
    const raised = await stack.call('GET', '/users/me/consents', { headers: credentials })
    expect(raised.body).toEqual([
      { key: 'marketing', version: 2, required: false, granted: null, at: null },
      { key: 'terms', version: '2026-12', required: true, granted: null, at: null },
    ])
    const answered = await stack.call('PUT', '/users/me/consents/terms', { headers: credentials, json: { granted: true } })
    expect(answered.body[1]).toMatchObject({ key: 'terms', version: '2026-12', granted: true })
  })

  it('answers 404 UMS_UNKNOWN_CONSENT for a key the group does not declare, writing nothing', async () => {
    const { userId } = seedMario(stack)
    const answer = await stack.call('PUT', '/users/me/consents/newsletter', { headers: await bearer(stack), json: { granted: true } })
    expect(answer.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'group customer declares no consent newsletter: it declares marketing', code: 'UMS_UNKNOWN_CONSENT' })
    expect(crudUser(stack, userId)).not.toHaveProperty('consents')
  })

  it('answers 401 without credentials', async () => {
    expect((await stack.call('GET', '/users/me/consents')).body).toEqual(NO_CREDENTIALS)
    expect((await stack.call('PUT', '/users/me/consents/marketing', { json: { granted: true } })).body).toEqual(NO_CREDENTIALS)
  })
})

describe('POST /users/:id/force-password-reset', () => {
  const stack = useStack()

  it('replaces the password at once, then sends the change-password email', async () => {
    const { userId, authUserId } = seedMario(stack)
    const answer = await stack.call('POST', `/users/${userId}/force-password-reset`)
    expect(answer.status).toBe(204)
    const [patch] = stack.current.auth0.requestsTo('PATCH', `/users/${authUserId}`)
    expect(Object.keys(patch!.body as object)).toEqual(['password'])
    expect((await stack.call('POST', '/oauth/token', { json: { username: 'mario.rossi', password: PASSWORD } })).status).toBe(403)
    const outbox = await fetch(`${stack.current.auth0.url}/__emulator/outbox`).then((response) => response.json())
    expect(outbox).toEqual([expect.objectContaining({ email: 'mario.rossi@example.com' })])
  })

  it('answers 409 UMS_NO_AUTH_USER for a user without an auth user, and 404 for an unknown id', async () => {
    const [userId] = stack.current.crud.seed(USERS_ENDPOINT, [{ userGroup: 'customer', name: 'Toad', surname: 'Kinopio', email: 'toad@example.com' }])
    const answer = await stack.call('POST', `/users/${userId}/force-password-reset`)
    expect(answer.body).toEqual({ statusCode: 409, error: 'Conflict', message: `User ${userId} has no auth user: there is no password to reset`, code: 'UMS_NO_AUTH_USER' })
    const unknown = await stack.call('POST', '/users/64b000000000000000000000/force-password-reset')
    expect(unknown.status).toBe(404)
    expect(unknown.body.code).toBe('UMS_USER_NOT_FOUND')
    expect(stack.current.auth0.requests.filter((request) => request.method !== 'GET')).toHaveLength(0)
  })
})
