import { describe, expect, it } from 'vitest'
import { HttpError } from '../../src/errors/index.js'
import { applyPatch, assertClientWritable, compensatingPatch, patchedPaths, type UserPatch } from '../../src/services/users/fields.js'

const user = { _id: '1', userGroup: 'customer', name: 'A', tags: ['a', 'b'], age: 3, address: { city: 'Rome' } }

describe('applyPatch', () => {
  it.each([
    [{ $set: { name: 'B', 'address.zip': '00100' } }, { name: 'B', address: { city: 'Rome', zip: '00100' } }],
    [{ $unset: { age: true, 'address.city': true } }, { address: {} }],
    [{ $inc: { age: 2 } }, { age: 5 }],
    [{ $mul: { age: 3 } }, { age: 9 }],
    [{ $push: { tags: 'c' } }, { tags: ['a', 'b', 'c'] }],
    [{ $push: { tags: { $each: ['c', 'a'] } } }, { tags: ['a', 'b', 'c', 'a'] }],
    [{ $addToSet: { tags: { $each: ['a', 'd'] } } }, { tags: ['a', 'b', 'd'] }],
    [{ $pull: { tags: 'a' } }, { tags: ['b'] }],
    [{ $pull: { tags: { $in: ['a', 'b'] } } }, { tags: [] }],
    [{ $push: { roles: 'x' } }, { roles: ['x'] }],
    [{ $push: { tags: { $each: ['z'], $position: 0 } } }, { tags: ['z', 'a', 'b'] }],
    [{ $push: { tags: { $each: ['c', 'd'], $slice: -3 } } }, { tags: ['b', 'c', 'd'] }],
    [{ $push: { tags: { $each: ['0'], $sort: -1, $slice: 2 } } }, { tags: ['b', 'a'] }],
    [{ $push: { tags: { $each: [], $slice: 0 } } }, { tags: [] }],
    [{ $pull: { tags: { $ne: 'a' } } }, { tags: ['a'] }],
    [{ $pull: { tags: { $nin: ['b'] } } }, { tags: ['b'] }],
    [{ $pull: { tags: { $gte: 'b' } } }, { tags: ['a'] }],
  ] as Array<[UserPatch, Record<string, unknown>]>)('applies %j', (patch, expected) => {
    const result = applyPatch(user, patch)
    expect(result).toMatchObject(expected)
    for (const key of Object.keys(patch.$unset ?? {})) if (!key.includes('.')) expect(result).not.toHaveProperty(key)
  })

  it('sets $currentDate fields to now and leaves the input untouched', () => {
    const now = new Date('2026-01-02T03:04:05.000Z')
    expect(applyPatch(user, { $currentDate: { seenAt: true } }, now)).toMatchObject({ seenAt: now.toISOString() })
    expect(user).toEqual({ _id: '1', userGroup: 'customer', name: 'A', tags: ['a', 'b'], age: 3, address: { city: 'Rome' } })
  })
})

describe('applyPatch on arrays of objects', () => {
  const doc = { _id: '1', items: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }] }

  it('sorts pushed objects by a field and pulls by field conditions', () => {
    expect(applyPatch(doc, { $push: { items: { $each: [{ sku: 'c', qty: 3 }], $sort: { qty: 1 } } } }).items).toEqual([
      { sku: 'b', qty: 1 },
      { sku: 'a', qty: 2 },
      { sku: 'c', qty: 3 },
    ])
    expect(applyPatch(doc, { $pull: { items: { qty: { $gt: 1 } } } }).items).toEqual([{ sku: 'b', qty: 1 }])
  })

  it('refuses a $pull condition it cannot evaluate', () => {
    expect(() => applyPatch(doc, { $pull: { items: { $elemMatch: {} } } })).toThrow('body.$pull: unsupported condition $elemMatch')
  })
})

describe('compensatingPatch', () => {
  it('restores touched top-level fields and unsets the ones that were absent', () => {
    const patch = { $set: { name: 'B', 'address.zip': '1', nickname: 'n' }, $push: { tags: 'c' } }
    expect(compensatingPatch(user, patch)).toEqual({ $set: { name: 'A', address: { city: 'Rome' }, tags: ['a', 'b'] }, $unset: { nickname: true } })
    expect(applyPatch(applyPatch(user, patch), compensatingPatch(user, patch))).toEqual(user)
  })
})

describe('assertClientWritable', () => {
  it.each(['authUserId', 'expirationId', '_id', '__STATE__', 'authUserId.x'])('refuses %s', (field) => {
    expect(() => assertClientWritable([field], 'modified')).toThrow(HttpError)
    expect(() => assertClientWritable([field], 'modified')).toThrow(`${field.split('.')[0]} cannot be modified`)
  })

  it('accepts ordinary fields', () => {
    expect(() => assertClientWritable(patchedPaths({ $set: { name: 'x', blocked: true }, $unset: { expirationDate: true } }), 'modified')).not.toThrow()
  })
})
