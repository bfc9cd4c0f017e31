// CRUD emulator: definitions, ids and system fields, insert validation,
// unique indexes, response framing, plus the seeding/inspection surface.
import { describe, expect, it } from 'vitest'
import { CrudEmulator } from '../../src/sandbox/crud-emulator.js'
import { CONFIG, HEX24, ISO, USERS, badRequest, useCrudEmulator } from './crud-helpers.js'

const { emulator, call } = useCrudEmulator([USERS, CONFIG])

describe('service routes and framing', () => {
  it.each(['/-/healthz'])('%s answers OK', async (path) => {
    const answer = await call('GET', path)
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({ name: 'crud-service', status: 'OK', version: '7.2.5' })
  })

  it.each([
    ['GET', '/unknown'],
    ['GET', '/Users/'],
    ['PUT', '/users/'],
    ['GET', '/users/65f1c2a9e4b0a1b2c3d4e5f6/'],
    ['POST', '/users/65f1c2a9e4b0a1b2c3d4e5f6'],
  ])('%s %s is 404 {"error":"not found"}', async (method, path) => {
    const answer = await call(method, path)
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual({ error: 'not found' })
  })

  it('serves the collection root with and without trailing slash; list content type has no charset', async () => {
    for (const path of ['/users', '/users/']) {
      const answer = await call('GET', path)
      expect(answer.status).toBe(200)
      expect(answer.headers.get('content-type')).toBe('application/json')
      expect(answer.json).toEqual([])
    }
    const inserted = await call('POST', '/users', { body: { email: 'no-slash@x.io' } })
    expect(inserted.status).toBe(200)
  })

  it('answers counts as bare JSON numbers and 204 without a body', async () => {
    const [id] = emulator.seed('/users', [{ email: 'a@x.io', __STATE__: 'PUBLIC' }])
    const count = await call('GET', '/users/count')
    expect(count.text).toBe('1')
    expect(count.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const deleted = await call('DELETE', `/users/${id}`)
    expect(deleted.status).toBe(204)
    expect(deleted.text).toBe('')
    expect(deleted.headers.get('content-type')).toBeNull()
  })

  it('reports malformed and empty JSON bodies as 400', async () => {
    const malformed = await call('POST', '/users/', { rawBody: '{"email":' })
    expect(malformed.json).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(/JSON/) })
    const empty = await call('POST', '/users/', { rawBody: '' })
    expect(empty.status).toBe(400)
    expect(empty.json).toEqual(
      badRequest("Body cannot be empty when content-type is set to 'application/json'", 'FST_ERR_CTP_EMPTY_JSON_BODY'),
    )
  })
})

