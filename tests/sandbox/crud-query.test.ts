// CRUD emulator: state filter (`_st`), query language, pagination,
// sort, projection, count, query-string strictness and the ACL / encoding headers.
import { beforeEach, describe, expect, it } from 'vitest'
import { CONFIG, USERS, badRequest, q, unknownQueryParam, useCrudEmulator } from './crud-helpers.js'

const { emulator, call } = useCrudEmulator([USERS, CONFIG])

const MANAGER = '65f1c2a9e4b0a1b2c3d4e5f6'
let ids: string[] = []

// Seeds after the reset that useCrudEmulator registers before each test.
beforeEach(() => {
  ids = emulator.seed('/users', [
    {
      email: 'ann@x.io',
      name: 'Ann',
      age: 30,
      level: 1,
      active: true,
      birth: '1990-05-01T00:00:00.000Z',
      managerId: MANAGER,
      roles: ['admin', 'dev'],
      logins: ['2024-01-01T00:00:00.000Z'],
      items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 5 }],
      profile: { city: 'Rome', zip: 100 },
      meta: { team: 'core', score: 7 },
      __STATE__: 'PUBLIC',
    },
    {
      email: 'bob@x.io',
      name: 'bob',
      age: 25,
      active: false,
      birth: '2000-01-01T00:00:00.000Z',
      roles: ['dev'],
      items: [{ sku: 'c', qty: 2 }],
      profile: { city: 'Milan' },
      meta: { team: 'edge' },
      __STATE__: 'PUBLIC',
    },
    { email: 'cid@x.io', name: 'Cid', age: 41, roles: [], nickname: null, __STATE__: 'PUBLIC' },
    { email: 'dee@x.io', name: 'Dee', age: 35, __STATE__: 'DRAFT' },
    { email: 'eve@x.io', name: 'Eve', __STATE__: 'TRASH' },
  ])
})

const emails = (json: unknown) => (json as Array<{ email: string }>).map((doc) => doc.email)

async function list(query: Record<string, string | string[]>, headers?: Record<string, string>) {
  const answer = await call('GET', '/users/', { query, headers })
  expect(answer.status, answer.text).toBe(200)
  return emails(answer.json)
}

describe('state filter _st', () => {
  it.each([
    [{}, ['ann@x.io', 'bob@x.io', 'cid@x.io']],
    [{ _st: 'DRAFT' }, ['dee@x.io']],
    [{ _st: 'DRAFT,TRASH' }, ['dee@x.io', 'eve@x.io']],
    [{ _st: 'PUBLIC,DRAFT,TRASH,DELETED' }, ['ann@x.io', 'bob@x.io', 'cid@x.io', 'dee@x.io', 'eve@x.io']],
    [{ _q: q({ __STATE__: 'DRAFT' }) }, []],
  ])('list %j', async (query, expected) => {
    expect(await list(query)).toEqual(expected)
  })

  it('hides documents in other states on by-id routes', async () => {
    const draft = ids[3]
    expect((await call('GET', `/users/${draft}`)).json).toEqual({ error: 'not found' })
    expect((await call('GET', `/users/${draft}`, { query: { _st: 'DRAFT' } })).status).toBe(200)
    expect((await call('GET', '/users/count', { query: { _st: 'TRASH' } })).json).toBe(1)
  })

  it('rejects malformed state lists', async () => {
    const answer = await call('GET', '/users/', { query: { _st: 'PUBLIC,GONE' } })
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({ code: 'FST_ERR_VALIDATION', message: expect.stringMatching(/^querystring\/_st must match pattern/) })
  })

  it('never matches documents without __STATE__', async () => {
    emulator.seed('/users', [{ email: 'stateless@x.io', __STATE__: undefined }])
    expect(emulator.documents('/users').at(-1)).not.toHaveProperty('__STATE__')
    expect(await list({ _st: 'PUBLIC,DRAFT,TRASH,DELETED', email: 'stateless@x.io' })).toEqual([])
    expect((await call('GET', '/users/count', { query: { _useEstimate: 'true' } })).json).toBe(6)
  })
})

