// Auth0 Client emulator: user management endpoints.
import { describe, expect, it, vi } from 'vitest'
import type { Auth0User } from '../../src/sandbox/auth0-emulator.js'
import { useAuth0Emulator, useMovableClock } from './auth0-helpers.js'

// Timestamps and the search delay follow the emulator's clock: the tests move it instead of waiting.
useMovableClock()
const { emulator, call } = useAuth0Emulator()

const CONNECTION = 'Username-Password-Authentication'
const MARIO = { email: 'Mario.Rossi@Example.com', password: 'Secret123', username: 'mario.rossi' }
const conflict = { statusCode: 409, error: 'Conflict', message: 'The user already exists.', errorCode: 'auth0_idp_error' }
const notFound = { statusCode: 404, error: 'Not Found', message: 'The user does not exist.', errorCode: 'inexistent_user' }

const path = (userId: string) => `/users/${encodeURIComponent(userId)}`
const q = (filter: unknown) => `_q=${encodeURIComponent(JSON.stringify(filter))}`

async function list(query = ''): Promise<Auth0User[]> {
  const answer = await call('GET', `/users${query === '' ? '' : `?${query}`}`)
  expect(answer.status).toBe(200)
  return answer.json as Auth0User[]
}

describe('POST /users (items 10, 11)', () => {
  it('creates a user in the Auth0 user shape, default connection and generated id', async () => {
    const answer = await call('POST', '/users', { json: { ...MARIO, app_metadata: { groups: ['admin'] } } })
    expect(answer.status).toBe(201)
    const user = answer.json as Auth0User
    expect(user.user_id).toMatch(/^auth0\|[0-9a-f]{24}$/)
    expect(user).toMatchObject({
      email: 'mario.rossi@example.com',
      email_verified: false,
      username: 'mario.rossi',
      name: 'mario.rossi@example.com',
      nickname: 'mario.rossi',
      app_metadata: { groups: ['admin'] },
      identities: [{ connection: CONNECTION, user_id: user.user_id.slice('auth0|'.length), provider: 'auth0', isSocial: false }],
    })
    expect(user.picture).toMatch(/^https:\/\/s\.gravatar\.com\/avatar\//)
    expect(user.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(user.updated_at).toBe(user.created_at)
    for (const absent of ['blocked', 'user_metadata', 'last_login', 'logins_count', 'password']) expect(user).not.toHaveProperty(absent)
    expect(emulator.getUser(user.user_id)).toEqual(user)
  })

  it('prefixes a supplied user_id, even one that already has the prefix', async () => {
    const plain = await call('POST', '/users', { json: { ...MARIO, user_id: '65f0c1a2b3c4d5e6f7a8b9c0' } })
    expect((plain.json as Auth0User).user_id).toBe('auth0|65f0c1a2b3c4d5e6f7a8b9c0')
    const prefixed = await call('POST', '/users', { json: { email: 'x@example.com', password: 'Secret123', username: 'x', user_id: 'auth0|x' } })
    expect((prefixed.json as Auth0User).user_id).toBe('auth0|auth0|x')
  })

  it('answers 409 with the Auth0 body for a taken email (any case), username or id', async () => {
    const first = await call('POST', '/users', { json: { ...MARIO, user_id: 'abc' } })
    expect(first.status).toBe(201)
    for (const body of [
      { ...MARIO, email: 'MARIO.ROSSI@example.com', username: 'other' },
      { ...MARIO, email: 'other@example.com' },
      { ...MARIO, email: 'other@example.com', username: 'other', user_id: 'abc' },
    ]) {
      const answer = await call('POST', '/users', { json: body })
      expect(answer.status).toBe(409)
      expect(answer.json).toEqual(conflict)
    }
  })

  it('keeps email and username uniqueness per connection', async () => {
    emulator.configure({ connections: { [CONNECTION]: { requiresUsername: true }, other: { requiresUsername: true } } })
    // Two connections and no explicit default: the connection is mandatory.
    expect((await call('POST', '/users', { json: MARIO })).status).toBe(400)
    expect((await call('POST', '/users', { json: { ...MARIO, connection: CONNECTION } })).status).toBe(201)
    expect((await call('POST', '/users', { json: { ...MARIO, connection: 'other' } })).status).toBe(201)
    expect((await call('POST', '/users', { json: { ...MARIO, connection: 'other' } })).status).toBe(409)
  })

  it('answers 400 PasswordStrengthError for a weak password', async () => {
    const answer = await call('POST', '/users', { json: { ...MARIO, password: 'weak' } })
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({ statusCode: 400, error: 'Bad Request', errorCode: 'invalid_body' })
    expect((answer.json as { message: string }).message).toMatch(/^PasswordStrengthError/)
  })

  it('validates email, password presence, types and unknown properties with invalid_body', async () => {
    for (const body of [
      { password: 'Secret123', username: 'a' },
      { ...MARIO, email: 'not-an-email' },
      { email: MARIO.email, username: 'a' },
      { ...MARIO, blocked: 'yes' },
      { ...MARIO, favourite_colour: 'red' },
    ]) {
      const answer = await call('POST', '/users', { json: body })
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.json).toMatchObject({ statusCode: 400, errorCode: 'invalid_body' })
    }
  })

  it('enforces the username rules of the connection', async () => {
    const missing = await call('POST', '/users', { json: { email: 'a@example.com', password: 'Secret123' } })
    expect(missing.status).toBe(400)
    expect((missing.json as { message: string }).message).toContain('username')
    expect((await call('POST', '/users', { json: { ...MARIO, username: 'has space' } })).status).toBe(400)
    emulator.configure({ connections: { [CONNECTION]: { requiresUsername: false } } })
    const refused = await call('POST', '/users', { json: MARIO })
    expect(refused.status).toBe(400)
    expect(refused.json).toMatchObject({ errorCode: 'invalid_body', message: 'Cannot set username for connection without requires_username' })
    const plain = await call('POST', '/users', { json: { email: MARIO.email, password: MARIO.password } })
    expect(plain.status).toBe(201)
    expect(plain.json).not.toHaveProperty('username')
  })

  it('refuses an unknown connection, and a missing one without default, with the Mia body', async () => {
    const unknown = await call('POST', '/users', { json: { ...MARIO, connection: 'nope' } })
    expect(unknown.status).toBe(400)
    expect(unknown.json).toEqual({ statusCode: 400, error: 'Bad Request', message: 'connection "nope" is not supported' })
    emulator.configure({ defaultConnection: null })
    expect((await call('POST', '/users', { json: MARIO })).status).toBe(400)
  })
})

describe('PATCH /users/:id (item 12)', () => {
  it('merges metadata at the first level and removes keys set to null', async () => {
    const user = emulator.seedUser({ ...MARIO, app_metadata: { groups: ['a'], keep: 1, nested: { x: 1, y: 2 } }, user_metadata: { theme: 'dark' } })
    const answer = await call('PATCH', path(user.user_id), {
      json: { app_metadata: { groups: ['b'], nested: { x: 9 }, keep: null }, user_metadata: { lang: 'it' } },
    })
    expect(answer.status).toBe(200)
    expect((answer.json as Auth0User).app_metadata).toEqual({ groups: ['b'], nested: { x: 9 } })
    expect((answer.json as Auth0User).user_metadata).toEqual({ theme: 'dark', lang: 'it' })
    expect(emulator.getUser(user.user_id)).toEqual(answer.json)
  })

  it('unsets root attributes set to null and refreshes updated_at', async () => {
    const user = emulator.seedUser({ ...MARIO, blocked: true, user_metadata: { a: 1 } })
    vi.advanceTimersByTime(5)
    const answer = await call('PATCH', path(user.user_id), { json: { blocked: null, user_metadata: null, given_name: 'Mario' } })
    const updated = answer.json as Auth0User
    expect(updated).not.toHaveProperty('blocked')
    expect(updated).not.toHaveProperty('user_metadata')
    expect(updated.given_name).toBe('Mario')
    expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(user.updated_at))
  })

  it('answers 404 with the Auth0 body for unknown ids', async () => {
    const answer = await call('PATCH', path('auth0|000000000000000000000000'), { json: { blocked: true } })
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual(notFound)
  })

  it('changes the email (lower-cased, unverified) and refuses one used by another user with 400', async () => {
    const mario = emulator.seedUser(MARIO)
    emulator.seedUser({ email: 'luigi@example.com', password: 'Secret123', username: 'luigi' })
    const verified = await call('PATCH', path(mario.user_id), { json: { email_verified: true } })
    expect((verified.json as Auth0User).email_verified).toBe(true)
    const changed = await call('PATCH', path(mario.user_id), { json: { email: 'New@Example.com' } })
    expect(changed.json).toMatchObject({ email: 'new@example.com', email_verified: false })
    const taken = await call('PATCH', path(mario.user_id), { json: { email: 'LUIGI@example.com' } })
    expect(taken.status).toBe(400)
    expect(taken.json).toMatchObject({ statusCode: 400, error: 'Bad Request', message: 'The specified new email already exists' })
    expect((await call('PATCH', path(mario.user_id), { json: { email: 'bad' } })).status).toBe(400)
  })

  it('checks a new password against the policy and keeps sessions alive', async () => {
    const user = emulator.seedUser(MARIO)
    const login = await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })
    const { accessToken } = login.json as { accessToken: string }
    const weak = await call('PATCH', path(user.user_id), { json: { password: 'weak' } })
    expect(weak.status).toBe(400)
    expect((weak.json as { message: string }).message).toMatch(/^PasswordStrengthError/)
    expect((await call('PATCH', path(user.user_id), { json: { password: 'NewSecret1' } })).status).toBe(200)
    expect((await call('POST', '/oauth/token', { form: { username: MARIO.email, password: 'NewSecret1' } })).status).toBe(200)
    expect((await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })).status).toBe(403)
    expect((await call('GET', '/userinfo', { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200)
  })

  it('changes the username under the same rules as creation', async () => {
    const mario = emulator.seedUser(MARIO)
    emulator.seedUser({ email: 'luigi@example.com', password: 'Secret123', username: 'luigi' })
    expect((await call('PATCH', path(mario.user_id), { json: { username: 'super.mario' } })).json).toMatchObject({ username: 'super.mario' })
    expect((await call('PATCH', path(mario.user_id), { json: { username: 'luigi' } })).status).toBe(400)
    expect((await call('PATCH', path(mario.user_id), { json: { username: 'no spaces' } })).status).toBe(400)
    expect((await call('PATCH', path(mario.user_id), { json: { user_id: 'x' } })).status).toBe(400)
  })

  it('applies blocked to the next login', async () => {
    const user = emulator.seedUser(MARIO)
    await call('PATCH', path(user.user_id), { json: { blocked: true } })
    expect((await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })).status).toBe(403)
    await call('PATCH', path(user.user_id), { json: { blocked: false } })
    expect((await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })).status).toBe(200)
  })
})

