// CRUD emulator: patch operators and update paths, state transitions,
// PATCH /bulk, DELETE /:id and POST /:id/state, the writes ums makes (it never calls PATCH /,
// DELETE /, POST /upsert-one or POST /state).
import { beforeEach, describe, expect, it } from 'vitest'
import type { CrudState } from '../../src/sandbox/crud-emulator.js'
import { CONFIG, ISO, USERS, badRequest, q, useCrudEmulator } from './crud-helpers.js'

const { emulator, call } = useCrudEmulator([USERS, CONFIG])

const OLD = '2020-01-01T00:00:00.000Z'
const additional = (path: string, name: string) =>
  badRequest(`${path} must NOT have additional properties. Property "${name}" is not defined in validation schema`)
const duplicate = (message: string) => ({ statusCode: 500, code: '11000', error: 'Internal Server Error', message })
const stored = (id: string | undefined) => emulator.documents('/users').find((doc) => doc._id === id)

function seedUser(extra: Record<string, unknown> = {}): string {
  const [id] = emulator.seed(
    '/users',
    [{ email: 'ann@x.io', name: 'Ann', age: 30, level: 1, roles: ['dev'], items: [{ sku: 'a', qty: 1 }], createdAt: OLD, updatedAt: OLD, __STATE__: 'PUBLIC', ...extra }],
    { userId: 'creator' },
  )
  return id ?? ''
}