describe('insert: ids and system fields', () => {
  it('answers 200 {_id} with a 24-hex id and sets system fields from the user-id header', async () => {
    const answer = await call('POST', '/users/', { body: { email: 'a@x.io' }, headers: { miauserid: 'alice' } })
    expect(answer.status).toBe(200)
    const { _id: id } = answer.json as { _id: string }
    expect(answer.json).toEqual({ _id: expect.stringMatching(HEX24) })
    const [stored] = emulator.documents('/users')
    expect(stored).toEqual({
      _id: id,
      email: 'a@x.io',
      __STATE__: 'DRAFT',
      creatorId: 'alice',
      updaterId: 'alice',
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
    })
    expect(stored?.createdAt).toBe(stored?.updatedAt)
  })

  it.each([[undefined], [''], ['null'], ['undefined']])('falls back to "public" for user id %j', async (value) => {
    const headers: Record<string, string> = value === undefined ? {} : { miauserid: value }
    await call('POST', '/users/', { body: { email: 'a@x.io' }, headers })
    expect(emulator.documents('/users')[0]).toMatchObject({ creatorId: 'public', updaterId: 'public' })
  })

  it('honours a configured user-id header name', async () => {
    const custom = new CrudEmulator({ collections: [CONFIG], userIdHeaderKey: 'UserId' })
    const { url } = await custom.start(0)
    const answer = await fetch(`${url}/ums/config/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', userid: 'bob', miauserid: 'ignored' },
      body: JSON.stringify({ key: 'k' }),
    })
    expect(answer.status).toBe(200)
    expect(custom.documents('/ums/config')[0]).toMatchObject({ creatorId: 'bob', __STATE__: 'PUBLIC' })
    await custom.close()
  })

  it('generates UUIDs for string-id collections', async () => {
    const answer = await call('POST', '/ums/config/', { body: { key: 'k' } })
    expect(answer.json).toEqual({ _id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) })
  })

  it('uses one timestamp for a whole bulk insert and answers ids in input order', async () => {
    const answer = await call('POST', '/users/bulk', { body: [{ email: 'a@x.io' }, { email: 'b@x.io', __STATE__: 'PUBLIC' }] })
    expect(answer.status).toBe(200)
    const ids = answer.json as Array<{ _id: string }>
    const docs = emulator.documents('/users')
    expect(ids.map((item) => item._id)).toEqual(docs.map((doc) => doc._id))
    expect(docs.map((doc) => doc.__STATE__)).toEqual(['DRAFT', 'PUBLIC'])
    expect(new Set(docs.flatMap((doc) => [doc.createdAt, doc.updatedAt])).size).toBe(1)
  })

  it('coerces scalars and stores dates as dates', async () => {
    const body = {
      email: 5,
      age: '30',
      level: '2',
      active: 'true',
      birth: '2024-03-01T11:15:30+01:00',
      day: '2024-02-29',
      managerId: '65F1C2A9E4B0A1B2C3D4E5F6',
      nickname: null,
      name: null,
      logins: ['2024-01-01T00:00:00Z'],
      profile: { city: 'Rome' },
      meta: { anything: [1, { deep: true }] },
    }
    expect((await call('POST', '/users/', { body })).status).toBe(200)
    expect(emulator.documents('/users')[0]).toMatchObject({
      email: '5',
      age: 30,
      level: 2,
      active: true,
      birth: '2024-03-01T10:15:30.000Z',
      day: '2024-02-29T00:00:00.000Z',
      managerId: '65f1c2a9e4b0a1b2c3d4e5f6',
      nickname: null,
      name: '',
      logins: ['2024-01-01T00:00:00.000Z'],
      profile: { city: 'Rome' },
      meta: { anything: [1, { deep: true }] },
    })
  })
})

describe('insert validation', () => {
  const additional = (path: string, name: string) =>
    badRequest(`${path} must NOT have additional properties. Property "${name}" is not defined in validation schema`)

  it.each([
    ['a missing required field', { name: 'x' }, badRequest("body must have required property 'email'", 'FST_ERR_VALIDATION')],
    ['an undeclared field', { email: 'a@x.io', x: 1 }, additional('body', 'x')],
    ['_id', { email: 'a@x.io', _id: '65f1c2a9e4b0a1b2c3d4e5f6' }, additional('body', '_id')],
    ['creatorId', { email: 'a@x.io', creatorId: 'me' }, additional('body', 'creatorId')],
    ['updatedAt', { email: 'a@x.io', updatedAt: '2024-01-01T00:00:00.000Z' }, additional('body', 'updatedAt')],
    ['a non-number', { email: 'a@x.io', age: 'old' }, badRequest('body/age must be number', 'FST_ERR_VALIDATION')],
    ['a fractional integer', { email: 'a@x.io', level: 1.5 }, badRequest('body/level must be integer', 'FST_ERR_VALIDATION')],
    ['a non-boolean', { email: 'a@x.io', active: 'yes' }, badRequest('body/active must be boolean', 'FST_ERR_VALIDATION')],
    ['an epoch date', { email: 'a@x.io', birth: 1700000000000 }, badRequest('body/birth must match format "date-time"', 'FST_ERR_VALIDATION')],
    ['an impossible date', { email: 'a@x.io', day: '2023-02-29' }, badRequest('body/day must match format "date"', 'FST_ERR_VALIDATION')],
    ['a bad ObjectId', { email: 'a@x.io', managerId: 'nope' }, badRequest('body/managerId must match pattern "^[0-9a-fA-F]{24}$"', 'FST_ERR_VALIDATION')],
    ['a bad state', { email: 'a@x.io', __STATE__: 'GONE' }, badRequest('body/__STATE__ must be equal to one of the allowed values', 'FST_ERR_VALIDATION')],
    ['a non-array', { email: 'a@x.io', roles: 'admin' }, badRequest('body/roles must be array', 'FST_ERR_VALIDATION')],
    ['a bad array item', { email: 'a@x.io', items: [{ qty: 'many' }] }, badRequest('body/items/0/qty must be number', 'FST_ERR_VALIDATION')],
    ['a nested required field', { email: 'a@x.io', profile: { zip: 1 } }, badRequest("body/profile must have required property 'city'", 'FST_ERR_VALIDATION')],
    ['a closed nested object', { email: 'a@x.io', profile: { city: 'R', x: 1 } }, additional('body/profile', 'x')],
    ['null for a non-nullable object', { email: 'a@x.io', meta: null }, badRequest('body/meta must be object', 'FST_ERR_VALIDATION')],
    ['a non-object body', ['a'], badRequest('body must be object', 'FST_ERR_VALIDATION')],
  ])('rejects %s', async (_case, body, expected) => {
    const answer = await call('POST', '/users/', { body })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual(expected)
    expect(emulator.documents('/users')).toEqual([])
  })

  it('prefixes bulk errors with the item index and writes nothing', async () => {
    const answer = await call('POST', '/users/bulk', { body: [{ email: 'a@x.io' }, { email: 'b@x.io', nope: 1 }] })
    expect(answer.json).toEqual(
      badRequest('body/1 must NOT have additional properties. Property "nope" is not defined in validation schema'),
    )
    expect(emulator.documents('/users')).toEqual([])
  })

  it('rejects a non-array bulk body and fails an empty one with 500 ERR_ASSERTION', async () => {
    expect((await call('POST', '/users/bulk', { body: { email: 'a@x.io' } })).json).toEqual(
      badRequest('body must be array', 'FST_ERR_VALIDATION'),
    )
    const empty = await call('POST', '/users/bulk', { body: [] })
    expect(empty.status).toBe(500)
    expect(empty.json).toEqual({
      statusCode: 500,
      code: 'ERR_ASSERTION',
      error: 'Internal Server Error',
      message: 'At least one element is required',
    })
  })

  it('ignores the query string on inserts', async () => {
    const answer = await call('POST', '/users/', { body: { email: 'a@x.io' }, query: { whatever: '1', _st: 'nonsense' } })
    expect(answer.status).toBe(200)
  })
})

describe('unique indexes', () => {
  const conflict = (message: string) => ({ statusCode: 409, error: 'Conflict', message })

  it('answers 409 with the E11000 message on POST /', async () => {
    await call('POST', '/users/', { body: { email: 'a@x.io' } })
    const answer = await call('POST', '/users/', { body: { email: 'a@x.io' } })
    expect(answer.status).toBe(409)
    expect(answer.json).toEqual(conflict('E11000 duplicate key error collection: crud.users index: email_1 dup key: { email: "a@x.io" }'))
  })

  it('keeps earlier items of an ordered bulk insert and drops the rest', async () => {
    const answer = await call('POST', '/users/bulk', {
      body: [{ email: 'a@x.io' }, { email: 'b@x.io' }, { email: 'a@x.io' }, { email: 'c@x.io' }],
    })
    expect(answer.status).toBe(409)
    expect(answer.json).toEqual(conflict('E11000 duplicate key error collection: crud.users index: email_1 dup key: { email: "a@x.io" }'))
    expect(emulator.documents('/users').map((doc) => doc.email)).toEqual(['a@x.io', 'b@x.io'])
  })

  it('treats a missing field as null for a non-partial index', async () => {
    expect((await call('POST', '/ums/config/', { body: { key: 'a' } })).status).toBe(200)
    const answer = await call('POST', '/ums/config/', { body: { key: 'b' } })
    expect(answer.json).toEqual(conflict('E11000 duplicate key error collection: crud.ums_config index: code_1 dup key: { code: null }'))
  })

  it('checks compound partial indexes only on documents matching the partial filter', async () => {
    await call('POST', '/users/bulk', { body: [{ email: 'a@x.io', name: 'n' }, { email: 'b@x.io', name: 'n' }] })
    await call('POST', '/users/', { body: { email: 'c@x.io', name: 'n', level: 1 } })
    expect((await call('POST', '/users/', { body: { email: 'd@x.io', name: 'n', level: 2 } })).status).toBe(200)
    const answer = await call('POST', '/users/', { body: { email: 'e@x.io', name: 'n', level: 1 } })
    expect(answer.json).toEqual(
      conflict('E11000 duplicate key error collection: crud.users index: name_level dup key: { name: "n", level: 1 }'),
    )
  })

  it('enforces uniqueness on seed too', () => {
    emulator.seed('/users', [{ email: 'a@x.io' }])
    expect(() => emulator.seed('/users', [{ email: 'a@x.io' }])).toThrow(/E11000/)
  })
})

describe('seed, documents and reset', () => {
  it('seeds with defaults, keeps given values and returns ids', () => {
    const ids = emulator.seed(
      '/users',
      [
        { email: 'a@x.io' },
        { _id: '65F1C2A9E4B0A1B2C3D4E5F6', email: 'b@x.io', __STATE__: 'PUBLIC', birth: '2020-01-01T00:00:00Z', createdAt: '2021-01-01T00:00:00Z' },
      ],
      { userId: 'seeder' },
    )
    expect(ids[0]).toMatch(HEX24)
    expect(ids[1]).toBe('65f1c2a9e4b0a1b2c3d4e5f6')
    const [first, second] = emulator.documents('/users')
    expect(first).toMatchObject({ __STATE__: 'DRAFT', creatorId: 'seeder', updaterId: 'seeder', createdAt: expect.stringMatching(ISO) })
    expect(second).toMatchObject({ __STATE__: 'PUBLIC', birth: '2020-01-01T00:00:00.000Z', createdAt: '2021-01-01T00:00:00.000Z' })
  })

  it('returns deep copies', () => {
    emulator.seed('/users', [{ email: 'a@x.io', roles: ['r'] }])
    const [copy] = emulator.documents('/users')
    ;(copy?.roles as string[]).push('mutated')
    expect(emulator.documents('/users')[0]?.roles).toEqual(['r'])
  })

  it('reset clears documents, requests and faults but keeps collections', async () => {
    emulator.seed('/users', [{ email: 'a@x.io' }])
    emulator.injectFault({ path: '/users/', status: 503, times: Infinity })
    await call('GET', '/users/')
    emulator.reset()
    expect(emulator.documents('/users')).toEqual([])
    expect(emulator.requests).toEqual([])
    expect((await call('GET', '/users/')).status).toBe(200)
  })

  it('rejects unknown base paths, duplicate definitions and late definitions', () => {
    expect(() => emulator.documents('/nope')).toThrow(/no collection/)
    expect(() => emulator.addCollection(USERS)).toThrow(/already defined/)
    expect(() => emulator.addCollection({ ...CONFIG, endpointBasePath: '/late' })).toThrow(/before start/)
    expect(() => new CrudEmulator({ collections: [{ ...CONFIG, endpointBasePath: 'no-slash' }] })).toThrow(/endpointBasePath/)
  })
})
