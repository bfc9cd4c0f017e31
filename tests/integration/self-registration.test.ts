// POST /users/self-register over HTTP against the emulators: the group's settings, the defaults,
// the verification and set-password emails, no account enumeration, the rate limit.
import { describe, expect, it } from 'vitest'
import { UMS_CONFIG_ENDPOINT, USERS_ENDPOINT } from '../../src/sandbox/fixtures.js'
import { expectConsistent } from '../helpers/consistency.js'
import { call, useStack, type Answer, type StackHandle } from '../helpers/stack.js'
import { useReplicas } from '../helpers/replicas.js'
import { PASSWORD } from './users-patch-helpers.js'

const ACCEPTED = { message: 'Check your e-mail to complete the registration' }
const PEACH = { userGroup: 'customer', email: 'peach@example.com', username: 'peach', name: 'Peach', surname: 'Toadstool' }

function counts(stack: StackHandle) {
  return { crud: stack.current.crud.documents(USERS_ENDPOINT).length, auth: stack.current.auth0.listUsers().length }
}

function outbox(stack: StackHandle): Array<[string, string]> {
  return stack.current.auth0.outbox.map((mail) => [mail.kind, mail.email])
}

/** The headers a caller could tell two answers apart by (the date changes with every answer). */
function telling(answer: Answer): Record<string, unknown> {
  const { date: _date, ...headers } = answer.headers
  return headers
}

function metricValue(text: string, outcome: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`ums_self_registrations_total{outcome="${outcome}"}`))
  return Number(line?.split(' ').pop())
}

