import { describe, expect, it } from 'vitest'
import pino from 'pino'
import type { CrudCollection } from '../../src/clients/crud.js'
import type { CallContext } from '../../src/clients/http.js'
import { HttpError } from '../../src/errors/index.js'
import { GroupSchemaCache } from '../../src/services/group-schemas.js'
import { sleep } from '../helpers/wait.js'

const ctx: CallContext = { forwarded: {}, incoming: {}, log: pino({ level: 'silent' }) }

function fakeUmsConfig(groups: Record<string, Record<string, unknown>>) {
  const calls: string[] = []
  const collection = {
    async findOne(filter: { userGroup: string }) {
      calls.push(filter.userGroup)
      await sleep(5)
      const group = groups[filter.userGroup]
      return group ? { userGroup: filter.userGroup, ...group } : undefined
    },
    async list() {
      return Object.keys(groups)
        .sort()
        .map((userGroup) => ({ userGroup }))
    },
  }
  return { collection: collection as unknown as CrudCollection, calls }
}

const strictGroup = {
  crudSchema: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string' }, age: { type: 'number', minimum: 0 }, email: { type: 'string', format: 'email' } },
  },
}

describe('GroupSchemaCache', () => {
  it('validates against the group schema, naming the failing field', async () => {
    const { collection } = fakeUmsConfig({ strict: strictGroup })
    const group = await new GroupSchemaCache(collection).get('strict', ctx)
    expect(group.validate({ userGroup: 'strict', name: 'A', age: 3 })).toBeUndefined()
    expect(group.validate({ userGroup: 'strict', age: 3 })).toBe("body must have required property 'name'")
    expect(group.validate({ userGroup: 'strict', name: 'A', age: -1 })).toBe('body.age must be >= 0')
    expect(group.validate({ userGroup: 'strict', name: 'A', email: 'not-an-email' })).toBe('body.email must match format "email"')
    expect(group.validate({ userGroup: 'strict', name: 'A', nickname: 'x' })).toBe('body must NOT have additional properties (property "nickname")')
  })

  it('accepts the standard user fields and ignores server-managed ones even with additionalProperties false', async () => {
    const { collection } = fakeUmsConfig({ strict: strictGroup })
    const group = await new GroupSchemaCache(collection).get('strict', ctx)
    const user = {
      userGroup: 'strict', name: 'A', username: 'a', blocked: false, roles: ['r'], expirationDate: '2030-01-01T00:00:00.000Z',
      _id: 'x', __STATE__: 'PUBLIC', authUserId: 'auth0|1', expirationId: 'e', creatorId: 'c', createdAt: 'd', updaterId: 'u', updatedAt: 'd',
    }
    expect(group.validate(user)).toBeUndefined()
    expect(group.validate({ ...user, roles: 'r' })).toBe('body.roles must be array')
    expect(group.validate({ ...user, expirationDate: 'tomorrow' })).toBe('body.expirationDate must match format "date-time"')
  })

  it('answers 400 Unknown userGroup and does not cache the miss', async () => {
    const { collection, calls } = fakeUmsConfig({})
    const cache = new GroupSchemaCache(collection)
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await cache.get('ghost', ctx).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(HttpError)
      expect((error as HttpError).toBody()).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Unknown userGroup ghost (ums-config has no groups)',
        code: 'UMS_UNKNOWN_GROUP',
      })
    }
    expect(calls).toEqual(['ghost', 'ghost'])
  })

  it('names the known groups when the userGroup is unknown, so the caller can pick one', async () => {
    const { collection } = fakeUmsConfig({ strict: strictGroup, customer: {} })
    const error = await new GroupSchemaCache(collection).get('Customer', ctx).catch((caught: unknown) => caught)
    expect((error as HttpError).message).toBe('Unknown userGroup Customer (known groups: customer, strict)')
  })

  it('reads what a group lets its users do themselves, granting nothing the document does not say', async () => {
    const { collection } = fakeUmsConfig({
      open: { selfService: { editableFields: ['name', 7], consents: [{ key: 'marketing', version: 2 }, { key: 'terms', version: '2024-01', required: true }, { version: 1 }] } },
      closed: {},
    })
    const cache = new GroupSchemaCache(collection)
    expect((await cache.get('open', ctx)).selfService).toEqual({
      editableFields: ['name'],
      consents: [
        { key: 'marketing', version: 2, required: false },
        { key: 'terms', version: '2024-01', required: true },
      ],
    })
    expect((await cache.get('closed', ctx)).selfService).toEqual({ editableFields: [], consents: [] })
  })

  it('reads a group once while fresh, sharing concurrent first reads, and again after the TTL', async () => {
    const { collection, calls } = fakeUmsConfig({ strict: strictGroup })
    let now = 1_000
    const cache = new GroupSchemaCache(collection, 30_000, () => now)
    const [first, second] = await Promise.all([cache.get('strict', ctx), cache.get('strict', ctx)])
    expect(first).toBe(second)
    await cache.get('strict', ctx)
    expect(calls).toEqual(['strict'])
    now += 30_001
    await cache.get('strict', ctx)
    expect(calls).toEqual(['strict', 'strict'])
  })

  it('with a TTL of 0 reads the group on every call, compiling it again only when its content changed', async () => {
    const groups: Record<string, Record<string, unknown>> = { strict: { ...strictGroup, updatedAt: '2026-01-01T00:00:00.000Z' } }
    const { collection, calls } = fakeUmsConfig(groups)
    const cache = new GroupSchemaCache(collection, 0)
    const first = await cache.get('strict', ctx)
    groups.strict = { ...strictGroup, updatedAt: '2026-01-02T00:00:00.000Z' }
    const unchanged = await cache.get('strict', ctx)
    expect(unchanged).toBe(first)
    groups.strict = { ...strictGroup, selfService: { editableFields: ['name'] } }
    const changed = await cache.get('strict', ctx)
    expect(changed).not.toBe(first)
    expect(changed.selfService.editableFields).toEqual(['name'])
    expect(calls).toEqual(['strict', 'strict', 'strict'])
  })

  it('reports a crudSchema ajv cannot compile as a 500 configuration fault', async () => {
    const { collection } = fakeUmsConfig({ broken: { crudSchema: { type: 'object', properties: { a: { type: 'no-such-type' } } } } })
    const error = await new GroupSchemaCache(collection).get('broken', ctx).catch((caught: unknown) => caught)
    expect((error as HttpError).statusCode).toBe(500)
    expect((error as HttpError).message).toMatch(/^Invalid crudSchema of userGroup broken/)
  })

  it('exposes authUserCreationDisabled', async () => {
    const { collection } = fakeUmsConfig({ crudOnly: { ...strictGroup, authUserCreationDisabled: true } })
    expect((await new GroupSchemaCache(collection).get('crudOnly', ctx)).authUserCreationDisabled).toBe(true)
  })
})