describe('query operators', () => {
  it.each([
    ['equality', { name: 'Ann' }, ['ann@x.io']],
    ['array contains', { roles: 'dev' }, ['ann@x.io', 'bob@x.io']],
    ['exact array', { roles: ['dev'] }, ['bob@x.io']],
    ['exact sub-document', { profile: { city: 'Milan' } }, ['bob@x.io']],
    ['$eq', { age: { $eq: 25 } }, ['bob@x.io']],
    ['$ne', { age: { $ne: 25 } }, ['ann@x.io', 'cid@x.io']],
    ['$gt', { age: { $gt: 30 } }, ['cid@x.io']],
    ['$gte', { age: { $gte: 30 } }, ['ann@x.io', 'cid@x.io']],
    ['$lt', { age: { $lt: 30 } }, ['bob@x.io']],
    ['$lte', { age: { $lte: 30 } }, ['ann@x.io', 'bob@x.io']],
    ['$gt on strings', { name: { $gt: 'B' } }, ['bob@x.io', 'cid@x.io']],
    ['$lt on date strings', { birth: { $lt: '1995-01-01T00:00:00.000Z' } }, ['ann@x.io']],
    ['$gte on epoch millis', { birth: { $gte: Date.parse('2000-01-01T00:00:00.000Z') } }, ['bob@x.io']],
    ['date equality', { birth: '2000-01-01T00:00:00Z' }, ['bob@x.io']],
    ['date array contains', { logins: '2024-01-01T00:00:00.000Z' }, ['ann@x.io']],
    ['$in', { name: { $in: ['Ann', 'Cid'] } }, ['ann@x.io', 'cid@x.io']],
    ['$nin', { name: { $nin: ['Ann', 'Cid'] } }, ['bob@x.io']],
    ['$in on arrays', { roles: { $in: ['admin'] } }, ['ann@x.io']],
    ['$nin on arrays', { roles: { $nin: ['admin'] } }, ['bob@x.io', 'cid@x.io']],
    ['$all', { roles: { $all: ['dev', 'admin'] } }, ['ann@x.io']],
    ['$exists true', { level: { $exists: true } }, ['ann@x.io']],
    ['$exists false', { level: { $exists: false } }, ['bob@x.io', 'cid@x.io']],
    ['$exists on objects', { meta: { $exists: true } }, ['ann@x.io', 'bob@x.io']],
    ['null matches null and missing', { nickname: null }, ['ann@x.io', 'bob@x.io', 'cid@x.io']],
    ['$regex', { name: { $regex: '^[A-Z]' } }, ['ann@x.io', 'cid@x.io']],
    ['$regex i', { name: { $regex: '^b', $options: 'i' } }, ['bob@x.io']],
    ['$regex m', { email: { $regex: '^bob', $options: 'm' } }, ['bob@x.io']],
    ['$regex s', { email: { $regex: 'ann.x', $options: 's' } }, ['ann@x.io']],
    ['$regex x', { name: { $regex: ' ^ C i d # the name ', $options: 'x' } }, ['cid@x.io']],
    ['$size', { roles: { $size: 2 } }, ['ann@x.io']],
    ['$elemMatch', { items: { $elemMatch: { qty: { $gt: 3 } } } }, ['ann@x.io']],
    ['$and', { $and: [{ age: { $gt: 20 } }, { age: { $lt: 35 } }] }, ['ann@x.io', 'bob@x.io']],
    ['$or', { $or: [{ name: 'Ann' }, { age: 41 }] }, ['ann@x.io', 'cid@x.io']],
    ['dotted path into a typed object', { 'profile.city': 'Rome' }, ['ann@x.io']],
    ['dotted path into a free object', { 'meta.score': { $gte: 7 } }, ['ann@x.io']],
    ['dotted path into array items', { 'items.sku': 'c' }, ['bob@x.io']],
    ['numeric array index', { 'items.1.qty': 5 }, ['ann@x.io']],
    ['numeric index into a scalar array', { 'roles.0': 'dev' }, ['bob@x.io']],
    ['ObjectId field', { managerId: MANAGER.toUpperCase() }, ['ann@x.io']],
    ['_id $in', { _id: { $in: [] } }, []],
    ['boolean', { active: false }, ['bob@x.io']],
  ])('%s', async (_case, filter, expected) => {
    expect(await list({ _q: q(filter) })).toEqual(expected)
  })

  it('converts ObjectId strings for _id', async () => {
    expect(await list({ _q: q({ _id: ids[1] }) })).toEqual(['bob@x.io'])
    expect(await list({ _q: q({ _id: { $in: [ids[0], ids[2]] } }) })).toEqual(['ann@x.io', 'cid@x.io'])
  })

  it('ANDs _q, plain filters and acl_rows', async () => {
    const emailsFound = await list({ _q: q({ age: { $gte: 25 } }), active: 'true' }, { acl_rows: q({ name: { $ne: 'bob' } }) })
    expect(emailsFound).toEqual(['ann@x.io'])
  })

  it.each([
    [{ unknown: 1 }, 'Unknown field: unknown'],
    [{ 'name.first': 'x' }, 'Unknown field: name.first'],
    [{ 'profile.country': 'x' }, 'Unknown field: profile.country'],
    [{ $nor: [{ name: 'Ann' }] }, 'Unknown operator: $nor'],
    [{ $where: 'true' }, 'Unknown operator: $where'],
    [{ $expr: {} }, 'Unknown operator: $expr'],
    [{ $or: [{ $comment: 'x' }] }, 'Unknown operator: $comment'],
    [{ age: { $not: { $gt: 1 } } }, 'Unsupported operator: $not'],
    [{ age: { $type: 'number' } }, 'Unsupported operator: $type'],
    [{ age: { $mod: [2, 0] } }, 'Unsupported operator: $mod'],
    [{ roles: { $ne: 'dev' } }, 'Unsupported operator: $ne for Array field'],
    [{ roles: { $regex: 'd' } }, 'Unsupported operator: $regex for Array field'],
    [{ roles: { $gt: 'a' } }, 'Unsupported operator: $gt for Array field'],
    [{ name: { $size: 1 } }, 'Unsupported operator: $size for string field'],
    [{ age: { $elemMatch: {} } }, 'Unsupported operator: $elemMatch for number field'],
    [{ profile: { $eq: { city: 'Rome' } } }, 'Unsupported operator: $eq for RawObject field'],
    [{ managerId: 'nope' }, 'Invalid objectId'],
    [{ managerId: { $in: [12] } }, 'Invalid objectId'],
    [{ _id: 'not-an-id' }, 'Invalid objectId'],
    [{ birth: 'yesterday' }, 'Invalid Date'],
    [{ birth: { $gt: true } }, 'Invalid Date'],
  ])('rejects %j with 400 %s', async (filter, message) => {
    const answer = await call('GET', '/users/', { query: { _q: q(filter) } })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual(badRequest(message))
  })

  it.each([
    ['invalid JSON', '{"name":'],
    ['a bad regex option', q({ name: { $regex: 'a', $options: 'g' } })],
    ['$in without an array', q({ name: { $in: 'Ann' } })],
    ['$options without $regex', q({ name: { $options: 'i' } })],
    ['$text (not emulated)', q({ $text: { $search: 'ann' } })],
  ])('answers 500 for %s', async (_case, raw) => {
    const answer = await call('GET', '/users/', { query: { _q: raw } })
    expect(answer.status).toBe(500)
    expect(answer.json).toMatchObject({ statusCode: 500, error: 'Internal Server Error', message: expect.any(String) })
  })

  it('decodes base64 _q and _rawp with json-query-params-encoding', async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64')
    const answer = await call('GET', '/users/', {
      query: { _q: encode({ name: 'Ann' }), _rawp: encode({ email: 1 }) },
      headers: { 'json-query-params-encoding': 'base64' },
    })
    expect(answer.json).toEqual([{ _id: ids[0], email: 'ann@x.io' }])
    const alias = await call('GET', '/users/', { query: { _q: encode({ name: 'bob' }) }, headers: { json_query_params_encoding: 'base64' } })
    expect(emails(alias.json)).toEqual(['bob@x.io'])
  })
})