describe('DELETE /users/:id (item 13)', () => {
  it('removes the user and its sessions; 204 also for missing ids', async () => {
    const user = emulator.seedUser(MARIO)
    const login = await call('POST', '/oauth/token', { form: { username: MARIO.email, password: MARIO.password } })
    const { accessToken } = login.json as { accessToken: string }
    const first = await call('DELETE', path(user.user_id))
    expect(first.status).toBe(204)
    expect(first.text).toBe('')
    expect((await call('DELETE', path(user.user_id))).status).toBe(204)
    expect(emulator.listUsers()).toEqual([])
    expect((await call('GET', '/userinfo', { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(401)
    expect((await call('POST', '/users', { json: MARIO })).status).toBe(201)
  })
})

describe('GET /users (item 14)', () => {
  function seedMany(count: number): Auth0User[] {
    return Array.from({ length: count }, (_, i) =>
      emulator.seedUser({ email: `user${i}@example.com`, username: `user${i}`, app_metadata: { groups: i % 2 === 0 ? ['even'] : ['odd'] } }),
    )
  }

  it('pages with _l (default 25, capped at 100) and _sk', async () => {
    const users = seedMany(110)
    expect(await list()).toHaveLength(25)
    expect(await list('_l=500')).toHaveLength(100)
    const page = await list('_l=3&_sk=4')
    expect(page.map((user) => user.user_id)).toEqual(users.slice(4, 7).map((user) => user.user_id))
    expect((await call('GET', '/users?_l=abc')).status).toBe(400)
  })

  it('filters by email (case-insensitive, wildcard), username, nickname, connection and app_metadata', async () => {
    seedMany(4)
    expect((await list('email=USER1@example.com')).map((user) => user.email)).toEqual(['user1@example.com'])
    expect(await list('email=user*')).toHaveLength(4)
    expect((await list('username=user2')).map((user) => user.username)).toEqual(['user2'])
    expect((await list('nickname=user3')).map((user) => user.nickname)).toEqual(['user3'])
    expect((await list('app_metadata.groups=even')).map((user) => user.username)).toEqual(['user0', 'user2'])
    expect(await list(`connection=${CONNECTION}`)).toHaveLength(4)
    expect((await call('GET', '/users?connection=nope')).status).toBe(400)
  })

  it('supports _q equality and $in on user_id, email and username', async () => {
    const users = seedMany(5)
    const ids = [users[1]?.user_id, users[3]?.user_id, 'auth0|missing']
    expect((await list(`${q({ user_id: { $in: ids } })}&_l=3`)).map((user) => user.user_id)).toEqual([ids[0], ids[1]])
    expect((await list(q({ email: 'USER2@example.com' }))).map((user) => user.username)).toEqual(['user2'])
    expect((await list(q({ email: { $in: ['user0@example.com', 'user4@example.com'] } }))).map((user) => user.username)).toEqual(['user0', 'user4'])
    expect((await list(q({ username: { $eq: 'user1' } }))).map((user) => user.username)).toEqual(['user1'])
    expect((await list(q({ username: 'user1', email: 'user2@example.com' })))).toEqual([])
  })

  it('refuses an invalid _q', async () => {
    for (const raw of ['not-json', JSON.stringify([1]), JSON.stringify({ email: { $regex: 'x' } }), JSON.stringify({ user_id: { $in: 'x' } })]) {
      const answer = await call('GET', `/users?_q=${encodeURIComponent(raw)}`)
      expect(answer.status, raw).toBe(400)
      expect(answer.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    }
  })

  it('hides users created less than searchVisibilityDelayMs ago', async () => {
    emulator.configure({ searchVisibilityDelayMs: 150 })
    const created = await call('POST', '/users', { json: MARIO })
    const { user_id } = created.json as Auth0User
    expect(await list(q({ user_id }))).toEqual([])
    vi.advanceTimersByTime(170)
    expect((await list(q({ user_id }))).map((user) => user.user_id)).toEqual([user_id])
  })
})