describe('PATCH /:id operators', () => {
  it.each([
    ['$set', { $set: { name: 'Anna', age: '31', birth: '2024-01-02T03:04:05Z' } }, { name: 'Anna', age: 31, birth: '2024-01-02T03:04:05.000Z' }],
    ['$set into a typed object', { $set: { 'profile.city': 'Turin' } }, { profile: { city: 'Turin' } }],
    ['$set into a free object', { $set: { 'meta.deep.x': [1] } }, { meta: { deep: { x: [1] } } }],
    ['$set null on a nullable field', { $set: { nickname: null } }, { nickname: null }],
    ['$unset', { $unset: { name: true, level: 'true' } }, { name: undefined, level: undefined }],
    ['$inc', { $inc: { age: 2, 'meta.score': 1 } }, { age: 32, meta: { score: 1 } }],
    ['$mul', { $mul: { age: 0.5 } }, { age: 15 }],
    ['$push', { $push: { roles: 'ops' } }, { roles: ['dev', 'ops'] }],
    ['$push $each $position $slice', { $push: { roles: { $each: ['a', 'b'], $position: 0, $slice: 2 } } }, { roles: ['a', 'b'] }],
    ['$push an object item', { $push: { items: { sku: 'b', qty: '2' } } }, { items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }] }],
    ['$addToSet', { $addToSet: { roles: 'dev' } }, { roles: ['dev'] }],
    ['$addToSet $each', { $addToSet: { roles: { $each: ['dev', 'qa'] } } }, { roles: ['dev', 'qa'] }],
    ['$pull an item', { $pull: { roles: 'dev' } }, { roles: [] }],
    ['$pull with $in', { $pull: { roles: { $in: ['dev', 'x'] } } }, { roles: [] }],
    ['$pull a condition on objects', { $pull: { items: { qty: { $gte: 1 } } } }, { items: [] }],
  ])('%s', async (_case, body, expected) => {
    const id = seedUser({ profile: { city: 'Rome' }, meta: {} })
    const answer = await call('PATCH', `/users/${id}`, { body, headers: { miauserid: 'editor' } })
    expect(answer.status, answer.text).toBe(200)
    const doc = stored(id)
    for (const [key, value] of Object.entries(expected)) {
      if (value === undefined) expect(doc).not.toHaveProperty(key)
      else expect(doc?.[key]).toEqual(value)
    }
    expect(doc).toMatchObject({ creatorId: 'creator', createdAt: OLD, updaterId: 'editor', updatedAt: expect.stringMatching(ISO) })
    expect(doc?.updatedAt).not.toBe(OLD)
    expect(answer.json).toEqual(expect.objectContaining({ _id: id, updaterId: 'editor', updatedAt: doc?.updatedAt }))
  })

  it('$currentDate sets the date field to now', async () => {
    const id = seedUser()
    const before = Date.now()
    const answer = await call('PATCH', `/users/${id}`, { body: { $currentDate: { birth: true } } })
    expect(answer.status).toBe(200)
    expect(Date.parse(String(stored(id)?.birth))).toBeGreaterThanOrEqual(before - 1000)
  })

  it('an empty body only refreshes updaterId/updatedAt', async () => {
    const id = seedUser()
    const answer = await call('PATCH', `/users/${id}`, { body: {}, headers: { miauserid: 'editor' } })
    expect(answer.status).toBe(200)
    expect(stored(id)).toMatchObject({ name: 'Ann', updaterId: 'editor' })
  })

  it('answers the updated document projected like a GET', async () => {
    const id = seedUser({ undeclared: 'x' })
    const answer = await call('PATCH', `/users/${id}`, { body: { $set: { age: 40 } } })
    expect(answer.json).toMatchObject({ _id: id, email: 'ann@x.io', age: 40, __STATE__: 'PUBLIC' })
    expect(answer.json).not.toHaveProperty('undeclared')
  })

  it.each([
    ['a foreign top-level key', { $rename: { name: 'n' } }, additional('body', '$rename')],
    ['$setOnInsert outside upsert', { $setOnInsert: { name: 'n' } }, additional('body', '$setOnInsert')],
    ['a bare field', { name: 'n' }, additional('body', 'name')],
    ['$set.__STATE__', { $set: { __STATE__: 'DRAFT' } }, additional('body/$set', '__STATE__')],
    ['$set.creatorId', { $set: { creatorId: 'me' } }, additional('body/$set', 'creatorId')],
    ['$set._id', { $set: { _id: 'x' } }, additional('body/$set', '_id')],
    ['$set.updatedAt', { $set: { updatedAt: OLD } }, additional('body/$set', 'updatedAt')],
    ['an undeclared field', { $set: { secret: 1 } }, additional('body/$set', 'secret')],
    ['an undeclared sub-path of a closed object', { $set: { 'profile.country': 'IT' } }, additional('body/$set', 'profile.country')],
    ['a sub-path through an array', { $set: { 'roles.0': 'x' } }, additional('body/$set', 'roles.0')],
    ['$unset of a required field', { $unset: { email: true } }, additional('body/$unset', 'email')],
    ['$unset of a required sub-field', { $unset: { 'profile.city': true } }, additional('body/$unset', 'profile.city')],
    ['$unset false', { $unset: { name: false } }, badRequest('body/$unset/name must be equal to one of the allowed values', 'FST_ERR_VALIDATION')],
    ['$inc on a string', { $inc: { name: 1 } }, additional('body/$inc', 'name')],
    ['$inc on an integer', { $inc: { level: 1 } }, additional('body/$inc', 'level')],
    ['$inc by text', { $inc: { age: 'x' } }, badRequest('body/$inc/age must be number', 'FST_ERR_VALIDATION')],
    ['$mul on a boolean', { $mul: { active: 2 } }, additional('body/$mul', 'active')],
    ['$currentDate on a non-date', { $currentDate: { name: true } }, additional('body/$currentDate', 'name')],
    ['$push on a scalar', { $push: { name: 'x' } }, additional('body/$push', 'name')],
    ['$push of a bad item', { $push: { items: { qty: 'x' } } }, badRequest('body/$push/items/qty must be number', 'FST_ERR_VALIDATION')],
    ['$push with an unknown modifier', { $push: { roles: { $each: ['a'], $foo: 1 } } }, additional('body/$push/roles', '$foo')],
    ['$addToSet with $position', { $addToSet: { roles: { $each: ['a'], $position: 0 } } }, additional('body/$addToSet/roles', '$position')],
    ['$pull on a scalar', { $pull: { age: 1 } }, additional('body/$pull', 'age')],
    ['$set of a wrong type', { $set: { age: 'old' } }, badRequest('body/$set/age must be number', 'FST_ERR_VALIDATION')],
    ['a non-object operator', { $set: 5 }, badRequest('body/$set must be object', 'FST_ERR_VALIDATION')],
    ['a non-object body', [1], badRequest('body must be object', 'FST_ERR_VALIDATION')],
  ])('rejects %s', async (_case, body, expected) => {
    const id = seedUser({ profile: { city: 'Rome' } })
    const answer = await call('PATCH', `/users/${id}`, { body })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual(expected)
    expect(stored(id)?.updatedAt).toBe(OLD)
  })

  it('answers 500 for conflicting paths and for positional array updates (not emulated)', async () => {
    const id = seedUser()
    expect((await call('PATCH', `/users/${id}`, { body: { $set: { age: 1 }, $inc: { age: 1 } } })).status).toBe(500)
    expect((await call('PATCH', `/users/${id}`, { body: { $set: { 'items.$.replace': {} } } })).status).toBe(500)
  })

  it.each([
    ['an unknown id', '65f1c2a9e4b0a1b2c3d4e5f6', {}],
    ['a malformed id', 'not-an-id', {}],
    ['a non-matching filter', undefined, { name: 'Bob' }],
    ['a non-matching _q', undefined, { _q: q({ age: { $gt: 99 } }) }],
    ['another state', undefined, { _st: 'DRAFT' }],
  ])('answers 404 for %s', async (_case, path, query) => {
    const id = seedUser()
    const answer = await call('PATCH', `/users/${path ?? id}`, { body: { $set: { age: 1 } }, query })
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual({ error: 'not found' })
  })

  it('answers 500 with code 11000 on a duplicate key', async () => {
    seedUser()
    const [other] = emulator.seed('/users', [{ email: 'bob@x.io', __STATE__: 'PUBLIC' }])
    const answer = await call('PATCH', `/users/${other}`, { body: { $set: { email: 'ann@x.io' } } })
    expect(answer.status).toBe(500)
    expect(answer.json).toEqual(duplicate('E11000 duplicate key error collection: crud.users index: email_1 dup key: { email: "ann@x.io" }'))
    expect(stored(other)?.email).toBe('bob@x.io')
  })
})