describe('plain field filters', () => {
  it.each([
    [{ name: 'bob' }, ['bob@x.io']],
    [{ age: '41' }, ['cid@x.io']],
    [{ active: 'false' }, ['bob@x.io']],
    [{ roles: 'admin' }, ['ann@x.io']],
    [{ birth: '1990-05-01T00:00:00.000Z' }, ['ann@x.io']],
    [{ 'profile.city': 'Milan' }, ['bob@x.io']],
    [{ managerId: MANAGER }, ['ann@x.io']],
    [{ creatorId: 'public' }, ['ann@x.io', 'bob@x.io', 'cid@x.io']],
    [{ name: 'Ann', age: '30' }, ['ann@x.io']],
  ])('%j', async (query, expected) => {
    expect(await list(query)).toEqual(expected)
  })

  it('filters by _id on list, count and patch-many', async () => {
    expect(await list({ _id: ids[1] ?? '' })).toEqual(['bob@x.io'])
    expect((await call('GET', '/users/count', { query: { _id: ids[1] ?? '' } })).json).toBe(1)
    expect((await call('PATCH', '/users/', { query: { _id: ids[1] ?? '' }, body: { $set: { age: 26 } } })).json).toBe(1)
  })

  it.each([
    [{ age: 'old' }, badRequest('querystring/age must be number', 'FST_ERR_VALIDATION')],
    [{ active: 'yes' }, badRequest('querystring/active must be boolean', 'FST_ERR_VALIDATION')],
    [{ birth: 'soon' }, badRequest('querystring/birth must match format "date-time"', 'FST_ERR_VALIDATION')],
    [{ managerId: 'x' }, badRequest('Invalid objectId')],
    [{ _id: 'x' }, badRequest('Invalid objectId')],
  ])('rejects %j', async (query, expected) => {
    const answer = await call('GET', '/users/', { query })
    expect(answer.json).toEqual(expected)
  })
})

