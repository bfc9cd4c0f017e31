// CRUD emulator fast paths, which must answer exactly what the slow ones do: lookups that pin
// `_id` use the store's `_id` map instead of scanning (natural order, every other condition
// applied, states, deletes and replacements reflected; a scan while a stored `_id` is not a
// string), and a patch that only `$set`s top-level fields is applied without mingo.
import { beforeEach, describe, expect, it } from 'vitest'
import { applyPatch } from '../../src/sandbox/crud/patch.js'
import { pinnedIds } from '../../src/sandbox/crud/store.js'
import { CONFIG, USERS, q, useCrudEmulator } from './crud-helpers.js'

const { emulator, call } = useCrudEmulator([USERS, CONFIG])

let ids: string[] = []

beforeEach(() => {
  ids = emulator.seed(
    '/users',
    ['a', 'b', 'c', 'd', 'e'].map((name, index) => ({ email: `${name}@x.io`, name, age: 20 + index, __STATE__: index === 3 ? 'DRAFT' : 'PUBLIC' })),
  )
})

const names = (json: unknown) => (json as Array<{ name: string }>).map((doc) => doc.name)

async function list(query: Record<string, string>): Promise<string[]> {
  const answer = await call('GET', '/users/', { query })
  expect(answer.status, answer.text).toBe(200)
  return names(answer.json)
}

describe('pinnedIds', () => {
  it.each([
    [{ _id: 'x' }, ['x']],
    [{ _id: { $eq: 'x' } }, ['x']],
    [{ _id: { $in: ['x', 'y'] } }, ['x', 'y']],
    [{ $and: [{ name: 'a' }, { _id: 'x' }, { __STATE__: { $in: ['PUBLIC'] } }] }, ['x']],
    [{ name: 'a', $and: [{ $and: [{ _id: { $in: ['y'] } }] }] }, ['y']],
  ])('%j pins %j', (filter, expected) => {
    expect(pinnedIds(filter)).toEqual(expected)
  })

  it.each([
    [{ name: 'a' }],
    [{ _id: { $in: ['x', /y/] } }],
    [{ _id: { $in: ['x'], $nin: ['y'] } }],
    [{ _id: { $ne: 'x' } }],
    [{ _id: 7 }],
    [{ $or: [{ _id: 'x' }, { name: 'a' }] }],
  ])('%j pins nothing (scan)', (filter) => {
    expect(pinnedIds(filter)).toBeUndefined()
  })
})

describe('lookups by _id', () => {
  it('answers $in in natural order, once per document, with the other conditions and the states applied', async () => {
    const [a, b, c, d, e] = ids as [string, string, string, string, string]
    expect(await list({ _q: q({ _id: { $in: [e, a, c, e, d] } }) })).toEqual(['a', 'c', 'e'])
    expect(await list({ _q: q({ _id: { $in: [e, a, c, d] } }), _st: 'PUBLIC,DRAFT' })).toEqual(['a', 'c', 'd', 'e'])
    expect(await list({ _q: q({ _id: { $in: [e, a, b] }, age: { $gte: 21 } }) })).toEqual(['b', 'e'])
    expect(await list({ _q: q({ _id: { $in: ['65f1c2a9e4b0a1b2c3d4e5f6'] } }) })).toEqual([])
    expect((await call('GET', '/users/count', { query: { _q: q({ _id: { $in: [a, b, d] } }) } })).json).toBe(2)
  })

  it('finds the replaced version after patches and keeps the natural order', async () => {
    const [a, b, c] = ids as [string, string, string]
    const patched = await call('PATCH', '/users/bulk', {
      body: [
        { filter: { _id: c }, update: { $set: { name: 'C' } } },
        { filter: { _id: a, _q: q({ age: { $gt: 99 } }) }, update: { $set: { name: 'never' } } },
        { filter: { _id: c }, update: { $set: { age: 99 } } },
      ],
    })
    expect(patched.json).toBe(2)
    expect((await call('GET', `/users/${c}`)).json).toMatchObject({ name: 'C', age: 99 })
    expect(await list({})).toEqual(['a', 'b', 'C', 'e'])
    expect((await call('PATCH', `/users/${b}`, { body: { $set: { name: 'B' } } })).status).toBe(200)
    expect(await list({ _q: q({ _id: { $in: [c, b, a] } }) })).toEqual(['a', 'B', 'C'])
  })

  it('forgets deleted documents and still finds the ones after them', async () => {
    const [a, b, c, , e] = ids as [string, string, string, string, string]
    expect((await call('DELETE', `/users/${b}`)).status).toBe(204)
    expect((await call('GET', `/users/${b}`)).status).toBe(404)
    expect((await call('PATCH', '/users/bulk', { body: [{ filter: { _id: e }, update: { $set: { name: 'E' } } }] })).json).toBe(1)
    expect((await call('POST', `/users/${c}/state`, { body: { stateTo: 'TRASH' } })).status).toBe(204)
    expect(await list({ _q: q({ _id: { $in: [e, c, b, a] } }), _st: 'PUBLIC,TRASH' })).toEqual(['a', 'c', 'E'])
  })

  it('scans while a stored _id is not a string, with the same answers', async () => {
    const [a, , c] = ids as [string, string, string]
    emulator.seed('/users', [{ _id: 7, email: 'n@x.io', name: 'numeric', __STATE__: 'PUBLIC' }])
    expect(await list({ _q: q({ _id: { $in: [c, a] } }) })).toEqual(['a', 'c'])
    expect((await call('PATCH', '/users/bulk', { body: [{ filter: { _id: a }, update: { $set: { name: 'A' } } }] })).json).toBe(1)
    expect(await list({})).toEqual(['A', 'b', 'c', 'e', 'numeric'])
  })
})

describe('applyPatch of a top-level $set', () => {
  const doc = () => ({
    _id: 'x',
    name: 'a',
    tags: ['t'],
    profile: { city: 'Rome', zip: 1 },
    createdAt: new Date('2020-01-01T00:00:00Z'),
    __STATE__: 'PUBLIC',
  })
  const system = () => ({ updaterId: 'u', updatedAt: new Date('2024-01-01T00:00:00Z') })

  it.each([
    [{ name: 'b' }],
    [{ tags: ['x', 'y'], profile: { city: 'Milan' }, extra: null }],
    [{ authUserId: 'auth0|1', createdAt: new Date('2021-01-01T00:00:00Z') }],
    [{}],
  ])('$set %j gives what mingo gives, key order included, sharing nothing', (set) => {
    const original = doc()
    const fast = applyPatch(original, { $set: set }, system())
    // An empty $unset sends the same change through mingo.
    const viaMingo = applyPatch(doc(), { $set: set, $unset: {} }, system())
    expect(fast).toEqual(viaMingo)
    expect(Object.keys(fast)).toEqual(Object.keys(viaMingo))
    expect(original).toEqual(doc())
    for (const [key, value] of Object.entries(set)) {
      if (typeof value === 'object' && value !== null) expect(fast[key]).not.toBe(value)
    }
  })

  it('leaves dotted paths and other operators to mingo', () => {
    const patched = applyPatch(doc(), { $set: { 'profile.city': 'Turin' }, $push: { tags: 'u' } }, system())
    expect(patched).toMatchObject({ profile: { city: 'Turin', zip: 1 }, tags: ['t', 'u'], updaterId: 'u' })
  })
})