describe('PATCH /bulk', () => {
  beforeEach(() => {
    emulator.seed('/users', [
      { email: 'a@x.io', age: 1, __STATE__: 'PUBLIC' },
      { email: 'b@x.io', age: 2, __STATE__: 'PUBLIC' },
      { email: 'c@x.io', age: 3, __STATE__: 'DRAFT' },
    ])
  })
  const ages = () => emulator.documents('/users').map((doc) => doc.age)

  it('PATCH /bulk applies one update per item to the first match', async () => {
    const [first] = emulator.documents('/users')
    const answer = await call('PATCH', '/users/bulk', {
      body: [
        { filter: { _id: String(first?._id) }, update: { $set: { age: 100 } } },
        { filter: { _q: q({ age: { $gte: 0 } }), _st: 'DRAFT' }, update: { $set: { age: 300 } } },
        { filter: { email: 'b@x.io', age: '2' }, update: { $inc: { age: 198 } } },
        { filter: { email: 'nobody@x.io' }, update: { $set: { age: 0 } } },
        { filter: {}, update: { $set: { name: 'first' } } },
      ],
    })
    expect(answer.json).toBe(4)
    expect(ages()).toEqual([100, 200, 300])
    expect(emulator.documents('/users').map((doc) => doc.name)).toEqual(['first', undefined, undefined])
  })

  it.each([
    ['an empty array', [], badRequest('body must NOT have fewer than 1 items', 'FST_ERR_VALIDATION')],
    ['a non-array', {}, badRequest('body must be array', 'FST_ERR_VALIDATION')],
    ['a missing update', [{ filter: {} }], badRequest("body/0 must have required property 'update'", 'FST_ERR_VALIDATION')],
    ['an extra item key', [{ filter: {}, update: {}, x: 1 }], additional('body/0', 'x')],
    ['an unknown filter key', [{ filter: { secret: 1 }, update: {} }], additional('body/0/filter', 'secret')],
    ['a bad operator', [{ filter: {}, update: { $rename: {} } }], additional('body/0/update', '$rename')],
    ['a bad filter value', [{ filter: { age: 'x' }, update: {} }], badRequest('body/0/filter/age must be number', 'FST_ERR_VALIDATION')],
  ])('PATCH /bulk rejects %s', async (_case, body, expected) => {
    const answer = await call('PATCH', '/users/bulk', { body })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual(expected)
  })

  it('PATCH /bulk answers 500 on a duplicate key', async () => {
    const answer = await call('PATCH', '/users/bulk', { body: [{ filter: { email: 'b@x.io' }, update: { $set: { email: 'a@x.io' } } }] })
    expect(answer.status).toBe(500)
    expect(answer.json).toMatchObject({ code: '11000', message: expect.stringMatching(/^E11000/) })
  })
})