describe('pagination, sort and count', () => {
  beforeEach(() => {
    emulator.seed(
      '/users',
      Array.from({ length: 30 }, (_, index) => ({ email: `p${String(index).padStart(2, '0')}@x.io`, age: index, __STATE__: 'PUBLIC' })),
    )
  })

  it('pages 25 by default, honours _l and _sk after sorting', async () => {
    expect(await list({})).toHaveLength(25)
    expect(await list({ _l: '200' })).toHaveLength(33)
    expect(await list({ _s: '-age', _l: '2', _sk: '2' })).toEqual(['p29@x.io', 'p28@x.io'])
    expect(await list({ _sk: '40' })).toEqual([])
  })

  it.each([
    [{ _l: '0' }, 'querystring/_l must be >= 1'],
    [{ _l: '201' }, 'querystring/_l must be <= 200'],
    [{ _l: 'ten' }, 'querystring/_l must be integer'],
    [{ _sk: '-1' }, 'querystring/_sk must be >= 0'],
  ])('rejects %j', async (query, message) => {
    expect((await call('GET', '/users/', { query })).json).toEqual(badRequest(message, 'FST_ERR_VALIDATION'))
  })

  it('sorts by several keys, comma-separated or repeated', async () => {
    emulator.reset()
    emulator.seed('/users', [
      { email: 'a', name: 'x', age: 2, __STATE__: 'PUBLIC' },
      { email: 'b', name: 'y', age: 1, __STATE__: 'PUBLIC' },
      { email: 'c', name: 'x', age: 1, __STATE__: 'PUBLIC' },
    ])
    expect(await list({ _s: 'name,-age' })).toEqual(['a', 'c', 'b'])
    expect(await list({ _s: ['name', 'age'] })).toEqual(['c', 'a', 'b'])
  })

  it('orders by MongoDB type order with missing and null first', async () => {
    emulator.reset()
    emulator.seed('/users', [
      { email: 'text', meta: { v: 'a' }, __STATE__: 'PUBLIC' },
      { email: 'number', meta: { v: 10 }, __STATE__: 'PUBLIC' },
      { email: 'missing', meta: {}, __STATE__: 'PUBLIC' },
      { email: 'bool', meta: { v: false }, __STATE__: 'PUBLIC' },
      { email: 'null', meta: { v: null }, __STATE__: 'PUBLIC' },
      { email: 'object', meta: { v: { a: 1 } }, __STATE__: 'PUBLIC' },
      { email: 'small', meta: { v: -1 }, __STATE__: 'PUBLIC' },
    ])
    expect(await list({ _s: 'meta.v' })).toEqual(['missing', 'null', 'small', 'number', 'text', 'object', 'bool'])
    expect(await list({ _s: '-meta.v' })).toEqual(['bool', 'object', 'text', 'number', 'small', 'missing', 'null'])
  })

  it('sorts dates chronologically and arrays by their smallest/largest element', async () => {
    emulator.reset()
    emulator.seed('/users', [
      { email: 'late', birth: '2020-01-01T00:00:00Z', roles: ['m'], __STATE__: 'PUBLIC' },
      { email: 'early', birth: '1999-12-31T23:59:59Z', roles: ['a', 'z'], __STATE__: 'PUBLIC' },
    ])
    expect(await list({ _s: 'birth' })).toEqual(['early', 'late'])
    expect(await list({ _s: 'roles' })).toEqual(['early', 'late'])
    expect(await list({ _s: '-roles' })).toEqual(['early', 'late'])
  })

  it('falls back to defaultSorting, then to insertion order', async () => {
    await call('POST', '/ums/config/bulk', { body: [{ key: 'b', code: '1' }, { key: 'a', code: '2' }] })
    const answer = await call('GET', '/ums/config/')
    expect((answer.json as Array<{ key: string }>).map((doc) => doc.key)).toEqual(['a', 'b'])
    expect((await list({ _l: '3' })).slice(0, 3)).toEqual(['ann@x.io', 'bob@x.io', 'cid@x.io'])
  })

  it('rejects sorting on undeclared fields', async () => {
    const answer = await call('GET', '/users/', { query: { _s: 'secret' } })
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({ message: expect.stringMatching(/^querystring\/_s must match pattern/) })
  })

  it('counts with filters and _st, or everything with _useEstimate', async () => {
    const count = async (query: Record<string, string>) => (await call('GET', '/users/count', { query })).json
    expect(await count({})).toBe(33)
    expect(await count({ _q: q({ age: { $lt: 10 } }) })).toBe(10)
    expect(await count({ _st: 'DRAFT,TRASH' })).toBe(2)
    expect(await count({ age: '3' })).toBe(1)
    expect(await count({ _useEstimate: 'true', _st: 'DRAFT' })).toBe(35)
  })
})