describe('POST /users/self-register', () => {
  const stack = useStack({ env: { SELF_REGISTRATION_MIN_DURATION_MS: '0', SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '1000', GROUP_CONFIG_CACHE_TTL_MS: '0' } })

  it("creates the account with the group's default roles and groups, and the auth service mails the verification and set-password links", async () => {
    const answer = await stack.call('POST', '/users/self-register', { json: PEACH })
    expect(answer.status).toBe(202)
    expect(answer.body).toEqual(ACCEPTED)
    const user = stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc.email === PEACH.email)!
    expect(user).toMatchObject({ ...PEACH, roles: ['customer-basic'], groups: ['customers'], authUserId: expect.any(String), __STATE__: 'PUBLIC' })
    expect(stack.current.auth0.requestsTo('POST', '/users')[0]?.body).toMatchObject({ email: PEACH.email, verify_email: true, app_metadata: { groups: ['customers'] } })
    expect(stack.current.rond.rolesOf(user.authUserId as string)).toEqual(['customer-basic'])
    expect(outbox(stack)).toEqual([
      ['verify-email', PEACH.email],
      ['change-password', PEACH.email],
    ])
    expectConsistent(stack.current)
  })

  it('with a password: no set-password email, and the account logs in before its email is verified', async () => {
    const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, password: PASSWORD } })
    expect(answer.status).toBe(202)
    expect(outbox(stack)).toEqual([['verify-email', PEACH.email]])
    const login = await stack.call('POST', '/oauth/token', { json: { username: 'peach', password: PASSWORD } })
    expect(login.status).toBe(200)
    const me = await stack.call('GET', '/users/me', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(me.body).toMatchObject({ email: PEACH.email, email_verified: false })
    const userinfo = await stack.call('GET', '/userinfo', { headers: { authorization: `Bearer ${login.body.accessToken}` } })
    expect(userinfo.body).toMatchObject({ email_verified: false, groups: ['customers'] })
  })

  it.each([
    ['roles', { roles: ['admin'] }],
    ['groups', { groups: ['admins'] }],
    ['blocked', { blocked: false }],
    ['expirationDate', { expirationDate: '2099-01-01T00:00:00.000Z' }],
    ['nickname', { nickname: 'princess' }],
  ])('refuses %s in the body with 400 naming it, and creates nothing', async (field, extra) => {
    const before = counts(stack)
    const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, ...extra } })
    expect(answer.body).toEqual({ statusCode: 400, error: 'Bad Request', message: `body.${field} cannot be given at sign-up in group customer`, code: 'UMS_FIELD_NOT_ALLOWED' })
    expect(counts(stack)).toEqual(before)
    expect(stack.current.auth0.requests.filter((request) => request.method !== 'GET')).toHaveLength(0)
  })

  it('refuses an email domain the group does not allow (case and IDN aside, *. for subdomains only), writing nothing', async () => {
    stack.current.crud.setMatching(UMS_CONFIG_ENDPOINT, { userGroup: 'customer' }, {
      selfRegistration: { enabled: true, allowedEmailDomains: ['example.com', '*.bücher.de'], defaultRoles: [], defaultGroups: [] },
    })
    const before = counts(stack)
    for (const email of ['peach@evil.io', 'peach@example.com.evil.io', 'peach@bücher.de', 'peach@xn--bcher-kva.de']) {
      const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, email } })
      expect(answer.body).toMatchObject({ statusCode: 403, code: 'UMS_EMAIL_DOMAIN_NOT_ALLOWED' })
    }
    expect(counts(stack)).toEqual(before)
    // (The customer group's schema wants an ASCII address: a subdomain of the IDN is written in punycode.)
    for (const [email, username] of [['peach@EXAMPLE.COM', 'peach1'], ['peach@shop.xn--bcher-kva.de', 'peach2']]) {
      const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, email, username } })
      expect(answer.status, email).toBe(202)
    }
  })

  it('refuses groups that do not accept sign-ups, and unknown groups alike', async () => {
    stack.current.crud.seed(UMS_CONFIG_ENDPOINT, [{ userGroup: 'staff', crudSchema: { type: 'object' }, selfRegistration: { enabled: false } }])
    for (const userGroup of ['staff', 'ghosts']) {
      const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, userGroup } })
      expect(answer.body).toEqual({ statusCode: 403, error: 'Forbidden', message: `group ${userGroup} does not accept sign-ups`, code: 'UMS_SELF_REGISTRATION_DISABLED' })
    }
    expect(counts(stack)).toEqual({ crud: 0, auth: 0 })
  })

  it('answers a repeated sign-up exactly as a new one, creates nothing, and mails the owner the change-password link', async () => {
    const first = await stack.call('POST', '/users/self-register', { json: PEACH })
    const afterFirst = counts(stack)
    stack.current.auth0.clearOutbox()
    const repeated = await stack.call('POST', '/users/self-register', { json: { ...PEACH, name: 'Impostor' } })
    const fresh = await stack.call('POST', '/users/self-register', { json: { ...PEACH, email: 'daisy@example.com', username: 'daisy' } })
    for (const answer of [repeated, fresh]) {
      expect(answer.status).toBe(first.status)
      expect(answer.text).toBe(first.text)
      expect(telling(answer)).toEqual(telling(first))
    }
    expect(counts(stack)).toEqual({ crud: afterFirst.crud + 1, auth: afterFirst.auth + 1 })
    expect(stack.current.crud.documents(USERS_ENDPOINT).find((doc) => doc.email === PEACH.email)?.name).toBe('Peach')
    expect(outbox(stack)).toEqual([
      ['change-password', PEACH.email],
      ['verify-email', 'daisy@example.com'],
      ['change-password', 'daisy@example.com'],
    ])
    expectConsistent(stack.current)
  })

  it('refuses a password below the policy alike whether or not its address has an account, creating and mailing nothing', async () => {
    await stack.call('POST', '/users/self-register', { json: PEACH })
    stack.current.auth0.clearOutbox()
    stack.current.auth0.clearRequests()
    const before = counts(stack)
    const taken = await stack.call('POST', '/users/self-register', { json: { ...PEACH, password: 'peach123' } })
    const fresh = await stack.call('POST', '/users/self-register', { json: { ...PEACH, email: 'daisy@example.com', username: 'daisy', password: 'peach123' } })
    expect(taken.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'password is too weak: the auth connection asks for at least 8 characters, with a lower-case letter, an upper-case letter and a digit',
      code: 'UMS_PASSWORD_TOO_WEAK',
    })
    expect(fresh.text).toBe(taken.text)
    expect(telling(fresh)).toEqual(telling(taken))
    expect(counts(stack)).toEqual(before)
    expect(outbox(stack)).toEqual([])
    expect(stack.current.auth0.requests).toHaveLength(0)
  })

  it('sends the change-password email to the owner of a username that is taken', async () => {
    await stack.call('POST', '/users/self-register', { json: PEACH })
    stack.current.auth0.clearOutbox()
    const answer = await stack.call('POST', '/users/self-register', { json: { ...PEACH, email: 'someone.else@example.com' } })
    expect(answer.status).toBe(202)
    expect(outbox(stack)).toEqual([['change-password', PEACH.email]])
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(1)
  })

  it('counts every outcome in ums_self_registrations_total', async () => {
    const before = (await stack.call('GET', '/-/metrics')).text
    await stack.call('POST', '/users/self-register', { json: PEACH })
    await stack.call('POST', '/users/self-register', { json: PEACH })
    await stack.call('POST', '/users/self-register', { json: { ...PEACH, email: 'x@evil.io' } })
    await stack.call('POST', '/users/self-register', { json: { ...PEACH, userGroup: 'ghosts' } })
    await stack.call('POST', '/users/self-register', { json: { ...PEACH, roles: ['admin'] } })
    const after = (await stack.call('GET', '/-/metrics')).text
    for (const outcome of ['created', 'already_exists', 'domain_refused', 'disabled', 'invalid']) {
      expect(metricValue(after, outcome) - metricValue(before, outcome), outcome).toBe(1)
    }
  })
})