describe('deletes', () => {
  it('DELETE /:id answers 204 then 404, and 404 in another state or with a non-matching filter', async () => {
    const id = seedUser()
    const [draft] = emulator.seed('/users', [{ email: 'd@x.io', __STATE__: 'DRAFT' }])
    expect((await call('DELETE', `/users/${id}`, { query: { name: 'Bob' } })).status).toBe(404)
    expect((await call('DELETE', `/users/${draft}`)).json).toEqual({ error: 'not found' })
    expect((await call('DELETE', `/users/${id}`)).status).toBe(204)
    expect((await call('DELETE', `/users/${id}`)).status).toBe(404)
    expect((await call('DELETE', `/users/${draft}`, { query: { _st: 'DRAFT' } })).status).toBe(204)
    expect(emulator.documents('/users')).toEqual([])
  })
})

const ALL: CrudState[] = ['PUBLIC', 'DRAFT', 'TRASH', 'DELETED']
const ALLOWED: Record<CrudState, CrudState[]> = {
  PUBLIC: ['PUBLIC', 'DRAFT', 'TRASH'],
  DRAFT: ['PUBLIC', 'DRAFT', 'TRASH'],
  TRASH: ['DRAFT', 'TRASH', 'DELETED'],
  DELETED: ['TRASH', 'DELETED'],
}

describe('POST /:id/state', () => {
  const cases = ALL.flatMap((from) => ALL.map((to) => [from, to, ALLOWED[from].includes(to)] as const))

  it.each(cases)('%s -> %s allowed: %s', async (from, to, allowed) => {
    const id = seedUser({ __STATE__: from })
    const answer = await call('POST', `/users/${id}/state`, { body: { stateTo: to, ignored: true }, headers: { miauserid: 'mover' } })
    if (allowed) {
      expect(answer.status).toBe(204)
      expect(answer.text).toBe('')
      expect(stored(id)).toMatchObject({ __STATE__: to, updaterId: 'mover', creatorId: 'creator' })
      expect(stored(id)?.updatedAt).not.toBe(OLD)
    } else {
      expect(answer.status).toBe(400)
      expect(answer.json).toEqual(badRequest(`transition from ${from} to ${to} not allowed.`))
      expect(stored(id)?.__STATE__).toBe(from)
    }
  })

  it('moves a document without __STATE__ anywhere', async () => {
    const id = seedUser({ __STATE__: undefined })
    expect((await call('POST', `/users/${id}/state`, { body: { stateTo: 'DELETED' } })).status).toBe(204)
    expect(stored(id)?.__STATE__).toBe('DELETED')
  })

  it('honours _q and plain filters and answers 404 when nothing matches', async () => {
    const id = seedUser({ __STATE__: 'DRAFT' })
    expect((await call('POST', `/users/${id}/state`, { body: { stateTo: 'PUBLIC' }, query: { name: 'Bob' } })).status).toBe(404)
    expect((await call('POST', `/users/${id}/state`, { body: { stateTo: 'PUBLIC' }, query: { _q: q({ name: 'Ann' }) } })).status).toBe(204)
    const missing = await call('POST', '/users/65f1c2a9e4b0a1b2c3d4e5f6/state', { body: { stateTo: 'PUBLIC' } })
    expect(missing.json).toEqual({ error: 'not found' })
  })

  it.each([
    [{}, badRequest("body must have required property 'stateTo'", 'FST_ERR_VALIDATION')],
    [{ stateTo: 'GONE' }, badRequest('body/stateTo must be equal to one of the allowed values', 'FST_ERR_VALIDATION')],
    [[], badRequest('body must be object', 'FST_ERR_VALIDATION')],
  ])('rejects body %j', async (body, expected) => {
    const id = seedUser()
    expect((await call('POST', `/users/${id}/state`, { body })).json).toEqual(expected)
  })
})