describe('projection', () => {
  const get = async (query: Record<string, string>, headers?: Record<string, string>) => {
    const answer = await call('GET', `/users/${ids[0]}`, { query, headers })
    return answer
  }

  it('returns only declared fields by default and omits absent ones', async () => {
    emulator.reset()
    const [id] = emulator.seed('/users', [{ email: 'a@x.io', undeclared: 'hidden', __STATE__: 'PUBLIC' }])
    const answer = await call('GET', `/users/${id}`)
    expect(Object.keys(answer.json as object).sort()).toEqual(
      ['__STATE__', '_id', 'createdAt', 'creatorId', 'email', 'updatedAt', 'updaterId'].sort(),
    )
    const named = await call('GET', `/users/${id}`, { query: { _p: 'undeclared' } })
    expect(named.json).toEqual({ _id: id, undeclared: 'hidden' })
  })

  it.each([
    [{ _p: 'email,name' }, true, { email: 'ann@x.io', name: 'Ann' }],
    [{ _p: 'profile.city,age' }, true, { profile: { city: 'Rome' }, age: 30 }],
    [{ _p: 'items.sku' }, true, { items: [{ sku: 'a' }, { sku: 'b' }] }],
    [{ _rawp: q({ email: 1 }) }, true, { email: 'ann@x.io' }],
    [{ _rawp: q({ email: 1, _id: 0 }) }, false, { email: 'ann@x.io' }],
    [{ _rawp: q({ nameUpper: { $cond: [{ $eq: ['$active', true] }, 'yes', 'no'] } }) }, true, { nameUpper: 'yes' }],
  ])('%j (with _id: %s)', async (query: Record<string, string>, withId, expected) => {
    const answer = await get(query)
    expect(answer.json).toEqual(withId ? { _id: ids[0], ...expected } : expected)
  })

  it('excludes with _rawp from the declared fields', async () => {
    const answer = await get({ _rawp: q({ meta: 0, items: 0, profile: 0, _id: 0 }) })
    const keys = Object.keys(answer.json as object)
    expect(keys).not.toContain('meta')
    expect(keys).not.toContain('_id')
    expect(keys).toContain('email')
  })

  it.each([
    [{ _p: 'email', _rawp: q({ email: 1 }) }, 'Use of both _rawp and _p parameter is not allowed'],
    [{ _rawp: q({ root: '$$ROOT' }) }, 'Operator $$ROOT is not allowed in raw projection'],
    [{ _rawp: q({ x: { $function: {} } }) }, 'Operator $function is not allowed in raw projection'],
  ])('rejects %j', async (query, message) => {
    expect((await get(query)).json).toEqual(badRequest(message))
  })

  it('restricts every read with acl_read_columns', async () => {
    const headers = { acl_read_columns: 'email, name' }
    expect((await get({}, headers)).json).toEqual({ _id: ids[0], email: 'ann@x.io', name: 'Ann' })
    expect((await get({ _p: 'email,age' }, headers)).json).toEqual({ _id: ids[0], email: 'ann@x.io' })
    expect((await get({ _rawp: q({ age: 1, name: 1 }) }, headers)).json).toEqual({ _id: ids[0], name: 'Ann' })
    expect((await get({ _rawp: q({ age: 0 }) }, headers)).json).toEqual({ _id: ids[0], email: 'ann@x.io', name: 'Ann' })
    expect((await get({ _rawp: q({ name: 0 }) }, headers)).json).toEqual(
      badRequest('_rawp exclusive projection is overriding at least one acl_read_column value'),
    )
    const listed = await call('GET', '/users/', { headers, query: { _l: '1' } })
    expect(listed.json).toEqual([{ _id: ids[0], email: 'ann@x.io', name: 'Ann' }])
    const patched = await call('PATCH', `/users/${ids[0]}`, { headers, body: { $set: { age: 31 } } })
    expect(patched.json).toEqual({ _id: ids[0], email: 'ann@x.io', name: 'Ann' })
  })
})