describe('POST /users/self-register timing', () => {
  const stack = useStack({ env: { SELF_REGISTRATION_MIN_DURATION_MS: '400' } })

  it('answers a new account and an existing one no sooner than SELF_REGISTRATION_MIN_DURATION_MS', async () => {
    for (const body of [PEACH, PEACH]) {
      const startedAt = Date.now()
      const answer = await stack.call('POST', '/users/self-register', { json: body })
      expect(answer.status).toBe(202)
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400)
    }
  })
})

describe('POST /users/self-register rate limit', () => {
  const stack = useStack({ env: { SELF_REGISTRATION_MIN_DURATION_MS: '0', SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '2' } })
  const signUp = (index: number, headers: Record<string, string> = {}) =>
    stack.call('POST', '/users/self-register', { json: { ...PEACH, email: `p${index}@example.com`, username: `p${index}` }, headers })

  it('answers 429 UMS_RATE_LIMITED with retry-after past the limit, and reads x-forwarded-for only from a trusted proxy', async () => {
    expect((await signUp(1, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(202)
    expect((await signUp(2, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(202)
    const refused = await signUp(3, { 'x-forwarded-for': '203.0.113.3' })
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ statusCode: 429, code: 'UMS_RATE_LIMITED' })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(stack.current.crud.documents(USERS_ENDPOINT)).toHaveLength(2)
    const metrics = (await stack.call('GET', '/-/metrics')).text
    expect(metricValue(metrics, 'rate_limited')).toBeGreaterThanOrEqual(1)
  })
})

describe('POST /users/self-register behind a trusted proxy', () => {
  const stack = useStack({ env: { SELF_REGISTRATION_MIN_DURATION_MS: '0', SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '1', TRUSTED_PROXIES: '127.0.0.1' } })

  it('counts each forwarded client address on its own', async () => {
    const signUp = (index: number, address: string) =>
      stack.call('POST', '/users/self-register', { json: { ...PEACH, email: `p${index}@example.com`, username: `p${index}` }, headers: { 'x-forwarded-for': address } })
    expect((await signUp(1, '203.0.113.1')).status).toBe(202)
    expect((await signUp(2, '203.0.113.2')).status).toBe(202)
    expect((await signUp(3, '203.0.113.1')).status).toBe(429)
  })
})

describe('two replicas on one Redis job store', () => {
  const replicas = useReplicas()

  it('share the sign-up count of a client address', async () => {
    const emulators = await replicas.useEmulators()
    const env = await replicas.replicaEnv('redis', emulators, { SELF_REGISTRATION_RATE_LIMIT_PER_MINUTE: '3', SELF_REGISTRATION_MIN_DURATION_MS: '0' })
    const first = await replicas.startUms('first', env)
    const second = await replicas.startUms('second', env)
    const statuses: number[] = []
    for (const [index, replica] of [first, second, first, second].entries()) {
      const answer = await call(replica.url, 'POST', '/users/self-register', { json: { ...PEACH, email: `p${index}@example.com`, username: `p${index}` } })
      statuses.push(answer.status)
    }
    expect(statuses).toEqual([202, 202, 202, 429])
  })
})
