// Shared fixtures of the CRUD emulator tests: collection definitions, a small HTTP caller and
// the emulator of a test file.
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { CrudEmulator, type CrudCollectionDefinition } from '../../src/sandbox/crud-emulator.js'
import { readAnswer, type FetchAnswer } from '../helpers/fetch-answer.js'

/** DRAFT default state (none configured), ObjectId ids, every field flavour the emulator types. */
export const USERS: CrudCollectionDefinition = {
  endpointBasePath: '/users',
  schema: {
    type: 'object',
    properties: {
      email: { type: 'string' },
      name: { type: 'string' },
      age: { type: 'number' },
      level: { type: 'integer' },
      active: { type: 'boolean' },
      birth: { type: 'string', format: 'date-time' },
      day: { type: 'string', format: 'date' },
      managerId: { type: 'string', __mia_configuration: { type: 'ObjectId' } },
      roles: { type: 'array', items: { type: 'string' } },
      logins: { type: 'array', items: { type: 'string', format: 'date-time' } },
      items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'number' } } } },
      profile: {
        type: 'object',
        properties: { city: { type: 'string' }, zip: { type: 'number' } },
        required: ['city'],
        additionalProperties: false,
      },
      meta: { type: 'object' },
      nickname: { type: 'string', nullable: true },
    },
    required: ['email'],
  },
  indexes: [
    { name: 'email_1', unique: true, fields: [{ name: 'email', order: 1 }] },
    {
      name: 'name_level',
      unique: true,
      fields: [
        { name: 'name', order: 1 },
        { name: 'level', order: 1 },
      ],
      partialFilterExpression: { level: { $exists: true } },
    },
  ],
}

/** PUBLIC default, string (UUID) ids, default sorting, a non-partial unique index on an optional field. */
export const CONFIG: CrudCollectionDefinition = {
  endpointBasePath: '/ums/config',
  name: 'ums_config',
  idType: 'string',
  defaultState: 'PUBLIC',
  defaultSorting: { key: 1 },
  schema: {
    type: 'object',
    properties: { key: { type: 'string' }, value: { type: 'string' }, code: { type: 'string' } },
    required: ['key'],
  },
  indexes: [{ name: 'code_1', unique: true, fields: [{ name: 'code', order: 1 }] }],
}

export type Answer = FetchAnswer

export interface CallOptions {
  body?: unknown
  /** Sent verbatim (for malformed JSON tests). */
  rawBody?: string
  headers?: Record<string, string>
  query?: Record<string, string | string[]>
  signal?: AbortSignal
}

export function caller(baseUrl: () => string) {
  return async (method: string, path: string, options: CallOptions = {}): Promise<Answer> => {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(options.query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) search.append(name, item)
    }
    const url = `${baseUrl()}${path}${search.size > 0 ? `?${search.toString()}` : ''}`
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
    const headers = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers }
    return readAnswer(await fetch(url, { method, headers, body: payload, signal: options.signal }))
  }
}

/**
 * A CRUD emulator serving `collections` for the file (or describe block): started before all its
 * tests, reset before each one, closed after; `call` sends to it.
 */
export function useCrudEmulator(collections: CrudCollectionDefinition[]) {
  const emulator = new CrudEmulator({ collections })
  beforeAll(async () => {
    await emulator.start(0)
  })
  afterAll(async () => {
    await emulator.close()
  })
  beforeEach(() => {
    emulator.reset()
  })
  return { emulator, call: caller(() => emulator.url) }
}

/** `_q` value for a filter object. */
export const q = (filter: unknown) => JSON.stringify(filter)

export const HEX24 = /^[0-9a-f]{24}$/
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

export function badRequest(message: string, code?: string) {
  return code === undefined
    ? { statusCode: 400, error: 'Bad Request', message }
    : { statusCode: 400, error: 'Bad Request', message, code }
}

export const unknownQueryParam = (name: string) =>
  badRequest(`querystring must NOT have additional properties. Property "${name}" is not defined in validation schema`)