describe('acl_rows', () => {
  it.each([
    ['list', 'GET', '/users/', 200, ['bob@x.io']],
    ['count', 'GET', '/users/count', 200, 1],
  ])('applies to %s', async (_case, method, path, status, expected) => {
    const answer = await call(method, path, { headers: { acl_rows: q({ name: 'bob' }) } })
    expect(answer.status).toBe(status)
    expect(Array.isArray(answer.json) ? emails(answer.json) : answer.json).toEqual(expected)
  })

  it('ANDs an array of filters and hides other documents from by-id routes', async () => {
    const headers = { acl_rows: q([{ age: { $gt: 20 } }, { name: 'bob' }]) }
    expect((await call('GET', `/users/${ids[0]}`, { headers })).status).toBe(404)
    expect((await call('GET', `/users/${ids[1]}`, { headers })).status).toBe(200)
    expect((await call('DELETE', `/users/${ids[0]}`, { headers })).status).toBe(404)
    expect((await call('PATCH', '/users/', { headers, body: { $set: { age: 26 } } })).json).toBe(1)
    expect((await call('POST', `/users/${ids[0]}/state`, { headers, body: { stateTo: 'DRAFT' } })).status).toBe(404)
    expect((await call('POST', '/users/state', { headers, body: [{ filter: {}, stateTo: 'DRAFT' }] })).json).toBe(1)
  })

  it('checks field names and answers 500 on invalid JSON', async () => {
    expect((await call('GET', '/users/', { headers: { acl_rows: q({ secret: 1 }) } })).json).toEqual(badRequest('Unknown field: secret'))
    expect((await call('GET', '/users/', { headers: { acl_rows: '{oops' } })).status).toBe(500)
  })
})

describe('query-string strictness', () => {
  const id = MANAGER
  it.each([
    ['POST', `/users/${id}/state`, { _st: 'PUBLIC' }, '_st', { stateTo: 'DRAFT' }],
    ['POST', `/users/${id}/state`, { _id: id }, '_id', { stateTo: 'DRAFT' }],
    ['GET', '/users/', { __STATE__: 'PUBLIC' }, '__STATE__', undefined],
    ['GET', '/users/', { profile: 'x' }, 'profile', undefined],
    ['GET', '/users/', { meta: 'x' }, 'meta', undefined],
    ['GET', '/users/', { 'items.sku': 'x' }, 'items.sku', undefined],
    ['GET', '/users/', { unknown: 'x' }, 'unknown', undefined],
    ['GET', '/users/count', { _l: '1' }, '_l', undefined],
    ['GET', '/users/count', { _p: 'email' }, '_p', undefined],
    ['GET', `/users/${id}`, { _id: id }, '_id', undefined],
    ['GET', `/users/${id}`, { _s: 'email' }, '_s', undefined],
    ['PATCH', `/users/${id}`, { _p: 'email' }, '_p', {}],
    ['DELETE', `/users/${id}`, { _sk: '1' }, '_sk', undefined],
    ['GET', '/users/', { _useEstimate: 'true' }, '_useEstimate', undefined],
  ])('%s %s rejects %j', async (method, path, query, name, body) => {
    const answer = await call(method, path, { query, body })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual(unknownQueryParam(name))
  })

  it.each([
    ['POST', '/users/bulk', [{ email: 'q@x.io' }]],
    ['PATCH', '/users/bulk', [{ filter: {}, update: {} }]],
  ])('%s %s ignores the query string', async (method, path, body) => {
    expect((await call(method, path, { query: { anything: '1' }, body })).status).toBe(200)
  })
})
